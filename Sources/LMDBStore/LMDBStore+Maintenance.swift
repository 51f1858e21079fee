internal import LMDB
public import Storage
internal import WorkflowModel

extension LMDBStore {
    /// Runs one maintenance pass: ended leases, step timeouts, then retention (DESIGN.md §1).
    ///
    /// - Leases: a cursor scan of the `leases` index up to `now`; each ended lease puts its step
    ///   back into its ready queue, or fails it after ``StoreOptions/maxAttempts`` claims.
    /// - Timeouts: a cursor scan of the `deadlines` index (ready `PENDING` and `TIMED_OUT`
    ///   steps by `updatedAt`) from the oldest entry up to `now - stepTimeout`. `PENDING` →
    ///   `TIMED_OUT` (re-indexed at `now`); `TIMED_OUT` → `FAILED` "Timed out" with the cascade.
    /// - Retention: a cursor scan of the `finished` index (done workflows by newest update) up to
    ///   `now - retention`; each workflow found is deleted with all its entries.
    ///
    /// Both scans stop at the first entry that has not expired, so a pass costs what expires,
    /// not the size of the database. Work is done in write transactions of at most
    /// ``StoreOptions/maintenanceBatchSize`` entries; between two batches a writer waiting for the
    /// lock goes first (`Environment.write` hands it over: LMDB's writer mutex is not fair). Only
    /// one process of the host runs a pass at a time: the pass holds a lease record in the `meta`
    /// database; a process that finds another one's unexpired lease skips the pass
    /// (``MaintenanceReport/skipped``).
    ///
    /// - Throws: ``StoreError``; what was committed in earlier batches stays.
    public func runMaintenance() throws(StoreError) -> MaintenanceReport {
        let now = options.clock()
        var report = MaintenanceReport()
        guard try acquireMaintenanceLease(now: now) else {
            report.skipped = true
            return report
        }
        // A release that fails leaves the lease to expire by itself (StoreOptions.maintenanceLease):
        // the next pass of any process starts then, so nothing is lost by not throwing here.
        defer { try? releaseMaintenanceLease() }
        while try expireLeases(now: now, report: &report) {}
        let timeoutCutoff = timeoutCutoff(now: now)
        var position: [UInt8]?
        while let next = try expireDeadlines(before: timeoutCutoff, after: position, now: now, report: &report) {
            position = next
        }
        let retentionCutoff = now.adding(milliseconds: -options.retention)
        while try deleteFinished(before: retentionCutoff, now: now, report: &report) {}
        while try pruneDeliveries(before: retentionCutoff, now: now, report: &report) {}
        return report
    }

    /// The ordered timestamp at the start of a `deadlines`/`finished` key.
    static func keyTime(_ key: [UInt8]) -> Timestamp {
        Timestamp(milliseconds: Int64(bitPattern: loadUInt64(key, at: 0) ^ (1 << 63)))
    }

    /// The first keys of `database` whose leading timestamp is before `cutoff`, at most `limit`.
    /// - Returns: the keys and how many entries were read (including one boundary entry).
    func expiredKeys(
        in database: Database, before cutoff: Timestamp, limit: Int, after position: [UInt8]? = nil,
        txn: borrowing WriteTransaction
    ) throws -> (keys: [[UInt8]], visited: Int) {
        try txn.withCursor(database) { cursor in
            var keys: [[UInt8]] = []
            var visited = 0
            var more: Bool
            if let position {
                more = try cursor.seek(atOrAfter: position)
                if more, cursor.key == position { more = try cursor.next() }
            } else {
                more = try cursor.first()
            }
            while more, keys.count < limit {
                let key = cursor.key
                visited += 1
                guard key.count >= 16, Self.keyTime(key) < cutoff else { break }
                keys.append(key)
                more = try cursor.next()
            }
            return (keys, visited)
        }
    }

    /// One batch of timeouts, after `position` (the last key of the batch before). Entries of
    /// paused queues stay where they are, so the scan moves past them rather than starting from
    /// the first entry again. - Returns: the batch's last key when more expired entries may remain.
    private func expireDeadlines(
        before cutoff: Timestamp, after position: [UInt8]?, now: Timestamp, report: inout MaintenanceReport
    ) throws(StoreError) -> [UInt8]? {
        let batch = options.maintenanceBatchSize
        let (last, delta) = try write { txn -> ([UInt8]?, MaintenanceReport) in
            try renewMaintenanceLease(now: now, in: txn)
            var delta = MaintenanceReport()
            let paused = try pausedQueues(in: txn)
            let (keys, visited) = try expiredKeys(
                in: databases.deadlines, before: cutoff, limit: batch, after: position, txn: txn)
            delta.deadlineEntriesVisited = visited
            try changeOwners(of: keys, in: .deadlines, txn: txn, now: now) { workflow, ordinals in
                delta.applyDeadlines(to: &workflow, at: ordinals, before: cutoff, now: now, paused: paused)
            }
            return (keys.count == batch ? keys.last : nil, delta)
        }
        report.add(delta)
        report.transactions += 1
        return last
    }

