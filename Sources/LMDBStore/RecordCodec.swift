internal import Storage
internal import WorkflowModel

/// The compact binary records of the `workflows` and `steps` databases (docs/STORAGE.md).
/// Each record starts with a record version byte so that a later format can add fields.
enum RecordCodec {
    static let recordVersion: UInt8 = 1
    /// Workflow records: version 2 has the token status at offset 1 (the poll reads that one
    /// byte) and appends the concurrency key and the held flag.
    static let workflowRecordVersion: UInt8 = 2
    /// Offset of the token status in a version-2 workflow record.
    static let workflowStatusOffset = 1

    static func code(_ status: TokenStatus) -> UInt8 {
        switch status {
        case .pending: 1
        case .running: 2
        case .completed: 3
        case .failed: 4
        }
    }

    static func tokenStatus(_ code: UInt8) throws(StoreError) -> TokenStatus {
        switch code {
        case 1: .pending
        case 2: .running
        case 3: .completed
        case 4: .failed
        default: throw .corrupted("unknown token status code \(code)")
        }
    }

    // MARK: Status and template codes (stable: they are on disk)

    static func code(_ status: StepStatus) -> UInt8 {
        switch status {
        case .pending: 0
        case .timedOut: 1
        case .completed: 2
        case .failed: 3
        case .cancelled: 4
        case .notApplicable: 5
        }
    }

    static func status(_ code: UInt8) throws(StoreError) -> StepStatus {
        switch code {
        case 0: .pending
        case 1: .timedOut
        case 2: .completed
        case 3: .failed
        case 4: .cancelled
        case 5: .notApplicable
        default: throw .corrupted("unknown status code \(code)")
        }
    }

    /// True when the status code stored at ``stepStatusOffset`` is `PENDING` or `TIMED_OUT`.
    static func isNonTerminal(code: UInt8) -> Bool { code <= 1 }

    /// Offset of the status byte in a step record.
    static let stepStatusOffset = 1

    static func code(_ template: Template?) -> UInt8 {
        switch template {
        case nil: 0
        case .bomUpload: 1
        case .reanalysis: 2
        case .projectClone: 3
        case .policyBundleSync: 4
        }
    }

    static func template(_ code: UInt8) throws(StoreError) -> Template? {
        switch code {
        case 0: nil
        case 1: .bomUpload
        case 2: .reanalysis
        case 3: .projectClone
        case 4: .policyBundleSync
        default: throw .corrupted("unknown template code \(code)")
        }
    }

    // MARK: Workflow record

