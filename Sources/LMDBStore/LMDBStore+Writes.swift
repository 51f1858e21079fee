internal import LMDB
internal import Storage
internal import WorkflowModel

/// The write operations of a batch, each in the batch's one write transaction.
extension LMDBStore {
    func apply(_ operation: WriteOperation, by origin: Origin, in txn: borrowing WriteTransaction, now: Timestamp)
        throws -> WriteOutcome
    {
        switch operation {
        case .create(let token, let definition, let labels, let createdBy, let concurrencyKey):
            if let id = try workflowID(for: token, in: txn) {
                guard let existing = try loadWorkflow(id: id, in: txn) else {
                    throw StoreError.corrupted("token without workflow")
                }
                guard existing.hasDefinition(definition, labels: labels, concurrencyKey: concurrencyKey) else {
                    throw WorkflowError.conflictingDefinition(token)
                }
                return .alreadyExists(existing)
            }
            let workflow = try Workflow.make(
                token: token, definition: definition, labels: labels, createdBy: createdBy,
                concurrencyKey: concurrencyKey, now: now)
            return .created(try insert(workflow, by: origin, in: txn, now: now).0)
        case .upload(let upload):
            return try self.upload(upload, by: origin, in: txn, now: now)
        case .createProject(let draft):
            let (project, parent) = try createProject(draft, in: txn, now: now)
            return .projectCreated(project, parent: parent)
        case .deleteProject(let uuid):
            try deleteProject(uuid, in: txn)
            return .projectDeleted(uuid)
        case .addSteps(let token, let specs):
            return try change(token, by: origin, in: txn, now: now) { workflow throws(WorkflowError) in
                try workflow.addSteps(specs, now: now)
                return true
            }
        case .update(let token, let step, let command, let actor):
            return try change(token, by: origin, in: txn, now: now) { workflow throws(WorkflowError) in
                try workflow.apply(command, to: step, now: now, by: actor)
            }
        case .claim(let names, let worker, let lease, let max):
            return .claimed(
                try claim(names, worker: worker, leaseMilliseconds: lease, max: max, by: origin, now: now, in: txn))
        case .restart(let token, let step):
            return try change(token, by: origin, cause: .restart(step), in: txn, now: now) {
                workflow throws(WorkflowError) in
                try workflow.restart(from: step, now: now)
                return true
            }
        case .cancel(let token, let reason):
            return try change(token, by: origin, cause: .cancel(reason: reason), in: txn, now: now) {
                workflow throws(WorkflowError) in
                try workflow.cancel(reason: reason, now: now)
            }
        case .importWorkflow(var workflow):
            workflow.isHeld = false
            if let id = try workflowID(for: workflow.token, in: txn) {
                guard let existing = try loadWorkflow(id: id, in: txn) else {
                    throw StoreError.corrupted("token without workflow")
                }
                var candidate = workflow
                candidate.isHeld = existing.isHeld  // the store decides holding, not the file
                guard existing == candidate else { throw WorkflowError.conflictingDefinition(workflow.token) }
                return .alreadyExists(existing)
            }
            return .created(try insert(workflow, by: origin, cause: .imported, in: txn, now: now).0)
        case .delete(let token):
            guard let id = try workflowID(for: token, in: txn), let workflow = try loadWorkflow(id: id, in: txn) else {
                throw WorkflowError.unknownWorkflow(token)
            }
            try remove(workflow, id: id, in: txn, now: now)
            return .deleted(token)
        case .createWebhook, .updateWebhook, .deleteWebhook, .testWebhook, .redeliver:
            return try applyOutbox(operation, in: txn, now: now)
        case .pauseQueue(let name, let paused):
            return try pauseQueue(name, paused: paused, in: txn, now: now)
        case .attributed(let inner, let by):
            return try apply(inner, by: by, in: txn, now: now)
        }
    }

    /// Loads the workflow, lets `body` change it, and writes what changed (rows and index
    /// entries) with the version bumped. Writes nothing when `body` throws or reports no change.
    func change(
        _ token: Token, by origin: Origin, cause: HistoryCause = .change, in txn: borrowing WriteTransaction,
        now: Timestamp,
        _ body: (inout Workflow) throws(WorkflowError) -> Bool
    ) throws -> WriteOutcome {
        guard let id = try workflowID(for: token, in: txn), let original = try loadWorkflow(id: id, in: txn) else {
            throw WorkflowError.unknownWorkflow(token)
        }
        var workflow = original
        guard try body(&workflow) else { return .updated(original, changed: false) }
        workflow.version += 1
        return .updated(
            try save(workflow, id: id, replacing: original, by: origin, cause: cause, in: txn, now: now), changed: true)
    }

