internal import JSON
public import Storage
public import WorkflowModel

/// Moving whole stores: `bomflow export` and `bomflow import` on any ``WorkflowStorage`` backend.
/// The CLI does the file I/O; this does the paging, the batching and the tallies.
public enum WorkflowTransfer {
    /// Writes every workflow as JSON Lines, oldest first, in pages of `pageSize` read in short
    /// transactions; `write` gets about 1 MiB at a time. - Returns: the workflows written.
    public static func export(
        from store: any WorkflowStorage, pageSize: Int = 1000, write: ([UInt8]) throws -> Void
    ) throws -> Int {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var count = 0
        var cursor: UInt64?
        repeat {
            let page = try store.exportPage(after: cursor, limit: pageSize)
            for workflow in page.workflows {
                buffer.append(contentsOf: WorkflowExchange.encode(workflow))
                buffer.append(0x0A)
            }
            count += page.workflows.count
            if buffer.count >= 1 << 20 {
                try write(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
            cursor = page.nextCursor
        } while cursor != nil
        try write(buffer)
        return count
    }

    /// What an import did.
    public struct Tally: Sendable, Equatable {
        public var imported = 0
        public var unchanged = 0
        public var conflicts = 0
        public var invalid = 0

        /// The `{"imported","unchanged","conflicts","invalid","seconds"}` line `bomflow import` prints.
        public func json(seconds: Double) -> [UInt8] {
            JSONWriter.object { json in
                json.member("imported", Int64(imported))
                json.member("unchanged", Int64(unchanged))
                json.member("conflicts", Int64(conflicts))
                json.member("invalid", Int64(invalid))
                json.member("seconds", double: (seconds * 1000).rounded() / 1000)
            }
        }
    }

    /// Imports workflows in transactions of `batch`: idempotent (an identical stored workflow
    /// counts as unchanged), a token stored with other content is a conflict and left alone, a
    /// refused workflow is reported with its line and the rest goes on.
    public struct Importer {
        let store: any WorkflowStorage
        let batch: Int
        let report: (Int, String) -> Void
        /// Counts so far.
        public private(set) var tally = Tally()
        private var pending: [(line: Int, workflow: Workflow)] = []

        /// `report(line, message)` is called for every refused line or workflow.
        public init(into store: any WorkflowStorage, batch: Int, report: @escaping (Int, String) -> Void) {
            self.store = store
            self.batch = batch
            self.report = report
        }

        /// Adds a workflow read at `line`; writes a transaction when `batch` are pending.
        public mutating func add(_ workflow: Workflow, line: Int) throws(ImportFailure) {
            pending.append((line, workflow))
            if pending.count >= batch { try flush() }
        }

        /// Counts a line that could not be read as a workflow.
        public mutating func refuse(line: Int, _ message: String) {
            tally.invalid += 1
            report(line, message)
        }

        /// Writes what is pending.
        public mutating func flush() throws(ImportFailure) {
            guard !pending.isEmpty else { return }
            let results: [Result<WriteOutcome, WorkflowError>]
            do {
                results = try store.perform(pending.map { .importWorkflow($0.workflow) })
            } catch {
                throw ImportFailure(line: pending[0].line, error: error)
            }
            for (entry, result) in zip(pending, results) {
                switch result {
                case .success(.created): tally.imported += 1
                case .success: tally.unchanged += 1
                case .failure(.conflictingDefinition(let token)):
                    tally.conflicts += 1
                    report(entry.line, "token \(token) is stored with different content; left unchanged")
                case .failure(let refusal):
                    tally.invalid += 1
                    report(entry.line, refusal.description)
                }
            }
            pending.removeAll(keepingCapacity: true)
        }
    }

    /// The store failed while importing: nothing of the transaction starting at `line` was written.
    public struct ImportFailure: Error, CustomStringConvertible {
        public let line: Int
        public let error: StoreError
        public var description: String { "import stopped at line \(line): \(error)" }
    }
}
