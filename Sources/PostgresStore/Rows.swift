// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation
    internal import NIOCore
    internal import PostgresNIO
    internal import Storage
    internal import WorkflowModel

    /// How workflows map onto rows: Hyades' `WORKFLOW_STATE` holds each step's name, status,
    /// failure reason, parent and times; `bomflow_step` what Hyades has no column for (ordinal,
    /// created status, progress, claim, attempts, ready time) and the derived columns the partial
    /// indexes serve (`claimable_since`: the ready queue; `deadline`: timeouts; `lease_due`: ended
    /// leases); `bomflow_workflow` the workflow's metadata and what the poll reads.
    struct StepRow: Equatable {
        var name: String
        var status: String
        var failureReason: String?
        var startedAt: Int64?
        var updatedAt: Int64
        var parent: String?
        var createdAs: String
        var progressExpected: Int64?
        var progressCompleted: Int64?
        var progressFailed: Int64?
        var progressThreshold: Double?
        var claimWorker: String?
        var claimAttempt: Int32?
        var claimLease: Int64?
        var attempts: Int32
        var readyAt: Int64?
        var claimableSince: Int64?
        var deadline: Int64?
        var leaseDue: Int64?

        /// The row of step `ordinal` of `workflow`, with its derived columns.
        init(_ workflow: Workflow, _ ordinal: Int) {
            let step = workflow.steps[ordinal]
            name = step.name.rawValue
            status = step.status.rawValue
            failureReason = step.failureReason
            startedAt = step.startedAt?.milliseconds
            updatedAt = step.updatedAt.milliseconds
            parent = step.parent?.rawValue
            createdAs = step.createdAs.rawValue
            progressExpected = step.progress?.expected
            progressCompleted = step.progress?.completed
            progressFailed = step.progress?.failed
            progressThreshold = step.progress?.failureThreshold
            claimWorker = step.claim?.worker
            claimAttempt = step.claim.map { Int32(clamping: $0.attempt) }
            claimLease = step.claim?.leaseExpiresAt.milliseconds
            attempts = Int32(clamping: step.attempts)
            readyAt = step.readyAt?.milliseconds
            let processing = workflow.isProcessing
            let ready = workflow.isReady(ordinal)
            claimableSince =
                processing && ready && step.claim == nil ? (step.readyAt ?? step.updatedAt).milliseconds : nil
            deadline = processing && (step.status == .timedOut || ready) ? step.updatedAt.milliseconds : nil
            leaseDue = processing ? step.claim?.leaseExpiresAt.milliseconds : nil
        }

        /// The differences that need `WORKFLOW_STATE` written (the rest is `bomflow_step`'s).
        func sameState(as other: StepRow) -> Bool {
            name == other.name && status == other.status && failureReason == other.failureReason
                && startedAt == other.startedAt && updatedAt == other.updatedAt && parent == other.parent
        }
    }

    /// A workflow as loaded: its row ID and its steps' `WORKFLOW_STATE` IDs, in ordinal order.
    struct LoadedWorkflow {
        var id: Int64
        var workflow: Workflow
        var stateIDs: [Int64]
    }

    enum Rows {
        /// Epoch milliseconds of a `TIMESTAMPTZ` column, exactly (PostgreSQL 14+: `extract` is numeric).
        static func milliseconds(_ column: String) -> String {
            "(extract(epoch FROM \(column)) * 1000)::BIGINT"
        }

        static func uuid(_ token: Token) -> UUID {
            let b = token.bytes
            return UUID(
                uuid: (
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
                )
            )
        }

        static func token(_ uuid: UUID) -> Token {
            let u = uuid.uuid
            let high = [u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = [u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return Token(high: high, low: low)
        }

        static func tokenStatusCode(_ status: TokenStatus) -> Int16 {
            Int16(TokenStatus.allCases.firstIndex(of: status) ?? 0)
        }

        static func tokenStatus(_ code: Int16) throws(StoreError) -> TokenStatus {
            guard code >= 0, Int(code) < TokenStatus.allCases.count else {
                throw .corrupted("token status \(code)")
            }
            return TokenStatus.allCases[Int(code)]
        }

        /// The columns the workflow queries select, in the order ``decodeWorkflows(_:)`` reads them.
        static let workflowColumns = """
            w.id, w.token, w.created_at, w.template, w.created_by, w.label_keys, w.label_values, w.version,
            w.definition_step_count, w.concurrency_key, w.held,
            b.state_id, s."STEP", s."STATUS", s."FAILURE_REASON", \(milliseconds("s.\"STARTED_AT\"")),
            \(milliseconds("s.\"UPDATED_AT\"")), p."STEP", b.created_as, b.progress_expected, b.progress_completed,
            b.progress_failed, b.progress_threshold, b.claim_worker, b.claim_attempt, b.claim_lease_expires_at,
            b.attempts, b.ready_at, w.priority
            """

        /// The joins under ``workflowColumns``.
        static let workflowJoins = """
            bomflow_workflow w JOIN bomflow_step b ON b.workflow_id = w.id
            JOIN "WORKFLOW_STATE" s ON s."ID" = b.state_id
            LEFT JOIN "WORKFLOW_STATE" p ON p."ID" = s."PARENT_STEP_ID"
            """

        /// Workflows from rows of ``workflowColumns`` ordered by workflow, then ordinal.
        static func decodeWorkflows(_ rows: some Sequence<PostgresRow>) throws(StoreError) -> [LoadedWorkflow] {
            var loaded: [LoadedWorkflow] = []
            var current: (header: Header, steps: [Step], ids: [Int64])?
            func finish() throws(StoreError) {
                guard let (header, steps, ids) = current else { return }
                let workflow = Workflow(
                    token: header.token, createdAt: Timestamp(milliseconds: header.createdAt),
                    template: header.template,
                    createdBy: header.createdBy, labels: header.labels, version: UInt64(max(0, header.version)),
                    definitionStepCount: header.definitionStepCount, steps: steps,
                    concurrencyKey: header.concurrencyKey,
                    isHeld: header.held, priority: header.priority)
                loaded.append(LoadedWorkflow(id: header.id, workflow: workflow, stateIDs: ids))
            }
            do {
                for row in rows {
                    let cells = Cells(row)
                    let id: Int64 = try cells[0]
                    if current?.header.id != id {
                        try finish()
                        current = (try header(cells, id: id), [], [])
                    }
                    current?.steps.append(try step(cells, from: 11))
                    current?.ids.append(try cells[11])
                }
            } catch let error as StoreError {
                throw error
            } catch {
                throw .corrupted("a workflow row could not be decoded: \(error)")
            }
            try finish()
            return loaded
        }

        private struct Header {
            var id: Int64
            var token: Token
            var createdAt: Int64
            var template: Template?
            var createdBy: String?
            var labels: Labels
            var version: Int64
            var definitionStepCount: Int
            var concurrencyKey: String?
            var held: Bool
            var priority: Int
        }

        private static func header(_ cells: Cells, id: Int64) throws -> Header {
            let keys: [String] = try cells[5]
            let values: [String] = try cells[6]
            guard keys.count == values.count else { throw StoreError.corrupted("labels of workflow \(id)") }
            var dictionary: [String: String] = [:]
            for (key, value) in zip(keys, values) { dictionary[key] = value }
            let labels: Labels
            do { labels = try Labels(dictionary) } catch {
                throw StoreError.corrupted("labels of workflow \(id): \(error)")
            }
            let templateName: String? = try cells[3]
            var template: Template?
            if let templateName {
                guard let known = Template(rawValue: templateName) else {
                    throw StoreError.corrupted("template \(templateName) of workflow \(id)")
                }
                template = known
            }
            let definitionCount: Int32 = try cells[8]
            let priority: Int16 = try cells[28]
            return Header(
                id: id, token: token(try cells[1]), createdAt: try cells[2], template: template,
                createdBy: try cells[4],
                labels: labels, version: try cells[7], definitionStepCount: Int(definitionCount),
                concurrencyKey: try cells[9], held: try cells[10], priority: Int(priority))
        }

        /// A step from the columns of ``workflowColumns`` starting at `base` (the state ID).
        private static func step(_ cells: Cells, from base: Int) throws -> Step {
            let rowID: Int64 = try cells[base]
            let nameText: String = try cells[base + 1]
            let statusText: String = try cells[base + 2]
            let createdText: String = try cells[base + 7]
            guard let name = StepName(nameText), let status = StepStatus(rawValue: statusText),
                let createdAs = StepStatus(rawValue: createdText)
            else { throw StoreError.corrupted("step row \(rowID): \(nameText) \(statusText)") }
            var parent: StepName?
            let parentText: String? = try cells[base + 6]
            if let parentText {
                guard let parsed = StepName(parentText) else {
                    throw StoreError.corrupted("parent of step row \(rowID)")
                }
                parent = parsed
            }
            let completed: Int64? = try cells[base + 9]
            let expected: Int64? = try cells[base + 8]
            let failed: Int64? = try cells[base + 10]
            let threshold: Double? = try cells[base + 11]
            let progress = completed.map {
                Progress(expected: expected, completed: $0, failed: failed ?? 0, failureThreshold: threshold)
            }
            let startedAt: Int64? = try cells[base + 4]
            var step = Step(
                name: name, parent: parent, status: status, startedAt: startedAt.map(Timestamp.init(milliseconds:)),
                updatedAt: Timestamp(milliseconds: try cells[base + 5]), failureReason: try cells[base + 3],
                progress: progress, createdAs: createdAs)
            let worker: String? = try cells[base + 12]
            let attempt: Int32? = try cells[base + 13]
            let lease: Int64? = try cells[base + 14]
            if let worker, let attempt, let lease {
                step.claim = Claim(
                    worker: worker, attempt: Int(attempt), leaseExpiresAt: Timestamp(milliseconds: lease))
            }
            let attempts: Int32 = try cells[base + 15]
            step.attempts = Int(attempts)
            let readyAt: Int64? = try cells[base + 16]
            step.readyAt = readyAt.map(Timestamp.init(milliseconds:))
            return step
        }
    }

    /// Typed access to a row's columns by position.
    struct Cells {
        let row: PostgresRandomAccessRow

        init(_ row: PostgresRow) { self.row = row.makeRandomAccess() }

        /// The cell at `index` decoded as `T`. Every result comes in the binary format: postgres-nio
        /// asks for it in each Bind message, but the rows of a named prepared statement
        /// (``Session/run(prepared:_:)``) carry the text format code of the statement's Describe,
        /// so the format is set here before decoding.
        subscript<T: PostgresDecodable>(_ index: Int) -> T {
            get throws {
                var cell = row[index]
                cell.format = .binary
                return try cell.decode(T.self)
            }
        }
    }
#endif