    /// The workflow's metadata: everything but the steps, which have rows of their own.
    static func encodeWorkflow(_ workflow: Workflow) -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.append(workflowRecordVersion)
        writer.append(code(workflow.tokenStatus))
        writer.append(workflow.token.high)
        writer.append(workflow.token.low)
        writer.append(UInt64(bitPattern: workflow.createdAt.milliseconds))
        writer.append(workflow.version)
        writer.append(code(workflow.template))
        writer.append(UInt8(workflow.definitionStepCount))
        writer.append(workflow.createdBy == nil ? UInt8(0) : 1)
        if let createdBy = workflow.createdBy { writer.appendString(createdBy) }
        writer.append(UInt8(workflow.labels.count))
        for label in workflow.labels {
            writer.appendString(label.key)
            writer.appendString(label.value)
        }
        let hasPriority = workflow.priority != Workflow.defaultPriority
        writer.append(
            UInt8((workflow.concurrencyKey == nil ? 0 : 1) | (workflow.isHeld ? 2 : 0) | (hasPriority ? 4 : 0)))
        if let key = workflow.concurrencyKey { writer.appendString(key) }
        if hasPriority { writer.append(UInt8(clamping: workflow.priority)) }
        return writer.bytes
    }

    /// The metadata of a workflow record, with no steps yet.
    static func decodeWorkflow(_ span: Span<UInt8>) throws(StoreError) -> Workflow {
        var reader = ByteReader()
        let version = try reader.uint8(span)
        guard version == 1 || version == workflowRecordVersion else {
            throw .corrupted("workflow record version \(version)")
        }
        if version >= 2 { _ = try tokenStatus(try reader.uint8(span)) }  // derived from the steps
        let token = Token(high: try reader.uint64(span), low: try reader.uint64(span))
        let createdAt = Timestamp(milliseconds: try reader.int64(span))
        let changeVersion = try reader.uint64(span)
        let template = try template(try reader.uint8(span))
        let definitionCount = Int(try reader.uint8(span))
        let createdBy = try reader.uint8(span) == 1 ? try reader.string(span) : nil
        let labelCount = Int(try reader.uint8(span))
        var dictionary: [String: String] = [:]
        for _ in 0..<labelCount {
            let key = try reader.string(span)
            dictionary[key] = try reader.string(span)
        }
        let labels: Labels
        do { labels = try Labels(dictionary) } catch { throw .corrupted("stored labels: \(error)") }
        var concurrencyKey: String?
        var isHeld = false
        var priority = Workflow.defaultPriority
        if version >= 2 {
            let flags = try reader.uint8(span)
            if flags & 1 != 0 { concurrencyKey = try reader.string(span) }
            isHeld = flags & 2 != 0
            // Format 5: the priority, when it is not the default.
            if flags & 4 != 0 { priority = Int(try reader.uint8(span)) }
        }
        return Workflow(
            token: token, createdAt: createdAt, template: template, createdBy: createdBy, labels: labels,
            version: changeVersion, definitionStepCount: definitionCount, steps: [], concurrencyKey: concurrencyKey,
            isHeld: isHeld, priority: priority)
    }

    // MARK: Step record

    private enum StepFlag {
        static let started: UInt8 = 1
        static let reason: UInt8 = 2
        static let progress: UInt8 = 4
        static let parent: UInt8 = 8
        static let claim: UInt8 = 16
        static let attempts: UInt8 = 32
        static let readyAt: UInt8 = 64
        /// The step's `deadlines` entry is filed at an earlier time than its `updatedAt` (format 8).
        static let filed: UInt8 = 128
    }

    /// A step row. `filedAt`: when the step's `deadlines` entry is filed at a time other than its
    /// `updatedAt` (lazy filing, ``LMDBStore/deadlineFiling(from:deadlines:filed:to:now:)``), that time.
    static func encodeStep(_ step: Step, parentOrdinal: Int?, filedAt: Timestamp? = nil) -> [UInt8] {
        var writer = ByteWriter(capacity: 48)
        writer.append(recordVersion)
        writer.append(code(step.status))
        writer.append(code(step.createdAs))
        var flags: UInt8 = 0
        if step.startedAt != nil { flags |= StepFlag.started }
        if step.failureReason != nil { flags |= StepFlag.reason }
        if step.progress != nil { flags |= StepFlag.progress }
        if parentOrdinal != nil { flags |= StepFlag.parent }
        if step.claim != nil { flags |= StepFlag.claim }
        if step.attempts > 0 { flags |= StepFlag.attempts }
        if step.readyAt != nil { flags |= StepFlag.readyAt }
        if filedAt != nil { flags |= StepFlag.filed }
        writer.append(flags)
        writer.append(UInt8(parentOrdinal ?? 0))
        writer.append(UInt64(bitPattern: step.updatedAt.milliseconds))
        if let startedAt = step.startedAt { writer.append(UInt64(bitPattern: startedAt.milliseconds)) }
        writer.appendShortString(step.name.rawValue)
        if let reason = step.failureReason { writer.appendString(reason) }
        if let progress = step.progress {
            writer.append(progress.expected == nil ? UInt8(0) : 1)
            writer.append(UInt64(bitPattern: progress.expected ?? 0))
            writer.append(UInt64(bitPattern: progress.completed))
            writer.append(UInt64(bitPattern: progress.failed))
            writer.append(progress.failureThreshold.bitPattern)
        }
        if step.attempts > 0 { writer.append(UInt16(clamping: step.attempts)) }
        if let claim = step.claim {
            writer.appendShortString(claim.worker)
            writer.append(UInt16(clamping: claim.attempt))
            writer.append(UInt64(bitPattern: claim.leaseExpiresAt.milliseconds))
        }
        if let readyAt = step.readyAt { writer.append(UInt64(bitPattern: readyAt.milliseconds)) }
        if let filedAt { writer.append(UInt64(bitPattern: filedAt.milliseconds)) }
        return writer.bytes
    }

    /// The filing time of a step row (``StepFlag/filed``: the last 8 bytes), without decoding the rest.
    static func filedAt(_ span: Span<UInt8>) throws(StoreError) -> Timestamp? {
        guard span.count >= 12, span[0] == recordVersion else { throw .corrupted("step record") }
        guard span[3] & StepFlag.filed != 0 else { return nil }
        var reader = ByteReader(offset: span.count - 8)
        return Timestamp(milliseconds: try reader.int64(span))
    }

    /// A decoded step row; the parent is an ordinal that the loader resolves to a name.
    struct StoredStep {
        var step: Step
        var parentOrdinal: Int?
    }

    static func decodeStep(_ span: Span<UInt8>) throws(StoreError) -> StoredStep {
        var reader = ByteReader()
        let version = try reader.uint8(span)
        guard version == recordVersion else { throw .corrupted("step record version \(version)") }
        let status = try Self.status(try reader.uint8(span))
        let createdAs = try Self.status(try reader.uint8(span))
        let flags = try reader.uint8(span)
        let parentOrdinal = Int(try reader.uint8(span))
        let updatedAt = Timestamp(milliseconds: try reader.int64(span))
        let startedAt = flags & StepFlag.started != 0 ? Timestamp(milliseconds: try reader.int64(span)) : nil
        let rawName = try reader.shortString(span)
        guard let name = StepName(rawName) else { throw .corrupted("invalid stored step name \(rawName)") }
        let reason = flags & StepFlag.reason != 0 ? try reader.string(span) : nil
        var progress: Progress?
        if flags & StepFlag.progress != 0 {
            let hasExpected = try reader.uint8(span) == 1
            let expected = try reader.int64(span)
            let completed = try reader.int64(span)
            let failed = try reader.int64(span)
            let threshold = Double(bitPattern: try reader.uint64(span))
            progress = Progress(
                expected: hasExpected ? expected : nil, completed: completed, failed: failed,
                failureThreshold: threshold)
        }
        var step = Step(
            name: name, status: status, startedAt: startedAt, updatedAt: updatedAt, failureReason: reason,
            progress: progress, createdAs: createdAs)
        if flags & StepFlag.attempts != 0 { step.attempts = Int(try reader.uint16(span)) }
        if flags & StepFlag.claim != 0 {
            let worker = try reader.shortString(span)
            let attempt = Int(try reader.uint16(span))
            step.claim = Claim(
                worker: worker, attempt: attempt, leaseExpiresAt: Timestamp(milliseconds: try reader.int64(span)))
        }
        if flags & StepFlag.readyAt != 0 { step.readyAt = Timestamp(milliseconds: try reader.int64(span)) }
        // A filing time (StepFlag.filed) may follow: the index's business, read by `filedAt(_:)`.
        return StoredStep(step: step, parentOrdinal: flags & StepFlag.parent != 0 ? parentOrdinal : nil)
    }
}