    /// Takes up to `max` entries of the `ready` index for `names`, the highest priority first and
    /// within one priority the longest-ready first (none of a paused queue), and
    /// claims each step (which moves it from `ready` to `leases` through ``save``).
    func claim(
        _ names: [StepName], worker: String, leaseMilliseconds: Int64, max: Int, by origin: Origin, now: Timestamp,
        in txn: borrowing WriteTransaction
    ) throws -> [ClaimedStep] {
        guard max >= 1 else { return [] }
        try Workflow.validateWorker(worker)
        try Workflow.validateLease(leaseMilliseconds)
        var candidates: [(key: [UInt8], since: [UInt8], id: UInt64, ordinal: Int)] = []
        for name in Set(names).subtracting(try pausedQueues(in: txn)) {
            let prefix = Keys.readyPrefix(name)
            try txn.withCursor(databases.ready) { cursor in
                var more = try cursor.seek(atOrAfter: prefix)
                var taken = 0
                while more, taken < max {
                    let key = cursor.key
                    guard key.count == prefix.count + Keys.readySuffixLength, key.starts(with: prefix) else { break }
                    // The order key: 100 − priority, then ready since.
                    candidates.append(
                        (
                            key, Array(key[prefix.count..<prefix.count + 9]), loadUInt64(key, at: prefix.count + 9),
                            Int(key[prefix.count + 17])
                        ))
                    taken += 1
                    more = try cursor.next()
                }
            }
        }
        // Across step names: higher priority first, then the longest ready.
        candidates.sort { $0.since.lexicographicallyPrecedes($1.since) }
        var claimed: [ClaimedStep] = []
        for candidate in candidates where claimed.count < max {
            guard let original = try loadWorkflow(id: candidate.id, in: txn),
                candidate.ordinal < original.steps.count
            else {
                try txn.delete(candidate.key, in: databases.ready)  // not derived from any state
                continue
            }
            var workflow = original
            let name = workflow.steps[candidate.ordinal].name
            guard let claim = try workflow.claim(name, worker: worker, leaseMilliseconds: leaseMilliseconds, now: now)
            else {
                try txn.delete(candidate.key, in: databases.ready)
                continue
            }
            workflow.version += 1
            try save(workflow, id: candidate.id, replacing: original, by: origin, in: txn, now: now)
            claimed.append(
                ClaimedStep(
                    token: workflow.token, step: name, labels: workflow.labels, claim: claim,
                    bom: try bomSummary(id: candidate.id, in: txn)))
        }
        return claimed
    }

    func allocateWorkflowID(in txn: borrowing WriteTransaction) throws -> UInt64 {
        let next =
            try txn.withValue(forKey: Keys.nextWorkflowID, in: databases.meta) { span in
                span.count == 8 ? loadUInt64(span, at: 0) : nil
            } ?? 1
        guard let current = next else { throw StoreError.corrupted("next-workflow-id record") }
        try txn.put(Keys.workflow(current + 1), forKey: Keys.nextWorkflowID, in: databases.meta)
        return current
    }

    /// Stores a new workflow under a new internal ID (create, import, upload).
    func insert(
        _ workflow: Workflow, by origin: Origin, cause: HistoryCause = .created, in txn: borrowing WriteTransaction,
        now: Timestamp
    ) throws -> (Workflow, UInt64) {
        let id = try allocateWorkflowID(in: txn)
        try txn.put(
            Keys.tokenEntry(id, workflow.tokenStatus), forKey: workflow.token.bytes, in: databases.tokens,
            options: .noOverwrite)
        return (try save(workflow, id: id, replacing: nil, by: origin, cause: cause, in: txn, now: now), id)
    }

    /// Writes `workflow`'s record, the step rows that differ from `original`, and the index
    /// entries: those `original` had and `workflow` has not are deleted, new ones put.
    ///
    /// A workflow with a concurrency key is queued under its key while it is processing: it is
    /// held when it enters a queue that is not empty (also a restarted one), and when the queue's
    /// runner (the one not held) leaves, the first workflow of the queue is released. So each non-empty
    /// queue has exactly one workflow that is not held (``verifyIntegrity()`` checks it).
    /// - Returns: the workflow as stored (``Workflow/isHeld`` decided here).
    @discardableResult
    func save(
        _ workflow: Workflow, id: UInt64, replacing original: Workflow?, by origin: Origin,
        cause: HistoryCause = .change, in txn: borrowing WriteTransaction, now: Timestamp
    ) throws -> Workflow {
        var workflow = workflow
        var releaseNextOf: String?
        if let key = workflow.concurrencyKey {
            let wasQueued = original?.isProcessing ?? false
            if workflow.isProcessing, !wasQueued {
                if try firstQueued(key, in: txn) != nil { workflow.hold(now: now) }
                try txn.put([], forKey: Keys.queue(key, id), in: databases.queues)
            } else if !workflow.isProcessing, wasQueued {
                // Only the queue's runner hands over; a held one that finished (an admin set its
                // steps) just leaves.
                if !workflow.isHeld { releaseNextOf = key }
                workflow.isHeld = false
                try txn.delete(Keys.queue(key, id), in: databases.queues)
            }
        }
        try write(workflow, id: id, replacing: original, by: origin, cause: cause, in: txn, now: now)
        if let key = releaseNextOf { try releaseNext(key, in: txn, now: now) }
        return workflow
    }