    /// One batch of ended leases (`leases` index up to `now`). - Returns: true when more may remain.
    private func expireLeases(now: Timestamp, report: inout MaintenanceReport) throws(StoreError) -> Bool {
        let batch = options.maintenanceBatchSize
        let (more, delta) = try write { txn -> (Bool, MaintenanceReport) in
            try renewMaintenanceLease(now: now, in: txn)
            var delta = MaintenanceReport()
            let (keys, _) = try expiredKeys(
                in: databases.leases, before: now.adding(milliseconds: 1), limit: batch, txn: txn)
            try changeOwners(of: keys, in: .leases, txn: txn, now: now) { workflow, ordinals in
                delta.applyLeaseExpiry(to: &workflow, at: ordinals, maxAttempts: options.maxAttempts, now: now)
            }
            return (keys.count == batch, delta)
        }
        report.add(delta)
        report.transactions += 1
        return more
    }

    /// For entries of a step-keyed index (`deadlines`, `leases`: time (8) ‖ workflow ID (8) ‖
    /// ordinal (1)): loads each owning workflow once, lets `change` act on the steps its entries
    /// name, saves it when `change` reports a change (version bumped, indexes diffed), re-files
    /// the due `deadlines` entries of steps active since they were filed (``deadlineFiling(from:deadlines:filed:to:now:)``),
    /// and drops every visited entry the workflow's state does not call for, so a pass always
    /// progresses.
    private func changeOwners(
        of keys: [[UInt8]], in table: IndexTable, txn: borrowing WriteTransaction, now: Timestamp,
        _ change: (inout Workflow, [Int]) throws -> Bool
    ) throws {
        let database = database(table)
        var order: [UInt64] = []
        var ordinals: [UInt64: [Int]] = [:]
        for key in keys {
            guard key.count == 17 else {
                try txn.delete(key, in: database)
                continue
            }
            let id = loadUInt64(key, at: 8)
            if ordinals[id] == nil { order.append(id) }
            ordinals[id, default: []].append(Int(key[16]))
        }
        for id in order {
            let visitedKeys = keys.filter { $0.count == 17 && loadUInt64($0, at: 8) == id }
            guard let original = try loadWorkflow(id: id, in: txn) else {
                // An entry without a row cannot come from save(); drop it.
                for key in visitedKeys { try txn.delete(key, in: database) }
                continue
            }
            var workflow = original
            let named = (ordinals[id] ?? []).filter { $0 < workflow.steps.count }
            if try change(&workflow, named) {
                workflow.version += 1
                try save(workflow, id: id, replacing: original, by: .maintenance, in: txn, now: now)
            }
            var filed = try filedTimes(at: Self.deadlineOrdinals(of: workflow), id: id, in: txn)
            if table == .deadlines, !filed.isEmpty {
                filed = try refileDeadlines(of: workflow, id: id, filed: filed, now: now, in: txn)
            }
            let expected = Set(indexEntries(of: workflow, id: id, filed: filed))
            for key in visitedKeys where !expected.contains(IndexEntry(table: table, key: key)) {
                try txn.delete(key, in: database)
            }
        }
    }

    /// One batch of retention. - Returns: true when more expired workflows may remain.
    private func deleteFinished(before cutoff: Timestamp, now: Timestamp, report: inout MaintenanceReport)
        throws(StoreError) -> Bool
    {
        let batch = options.maintenanceBatchSize
        let (more, delta) = try write { txn -> (Bool, MaintenanceReport) in
            try renewMaintenanceLease(now: now, in: txn)
            var delta = MaintenanceReport()
            let (keys, visited) = try expiredKeys(in: databases.finished, before: cutoff, limit: batch, txn: txn)
            delta.finishedEntriesVisited = visited
            for key in keys {
                let id = Keys.trailingID(key)
                if let workflow = try loadWorkflow(id: id, in: txn), !workflow.isProcessing {
                    try remove(workflow, id: id, in: txn, now: now)
                    delta.deleted += 1
                } else {
                    try txn.delete(key, in: databases.finished)
                }
            }
            return (keys.count == batch, delta)
        }
        report.add(delta)
        report.transactions += 1
        return more
    }

    // MARK: The host-wide maintenance lease

    private func leaseRecord(now: Timestamp) -> [UInt8] {
        var writer = ByteWriter(capacity: 16)
        writer.append(ownerID)
        writer.append(UInt64(bitPattern: now.adding(milliseconds: options.maintenanceLease).milliseconds))
        return writer.bytes
    }

    /// Takes the lease unless another store instance holds an unexpired one.
    private func acquireMaintenanceLease(now: Timestamp) throws(StoreError) -> Bool {
        try write { txn in
            let holder: (owner: UInt64, expires: Int64)? =
                try txn.withValue(forKey: Keys.maintenanceLease, in: databases.meta) { span in
                    span.count == 16 ? (loadUInt64(span, at: 0), Int64(bitPattern: loadUInt64(span, at: 8))) : nil
                } ?? nil
            if let holder, holder.owner != ownerID, holder.expires > now.milliseconds { return false }
            try txn.put(leaseRecord(now: now), forKey: Keys.maintenanceLease, in: databases.meta)
            return true
        }
    }

    private func renewMaintenanceLease(now: Timestamp, in txn: borrowing WriteTransaction) throws {
        try txn.put(leaseRecord(now: now), forKey: Keys.maintenanceLease, in: databases.meta)
    }

    private func releaseMaintenanceLease() throws(StoreError) {
        try write { txn in
            let mine =
                try txn.withValue(forKey: Keys.maintenanceLease, in: databases.meta) { span in
                    span.count == 16 && loadUInt64(span, at: 0) == ownerID
                } ?? false
            if mine { try txn.delete(Keys.maintenanceLease, in: databases.meta) }
        }
    }
}
