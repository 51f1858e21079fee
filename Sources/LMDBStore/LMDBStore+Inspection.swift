internal import FoundationEssentials
internal import LMDB
public import Storage
public import WorkflowModel

#if canImport(Glibc)
    internal import Glibc
#endif

/// Counts and environment figures for `bomflow stats` and, later, `/metrics`.
public struct StoreStatistics: Sendable, Equatable {
    /// Workflows stored.
    public var workflows = 0
    /// Workflows with a `PENDING` or `TIMED_OUT` step.
    public var processing = 0
    /// Workflows whose steps are all terminal.
    public var done = 0
    /// Step rows by status.
    public var stepsByStatus: [StepStatus: Int] = [:]
    /// Entries in the `deadlines` index (ready `PENDING` and `TIMED_OUT` steps).
    public var deadlineEntries = 0
    /// BOMs stored with their workflows, and their bytes (the BOMs as uploaded).
    public var boms = 0
    public var bomBytes = 0
    /// Projects in the registry.
    public var projects = 0
    /// The map size in bytes (the most the data file can hold).
    public var mapSize = 0
    /// Bytes of the map in use.
    public var usedBytes = 0
    /// The page size in bytes.
    public var pageSize = 0
    /// The last committed transaction ID.
    public var lastTransactionID = 0
    /// Reader-table size.
    public var maxReaders = 0
    /// Live reader slots: `(pid, transaction ID or nil when idle)`.
    public var readers: [ReaderSlot] = []
    /// Stale reader slots this process cleared (at open and since).
    public var staleReadersCleared = 0
    /// The stored format version.
    public var formatVersion = LMDBStore.formatVersion

    /// One slot of the reader table.
    public struct ReaderSlot: Sendable, Equatable {
        /// The process that holds the slot.
        public var pid: Int32
        /// The snapshot it reads, or nil for an idle (reset) slot.
        public var transactionID: Int?
    }
}

extension LMDBStore {
    /// Counts workflows and steps and reads the environment's figures.
    ///
    /// Step counts come from a scan of all step rows, done in read transactions of at most
    /// 50,000 rows each so that no reader lives long (L3). Meant for the CLI; a server
    /// should keep counters instead.
    public func statistics() throws(StoreError) -> StoreStatistics {
        var stats = StoreStatistics()
        let figures = try cheapFigures()
        stats.workflows = figures.workflows
        stats.processing = figures.processing
        stats.done = figures.done
        stats.deadlineEntries = figures.deadlineEntries
        (stats.boms, stats.bomBytes, stats.projects) = (figures.boms, figures.bomBytes, figures.projects)
        stats.mapSize = figures.mapSize
        stats.usedBytes = figures.usedBytes
        stats.lastTransactionID = figures.lastTransactionID
        stats.staleReadersCleared = figures.staleReadersCleared
        do {
            let info = try environment.info()
            stats.pageSize = info.pageSize
            stats.maxReaders = info.maxReaders
            stats.readers = try environment.readers().map {
                StoreStatistics.ReaderSlot(pid: $0.pid, transactionID: $0.transactionID)
            }
        } catch {
            throw Self.storeError(error)
        }

        var resume: [UInt8]? = nil
        repeat {
            resume = try read { txn in
                try txn.withCursor(databases.steps) { cursor in
                    var more = if let resume { try cursor.seek(atOrAfter: resume + [0]) } else { try cursor.first() }
                    var rows = 0
                    while more {
                        // Step rows only (9-byte keys), not the events after them.
                        let status = try cursor.withCurrent { key, value in
                            key.count == 9 ? try RecordCodec.status(value[RecordCodec.stepStatusOffset]) : nil
                        }
                        if let status { stats.stepsByStatus[status, default: 0] += 1 }
                        rows += 1
                        if rows == 50_000 { return cursor.key }
                        more = try cursor.next()
                    }
                    return nil
                }
            }
        } while resume != nil
        return stats
    }

    /// Clears reader slots left by dead processes (`mdb_reader_check`); a server calls this
    /// every 10 s (L1). - Returns: the number of slots cleared.
    @discardableResult
    public func clearStaleReaders() throws(StoreError) -> Int {
        do { return try environment.checkStaleReaders() } catch { throw Self.storeError(error) }
    }

    /// ``WorkflowStorage/identity``: `lmdb:` and the device and inode of the data directory, as
    /// the environment found them when it opened (a path can differ by symlinks or bind mounts;
    /// the directory cannot).
    public var identity: String {
        let directory = environment.directoryIdentity
        return "lmdb:\(directory.device):\(directory.inode)"
    }

    /// ``WorkflowStorage/housekeep()``: clears reader slots of dead processes (L1).
    public func housekeep() throws(StoreError) -> Int { try clearStaleReaders() }