    /// Writes the record, the changed step rows and index entries, the change's events into the
    /// workflow's history, and the deliveries of the notifications the change causes (all in the
    /// same transaction).
    private func write(
        _ workflow: Workflow, id: UInt64, replacing original: Workflow?, by origin: Origin, cause: HistoryCause,
        in txn: borrowing WriteTransaction, now: Timestamp
    ) throws {
        try queueNotifications(from: original, to: workflow, id: id, in: txn, now: now)
        try adjustQueueCounts(from: original, to: workflow, in: txn)
        // The record sits in `steps` before the rows (format 9), on the leaf page an update
        // dirties anyway; `workflows` lists the IDs (empty values), written on create only.
        try txn.put(RecordCodec.encodeWorkflow(workflow), forKey: Keys.workflow(id), in: databases.steps)
        if original == nil { try txn.put([], forKey: Keys.workflow(id), in: databases.workflows) }
        // The poll answers from the token entry: rewritten only when the status changes (``insert``
        // wrote the first one).
        if let original, original.tokenStatus != workflow.tokenStatus {
            try txn.put(Keys.tokenEntry(id, workflow.tokenStatus), forKey: workflow.token.bytes, in: databases.tokens)
        }
        let hadDeadlines = original.map(Self.deadlineOrdinals) ?? []
        let filedBefore = try filedTimes(at: hadDeadlines, id: id, in: txn)
        let filedAfter = deadlineFiling(
            from: original, deadlines: hadDeadlines, filed: filedBefore, to: workflow, now: now)
        for (ordinal, step) in workflow.steps.enumerated() {
            if let original, ordinal < original.steps.count, original.steps[ordinal] == step,
                filedAfter[ordinal] == filedBefore[ordinal]
            {
                continue
            }
            let parentOrdinal = step.parent.flatMap { workflow.index(of: $0) }
            try txn.put(
                RecordCodec.encodeStep(step, parentOrdinal: parentOrdinal, filedAt: filedAfter[ordinal]),
                forKey: Keys.step(id, ordinal), in: databases.steps)
        }
        let after = indexEntries(of: workflow, id: id, filed: filedAfter)
        if let original {
            let before = Set(indexEntries(of: original, id: id, filed: filedBefore))
            let wanted = Set(after)
            for entry in before.subtracting(wanted) { try txn.delete(entry.key, in: database(entry.table)) }
            for entry in wanted.subtracting(before) { try txn.put([], forKey: entry.key, in: database(entry.table)) }
        } else {
            for entry in after { try txn.put([], forKey: entry.key, in: database(entry.table)) }
        }
        // After the step rows: the events follow them in `steps`, so a new workflow's keys are put
        // in key order at the tree's end and fill its pages (putting the event first made every
        // page split half-empty: 1.6x the file for 1M workflows).
        try appendHistory(
            HistoryEvent.events(from: original, to: workflow, by: origin, cause: cause, at: now), id: id, in: txn)
    }

    /// Deletes the workflow's token, record, step rows, index entries and BOM; a processing
    /// workflow leaves its key's queue (and, if it was the runner, releases the next).
    func remove(_ workflow: Workflow, id: UInt64, in txn: borrowing WriteTransaction, now: Timestamp) throws {
        // The filing times live in the step rows: read before the rows go.
        let filed = try filedTimes(at: Self.deadlineOrdinals(of: workflow), id: id, in: txn)
        let entries = indexEntries(of: workflow, id: id, filed: filed)
        try adjustQueueCounts(from: workflow, to: nil, in: txn)
        try txn.delete(workflow.token.bytes, in: databases.tokens)
        try txn.delete(Keys.workflow(id), in: databases.workflows)
        try txn.delete(Keys.workflow(id), in: databases.steps)
        for ordinal in workflow.steps.indices { try txn.delete(Keys.step(id, ordinal), in: databases.steps) }
        for entry in entries { try txn.delete(entry.key, in: database(entry.table)) }
        try deleteBOM(id: id, in: txn)
        try deleteHistory(id: id, in: txn)
        if let key = workflow.concurrencyKey, workflow.isProcessing {
            try txn.delete(Keys.queue(key, id), in: databases.queues)
            if !workflow.isHeld { try releaseNext(key, in: txn, now: now) }
        }
    }

    // MARK: Lazy deadline filing (format 8)