    /// ``WorkflowStorage/releaseIdleReaders()``: resets the kept snapshots that are old or were
    /// not used since the last call, of threads not reading now (`Environment.releaseIdleReaders`).
    public func releaseIdleReaders() { environment.releaseIdleReaders() }

    /// How many threads of this process keep a read snapshot (for tests).
    package var keptSnapshots: Int { environment.keptSnapshots }

    /// Writes a compacted, consistent copy of the store into the empty directory
    /// `destination` while other processes keep working (`mdb_env_copyfd2` with `MDB_CP_COMPACT`)
    /// into `data.mdb.partial` (mode 0600), syncs it, and only then renames it to `data.mdb` and
    /// syncs the directory: a backup killed midway leaves no file restore would take, and a
    /// backup that a power cut can take away is no backup.
    public func backup(to destination: String) throws(StoreError) {
        let partial = destination + "/data.mdb.partial"
        let final = destination + "/data.mdb"
        do { try environment.copy(toNewFile: partial, compact: true) } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw Self.storeError(error)
        }
        do {
            // Only a complete, synced copy gets the name restore looks for (issue 16 §4).
            try FileManager.default.moveItem(atPath: partial, toPath: final)
            try Self.synchronize(destination)
        } catch {
            throw .failed("cannot complete the backup in \(destination): \(error)")
        }
    }

    /// Bytes of the map in use and the map size (for a "storage nearly full" alarm).
    public func mapUsage() throws(StoreError) -> (used: Int, size: Int) {
        do {
            let info = try environment.info()
            return (info.usedBytes, info.mapSize)
        } catch { throw Self.storeError(error) }
    }

    /// Checks every invariant between rows and indexes and returns what is wrong (empty when
    /// all hold): each token maps to a workflow whose record names that token; each workflow's
    /// step rows decode and form a tree; each index entry is one the workflow's state calls for,
    /// and each entry the state calls for exists. Reads everything in one transaction: for
    /// tests and `bomflow` diagnostics on small stores.
    public func verifyIntegrity() throws(StoreError) -> [String] {
        try read { txn in
            var problems: [String] = []
            var expected: Set<IndexEntry> = []
            var expectedQueues: [String: [(id: UInt64, held: Bool)]] = [:]
            var expectedCounts: [StepName: (ready: Int64, claimed: Int64)] = [:]
            var bomBytes = 0
            var ids: [UInt64] = []
            try txn.withCursor(databases.workflows) { cursor in
                var more = try cursor.first()
                while more {
                    let (id, valueCount) = cursor.withCurrent { key, value in (loadUInt64(key, at: 0), value.count) }
                    ids.append(id)
                    if valueCount != 0 { problems.append("the workflows entry of \(id) carries a value (format 8)") }
                    more = try cursor.next()
                }
            }
            var tokens = 0
            for id in ids {
                guard let workflow = try loadWorkflow(id: id, in: txn) else {
                    problems.append("workflow \(id) is listed in workflows but has no record in steps")
                    continue
                }
                if try workflowID(for: workflow.token, in: txn) != id {
                    problems.append("token \(workflow.token) does not map to workflow \(id)")
                }
                let entryStatus = try txn.withValue(forKey: workflow.token.bytes, in: databases.tokens) { span in
                    span.count == Keys.tokenEntryCount ? span[8] : nil
                }
                if case .some(.none) = entryStatus {
                    problems.append(
                        "the token entry of \(workflow.token) has no status (written by a format-6 bomflow)")
                }
                if let code = entryStatus ?? nil, code != RecordCodec.code(workflow.tokenStatus) {
                    problems.append(
                        "the token entry of \(workflow.token) records status \(code), its steps say \(workflow.tokenStatus)"
                    )
                }
                if workflow.steps.isEmpty { problems.append("workflow \(workflow.token) has no steps") }
                let names = Set(workflow.steps.map(\.name))
                if names.count != workflow.steps.count { problems.append("workflow \(workflow.token) repeats a step") }
                for step in workflow.steps {
                    if let parent = step.parent, !names.contains(parent) {
                        problems.append("\(workflow.token)/\(step.name): parent \(parent) missing")
                    }
                    // FAILED needs a reason; CANCELLED may carry the reason of a cancel.
                    if step.status == .failed
                        ? step.failureReason == nil
                        : step.failureReason != nil && step.status != .cancelled
                    {
                        problems.append("\(workflow.token)/\(step.name): failureReason does not match \(step.status)")
                    }
                }
                for index in workflow.steps.indices where workflow.steps[index].status.cascadesCancellation {
                    for descendant in workflow.descendants(of: index)
                    where !workflow.steps[descendant].status.isTerminal {
                        problems.append(
                            "\(workflow.token)/\(workflow.steps[descendant].name) is active under a \(workflow.steps[index].status) ancestor"
                        )
                    }
                }
                let deadlines = Self.deadlineOrdinals(of: workflow)
                let filed = try filedTimes(at: deadlines, id: id, in: txn)
                for (ordinal, time) in filed where time >= workflow.steps[ordinal].updatedAt {
                    problems.append(
                        "\(workflow.token)/\(workflow.steps[ordinal].name): deadline filed at \(time.milliseconds), not before its last activity"
                    )
                }
                for ordinal in Set(workflow.steps.indices).subtracting(deadlines) {
                    let stray = try txn.withValue(forKey: Keys.step(id, ordinal), in: databases.steps) { span in
                        try RecordCodec.filedAt(span) != nil
                    }
                    if stray == true {
                        problems.append(
                            "\(workflow.token)/\(workflow.steps[ordinal].name): a filing time without a deadline")
                    }
                }
                expected.formUnion(indexEntries(of: workflow, id: id, filed: filed))
                for member in Self.queueMembership(of: workflow) {
                    expectedCounts[member.name, default: (0, 0)].ready += member.ready
                    expectedCounts[member.name, default: (0, 0)].claimed += member.claimed
                }
                let recorded = try withWorkflowRecord(id: id, in: txn) { span in
                    span.count > RecordCodec.workflowStatusOffset && span[0] >= RecordCodec.workflowRecordVersion
                        ? span[RecordCodec.workflowStatusOffset] : nil
                }
                if let code = recorded ?? nil, code != RecordCodec.code(workflow.tokenStatus) {
                    problems.append(
                        "\(workflow.token) records token status \(code), its steps say \(workflow.tokenStatus)")
                }
                if let key = workflow.concurrencyKey, workflow.isProcessing {
                    expectedQueues[key, default: []].append((id, workflow.isHeld))
                } else if workflow.isHeld {
                    problems.append("\(workflow.token) is held but not queued")
                }
                if let summary = try bomSummary(id: id, in: txn) { bomBytes += summary.size }
            }
            try txn.withCursor(databases.tokens) { cursor in
                var more = try cursor.first()
                while more {
                    tokens += 1
                    more = try cursor.next()
                }
            }
            if tokens != ids.count { problems.append("\(tokens) tokens but \(ids.count) workflows") }
            var found: Set<IndexEntry> = []
            for table in [IndexTable.processing, .done, .deadlines, .finished, .labels, .ready, .leases] {
                try txn.withCursor(database(table)) { cursor in
                    var more = try cursor.first()
                    while more {
                        found.insert(IndexEntry(table: table, key: cursor.key))
                        more = try cursor.next()
                    }
                }
            }
            for entry in expected.subtracting(found) { problems.append("missing \(entry.table) entry \(entry.key)") }
            for entry in found.subtracting(expected) { problems.append("stray \(entry.table) entry \(entry.key)") }
            problems += try queueProblems(expectedQueues, in: txn)
            problems += try bomAndProjectProblems(bomBytes: bomBytes, workflowIDs: Set(ids), in: txn)
            problems += try stepsTreeProblems(workflowIDs: Set(ids), in: txn)
            problems += try outboxProblems(in: txn)
            problems += try queueCountProblems(expectedCounts, in: txn)
            return problems
        }
    }
}

// MARK: Test hooks (package access: the store driver and tests only)

extension LMDBStore {
    /// How often this process adopted a map grown by another process (`MDB_MAP_RESIZED`).
    package var mapResizeCount: Int { environment.mapResizeCount }

    /// Begins a read transaction, calls `onStart`, and never ends it: a process killed here
    /// leaves a stale reader slot (RELIABILITY.md T3).
    package func holdReadTransactionForever(onStart: () -> Void) -> Never {
        _ = try? environment.read { _ in
            onStart()
            while true { sleep(3600) }
        }
        fatalError("unreachable")
    }

    /// Begins a write transaction, calls `onStart`, and never commits: a process killed here
    /// dies holding LMDB's write lock (RELIABILITY.md T4).
    package func holdWriteTransactionForever(onStart: () -> Void) -> Never {
        _ = try? environment.write { _ in
            onStart()
            while true { sleep(3600) }
        }
        fatalError("unreachable")
    }
}

extension LMDBStore {
    /// Entry counts from `mdb_stat` and the environment's figures; no scan.
    /// ``WorkflowStorage/throughput(since:)``: one cursor range of `finished` from `since`.
    public func throughput(since: Timestamp) throws(StoreError) -> Throughput {
        try read { txn in
            var result = Throughput()
            try txn.withCursor(databases.finished) { cursor in
                var more = try cursor.seek(atOrAfter: Keys.finished(since, 0))
                var visited = 0
                while more {
                    guard visited < Throughput.visitLimit else {
                        result.complete = false
                        break
                    }
                    visited += 1
                    let time: Int64 = cursor.withCurrent { key, _ in
                        Int64(bitPattern: loadUInt64(key, at: 0) ^ (1 << 63))
                    }
                    result.perMinute[Throughput.minute(of: Timestamp(milliseconds: time)), default: 0] += 1
                    more = try cursor.next()
                }
            }
            return result
        }
    }