    /// Where the steps of the workflow after a change file their `deadlines` entries, for those
    /// filed at a time other than their `updatedAt`. A step that had an entry and keeps it in the
    /// same status keeps the entry where it is while that time is not due yet (not before now
    /// minus the step timeout): activity alone (a start, progress, a heartbeat, a claim) moves no
    /// entry, which saves the random `deadlines` pages of every such update. An entry is never
    /// filed later than the step's `updatedAt`, so no timeout is ever late; the maintenance scan
    /// checks the step itself (``MaintenanceReport/applyDeadlines(to:at:before:now:paused:)``)
    /// and re-files an entry it finds due on a step that has been active since
    /// (``refileDeadlines(of:id:filed:now:in:)``).
    /// `deadlines`: the original's ``deadlineOrdinals(of:)``; `filed`: their stored filing times.
    func deadlineFiling(
        from original: Workflow?, deadlines: [Int], filed: [Int: Timestamp], to workflow: Workflow, now: Timestamp
    ) -> [Int: Timestamp] {
        guard let original, !deadlines.isEmpty, workflow.isProcessing else { return [:] }
        let due = timeoutCutoff(now: now)
        let had = Set(deadlines)
        var kept: [Int: Timestamp] = [:]
        for ordinal in Self.deadlineOrdinals(of: workflow) where had.contains(ordinal) {
            let before = original.steps[ordinal]
            let after = workflow.steps[ordinal]
            guard before.name == after.name, before.status == after.status else { continue }
            let time = filed[ordinal] ?? before.updatedAt
            if time >= due, time < after.updatedAt { kept[ordinal] = time }
        }
        return kept
    }

    /// The stored filing times of the steps at `ordinals` (a workflow's ``deadlineOrdinals(of:)``)
    /// whose `deadlines` entry is not at their `updatedAt` (read from their rows).
    func filedTimes<T: TransactionReading & ~Copyable>(
        at ordinals: [Int], id: UInt64, in txn: borrowing T
    ) throws -> [Int: Timestamp] {
        var filed: [Int: Timestamp] = [:]
        for ordinal in ordinals {
            let time = try txn.withValue(forKey: Keys.step(id, ordinal), in: databases.steps) { span in
                try RecordCodec.filedAt(span)
            }
            if let time = time ?? nil { filed[ordinal] = time }
        }
        return filed
    }

    /// The step timeout's cutoff: a step last active before it times out, and a lazily filed
    /// entry before it is due.
    func timeoutCutoff(now: Timestamp) -> Timestamp { now.adding(milliseconds: -options.stepTimeout) }

    /// Moves each entry in `filed` that is due (before ``timeoutCutoff(now:)``) to its step's
    /// `updatedAt`, the step having been active since the entry was filed; the step's row drops
    /// the filing time. Nothing of the workflow changes (no version, no event).
    /// - Returns: the filing times that stay (not due yet).
    func refileDeadlines(
        of workflow: Workflow, id: UInt64, filed: [Int: Timestamp], now: Timestamp,
        in txn: borrowing WriteTransaction
    ) throws -> [Int: Timestamp] {
        let cutoff = timeoutCutoff(now: now)
        for (ordinal, time) in filed where time < cutoff {
            let step = workflow.steps[ordinal]
            try txn.delete(Keys.deadline(time, id, ordinal), in: databases.deadlines)
            try txn.put([], forKey: Keys.deadline(step.updatedAt, id, ordinal), in: databases.deadlines)
            let parentOrdinal = step.parent.flatMap { workflow.index(of: $0) }
            try txn.put(
                RecordCodec.encodeStep(step, parentOrdinal: parentOrdinal), forKey: Keys.step(id, ordinal),
                in: databases.steps)
        }
        return filed.filter { $0.value >= cutoff }
    }

    // MARK: Concurrency keys

    /// The ID of the first (earliest created) workflow queued under `key`.
    private func firstQueued(_ key: String, in txn: borrowing WriteTransaction) throws -> UInt64? {
        let prefix = Keys.queuePrefix(key)
        return try txn.withCursor(databases.queues) { cursor in
            guard try cursor.seek(atOrAfter: prefix) else { return nil }
            let key = cursor.key
            return key.count == prefix.count + 8 && key.starts(with: prefix) ? Keys.trailingID(key) : nil
        }
    }

    /// Releases the first workflow queued under `key` when it is held.
    private func releaseNext(_ key: String, in txn: borrowing WriteTransaction, now: Timestamp) throws {
        guard let first = try firstQueued(key, in: txn), let original = try loadWorkflow(id: first, in: txn),
            original.isHeld
        else { return }
        var workflow = original
        workflow.release(now: now)
        workflow.version += 1
        try write(
            workflow, id: first, replacing: original, by: .system("concurrency"), cause: .change, in: txn, now: now)
    }
}