    public func cheapFigures() throws(StoreError) -> CheapFigures {
        var figures = CheapFigures()
        do {
            let info = try environment.info()
            figures.mapSize = info.mapSize
            figures.usedBytes = info.usedBytes
            figures.lastTransactionID = info.lastTransactionID
            figures.readers = try environment.readers().count
            figures.staleReadersCleared = environment.staleReadersClearedTotal
            figures.writeLockHandOvers = environment.writeLockHandOvers
        } catch {
            throw Self.storeError(error)
        }
        try read { txn in
            figures.workflows = try txn.count(of: databases.workflows)
            figures.processing = try txn.count(of: databases.processing)
            figures.done = try txn.count(of: databases.done)
            figures.deadlineEntries = try txn.count(of: databases.deadlines)
            figures.boms = try txn.count(of: databases.boms)
            figures.projects = try txn.count(of: databases.projects)
            figures.bomBytes =
                try txn.withValue(forKey: Keys.bomBytes, in: databases.meta) { span in
                    span.count == 8 ? Int(clamping: loadUInt64(span, at: 0)) : 0
                } ?? 0
        }
        return figures
    }

    /// The `queues` entries are exactly the processing workflows with a concurrency key, and each
    /// non-empty queue has exactly one workflow that is not held.
    private func queueProblems(
        _ expected: [String: [(id: UInt64, held: Bool)]], in txn: borrowing ReadTransaction
    ) throws -> [String] {
        var problems: [String] = []
        var wanted: Set<[UInt8]> = []
        for (key, members) in expected {
            for member in members { wanted.insert(Keys.queue(key, member.id)) }
            let running = members.filter { !$0.held }.count
            if running != 1 { problems.append("queue \(key) has \(running) workflows that are not held, not 1") }
        }
        var found: Set<[UInt8]> = []
        try txn.withCursor(databases.queues) { cursor in
            var more = try cursor.first()
            while more {
                found.insert(cursor.key)
                more = try cursor.next()
            }
        }
        for key in wanted.subtracting(found) { problems.append("missing queue entry \(key)") }
        for key in found.subtracting(wanted) { problems.append("stray queue entry \(key)") }
        return problems
    }

    /// Each BOM belongs to a workflow and their bytes add up to the recorded total; each project
    /// has its name entry and each name entry its project.
    private func bomAndProjectProblems(
        bomBytes: Int, workflowIDs: Set<UInt64>, in txn: borrowing ReadTransaction
    ) throws -> [String] {
        var problems: [String] = []
        try txn.withCursor(databases.boms) { cursor in
            var more = try cursor.first()
            while more {
                let key = cursor.key
                if key.count != 8 || !workflowIDs.contains(loadUInt64(key, at: 0)) {
                    problems.append("BOM \(key) without a workflow")
                }
                more = try cursor.next()
            }
        }
        let recorded =
            try txn.withValue(forKey: Keys.bomBytes, in: databases.meta) { span in
                span.count == 8 ? Int(clamping: loadUInt64(span, at: 0)) : -1
            } ?? 0
        if recorded != bomBytes { problems.append("BOM bytes recorded \(recorded), stored \(bomBytes)") }
        var named: Set<Token> = []
        try txn.withCursor(databases.projectNames) { cursor in
            var more = try cursor.first()
            while more {
                let value = cursor.value
                if value.count == 16 {
                    named.insert(Token(high: loadUInt64(value, at: 0), low: loadUInt64(value, at: 8)))
                }
                more = try cursor.next()
            }
        }
        var projects = 0
        try txn.withCursor(databases.projects) { cursor in
            var more = try cursor.first()
            while more {
                let project = try cursor.withCurrent { _, value in try ProjectCodec.decode(value) }
                projects += 1
                if !named.contains(project.uuid) { problems.append("project \(project.uuid) has no name entry") }
                if try txn.value(
                    forKey: Keys.projectName(project.name, version: project.version), in: databases.projectNames)
                    != project.uuid.bytes
                {
                    problems.append("project \(project.uuid)'s name entry names another project")
                }
                more = try cursor.next()
            }
        }
        if named.count != projects { problems.append("\(named.count) project names but \(projects) projects") }
        return problems
    }
}
