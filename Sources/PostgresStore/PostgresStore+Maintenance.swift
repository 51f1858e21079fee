// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation
    internal import NIOCore
    internal import PostgresNIO
    public import Storage
    public import WorkflowModel

    extension PostgresStore {
        /// One maintenance pass (DESIGN.md §1): ended leases, step timeouts, retention, in
        /// transactions of at most ``StoreOptions/maintenanceBatchSize`` entries each.
        ///
        /// One host at a time: the pass holds a session-level advisory lock
        /// (``Schema/maintenanceLock``) on one connection; a host that cannot take it skips the pass.
        /// If that host dies, PostgreSQL ends its session and the lock with it. Each scan reads a
        /// partial index (`lease_due`, `deadline`, `finished_at`) from its oldest entry and stops at
        /// the first that has not expired, so a pass costs what expires, not the size of the database.
        public func runMaintenance() throws(StoreError) -> MaintenanceReport {
            let now = options.clock()
            var report = MaintenanceReport()
            let session: Session
            do throws(SQLFailure) { session = try pool.borrow() } catch { throw error.storeError }
            defer { pool.giveBack(session) }
            do throws(SQLFailure) {
                let rows = try session.query("SELECT pg_try_advisory_lock(\(Schema.maintenanceLock))")
                let locked: Bool = try Self.scalar(rows) ?? false
                guard locked else {
                    report.skipped = true
                    return report
                }
            } catch {
                throw error.storeError
            }
            defer { _ = try? session.query("SELECT pg_advisory_unlock(\(Schema.maintenanceLock))") }
            while try maintenanceBatch(
                on: session, report: &report,
                { session throws in
                    try self.expireLeases(now: now, session: session)
                })
            {}
            let timeoutCutoff = now.adding(milliseconds: -options.stepTimeout)
            while try maintenanceBatch(
                on: session, report: &report,
                { session throws in
                    try self.expireDeadlines(before: timeoutCutoff, now: now, session: session)
                })
            {}
            let retentionCutoff = now.adding(milliseconds: -options.retention)
            while try maintenanceBatch(
                on: session, report: &report,
                { session throws in
                    try self.deleteFinished(before: retentionCutoff, session: session)
                })
            {}
            while try maintenanceBatch(
                on: session, report: &report,
                { session throws in
                    try self.pruneDeliveries(before: retentionCutoff, session: session)
                })
            {}
            return report
        }

        /// Runs one batch in its own transaction on the pass's session (which holds the lock).
        /// - Returns: true when more expired entries may remain.
        private func maintenanceBatch(
            on session: Session, report: inout MaintenanceReport,
            _ body: (Session) throws -> (more: Bool, delta: MaintenanceReport)
        ) throws(StoreError) -> Bool {
            var attempt = 0
            while true {
                attempt += 1
                do {
                    session.send("BEGIN")
                    let (more, delta) = try body(session)
                    session.send("SELECT pg_notify(\(Schema.changeChannel), '')")
                    let commit = try session.query("COMMIT")
                    guard commit.metadata.command == "COMMIT" else {
                        throw SQLFailure.store(.failed("a maintenance transaction was rolled back at commit"))
                    }
                    listener.noteLocalCommit()
                    report.add(delta)
                    report.transactions += 1
                    return more
                } catch {
                    if !session.isBroken { _ = try? session.query("ROLLBACK") }
                    let failure = SQLFailure.classify(error)
                    if case .retry = failure, attempt < configuration.maxTransactionAttempts { continue }
                    if let refusal = error as? WorkflowError { throw .failed("maintenance: \(refusal)") }
                    throw failure.storeError
                }
            }
        }

        /// Workflow IDs and step ordinals of the first entries of a partial index, at most a batch.
        private func expiredSteps(_ condition: String, order: String, cutoff: Int64, session: Session) throws -> [(
            id: Int64, ordinal: Int
        )] {
            var binds = PostgresBindings()
            binds.append(cutoff)
            binds.append(Int64(options.maintenanceBatchSize))
            let rows = try session.query(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT workflow_id, ordinal FROM bomflow_step WHERE \(condition) ORDER BY \(order) LIMIT $2",
                    binds: binds))
            var found: [(Int64, Int)] = []
            for row in rows {
                let (id, ordinal): (Int64, Int16) = try Self.decoding {
                    let cells = Cells(row)
                    return (try cells[0], try cells[1])
                }
                found.append((id, Int(ordinal)))
            }
            return found
        }

        /// Loads each owning workflow once (locked), lets `change` act on the named steps, and saves it.
        private func changeOwners(
            of entries: [(id: Int64, ordinal: Int)], session: Session, now: Timestamp,
            _ change: (inout Workflow, [Int]) throws -> Bool
        ) throws {
            var order: [Int64] = []
            var ordinals: [Int64: [Int]] = [:]
            for entry in entries {
                if ordinals[entry.id] == nil { order.append(entry.id) }
                ordinals[entry.id, default: []].append(entry.ordinal)
            }
            for id in order {
                guard let loaded = try Self.load(id: id, session: session, lock: true) else { continue }
                var workflow = loaded.workflow
                let named = (ordinals[id] ?? []).filter { $0 < workflow.steps.count }
                if try change(&workflow, named) {
                    workflow.version += 1
                    try save(workflow, replacing: loaded, by: .maintenance, session: session, now: now)
                }
            }
        }

        private func expireLeases(now: Timestamp, session: Session) throws -> (more: Bool, delta: MaintenanceReport) {
            var delta = MaintenanceReport()
            let entries = try expiredSteps(
                "lease_due <= $1", order: "lease_due", cutoff: now.milliseconds, session: session)
            try changeOwners(of: entries, session: session, now: now) { workflow, ordinals in
                delta.applyLeaseExpiry(to: &workflow, at: ordinals, maxAttempts: options.maxAttempts, now: now)
            }
            return (entries.count == options.maintenanceBatchSize, delta)
        }

        private func expireDeadlines(before cutoff: Timestamp, now: Timestamp, session: Session) throws -> (
            more: Bool, delta: MaintenanceReport
        ) {
            var delta = MaintenanceReport()
            let entries = try expiredSteps(
                "deadline < $1 AND step NOT IN (SELECT step FROM bomflow_queue_pause)", order: "deadline",
                cutoff: cutoff.milliseconds, session: session)
            delta.deadlineEntriesVisited = entries.count
            try changeOwners(of: entries, session: session, now: now) { workflow, ordinals in
                delta.applyDeadlines(to: &workflow, at: ordinals, before: cutoff, now: now)
            }
            return (entries.count == options.maintenanceBatchSize, delta)
        }

        /// Retention: deletes finished workflows older than `cutoff` in one batch, by the
        /// `finished_at` index; workflows another transaction holds wait for the next pass.
        private func deleteFinished(before cutoff: Timestamp, session: Session) throws -> (
            more: Bool, delta: MaintenanceReport
        ) {
            var delta = MaintenanceReport()
            let rows = try session.query(
                """
                SELECT id, token FROM bomflow_workflow WHERE finished_at < \(cutoff.milliseconds)
                ORDER BY finished_at LIMIT \(Int64(options.maintenanceBatchSize)) FOR UPDATE SKIP LOCKED
                """)
            var ids: [Int64] = []
            var tokens: [UUID] = []
            for row in rows {
                let (id, token): (Int64, UUID) = try Self.decoding {
                    let cells = Cells(row)
                    return (try cells[0], try cells[1])
                }
                ids.append(id)
                tokens.append(token)
            }
            delta.finishedEntriesVisited = ids.count
            if !ids.isEmpty {
                session.send("DELETE FROM \"WORKFLOW_STATE\" WHERE \"TOKEN\" = ANY(\(tokens))")
                session.send("DELETE FROM bomflow_workflow WHERE id = ANY(\(ids))")
                delta.deleted = ids.count
            }
            return (ids.count == options.maintenanceBatchSize, delta)
        }

        // MARK: API keys

        public func addAPIKey(digest: [UInt8], name: String, permissions: UInt8) throws(StoreError) -> Bool {
            var buffer = ByteBuffer()
            buffer.writeBytes(digest)
            let now = options.clock().milliseconds
            return try transaction { session throws(SQLFailure) in
                let rows = try session.query(
                    """
                    INSERT INTO bomflow_api_key (name, digest, permissions, created_at)
                    VALUES (\(name), \(buffer), \(Int16(permissions)), \(now)) ON CONFLICT (name) DO NOTHING RETURNING name
                    """)
                return rows.first != nil
            }
        }

        public func apiKey(digest: [UInt8]) throws(StoreError) -> APIKeyRecord? {
            var buffer = ByteBuffer()
            buffer.writeBytes(digest)
            return try read { session throws(SQLFailure) in
                let rows = try session.query(
                    "SELECT name, permissions, created_at FROM bomflow_api_key WHERE digest = \(buffer)")
                guard let row = rows.first else { return nil }
                return try Self.decoding { try Self.decodeKey(Cells(row)) }
            }
        }

        public func apiKeys() throws(StoreError) -> [APIKeyRecord] {
            try read { session throws(SQLFailure) in
                let rows = try session.query(
                    "SELECT name, permissions, created_at FROM bomflow_api_key ORDER BY name COLLATE \"C\"")
                var keys: [APIKeyRecord] = []
                for row in rows { keys.append(try Self.decoding { try Self.decodeKey(Cells(row)) }) }
                return keys
            }
        }

        public func revokeAPIKey(name: String) throws(StoreError) -> Bool {
            try transaction { session throws(SQLFailure) in
                try session.query("DELETE FROM bomflow_api_key WHERE name = \(name) RETURNING name").first != nil
            }
        }

        private static func decodeKey(_ cells: Cells) throws -> APIKeyRecord {
            let permissions: Int16 = try cells[1]
            return APIKeyRecord(name: try cells[0], permissions: UInt8(clamping: permissions), createdAt: try cells[2])
        }

        // MARK: Figures

        /// Counts for `/metrics`. Processing workflows, BOMs and projects are counted exactly (a
        /// partial index, small tables); the total of workflows is PostgreSQL's estimate
        /// (`pg_class.reltuples`, kept by autovacuum), because an exact `count(*)` reads the table.
        /// ``WorkflowStorage/throughput(since:)``: the partial index of finished workflows, at most
        /// ``Throughput/visitLimit`` rows.
        public func throughput(since: Timestamp) throws(StoreError) -> Throughput {
            try read { session throws(SQLFailure) in
                let rows = try session.query(
                    """
                    SELECT (f.finished_at / 60000) * 60000, count(*) FROM (
                        SELECT finished_at FROM bomflow_workflow WHERE finished_at >= \(since.milliseconds)
                        ORDER BY finished_at LIMIT \(Int64(Throughput.visitLimit) + 1)) f
                    GROUP BY 1
                    """)
                var result = Throughput()
                var total = 0
                for row in rows {
                    let (minute, count): (Int64, Int64) = try Self.decoding {
                        let cells = Cells(row)
                        return (try cells[0], try cells[1])
                    }
                    result.perMinute[minute] = Int(count)
                    total += Int(count)
                }
                if total > Throughput.visitLimit { result.complete = false }
                return result
            }
        }

        public func cheapFigures() throws(StoreError) -> CheapFigures {
            try read { session throws(SQLFailure) in
                let rows = try session.query(
                    """
                    SELECT (SELECT count(*) FROM bomflow_workflow WHERE processing),
                        (SELECT GREATEST(reltuples, 0)::BIGINT FROM pg_class WHERE oid = 'bomflow_workflow'::regclass),
                        (SELECT count(*) FROM bomflow_step WHERE deadline IS NOT NULL),
                        (SELECT count(*) FROM bomflow_bom),
                        (SELECT COALESCE(sum(octet_length(content)), 0)::BIGINT FROM bomflow_bom),
                        (SELECT count(*) FROM bomflow_project)
                    """)
                var figures = CheapFigures()
                guard let row = rows.first else { return figures }
                try Self.decoding {
                    let cells = Cells(row)
                    let processing: Int64 = try cells[0]
                    let estimate: Int64 = try cells[1]
                    let deadlines: Int64 = try cells[2]
                    let boms: Int64 = try cells[3]
                    let bytes: Int64 = try cells[4]
                    let projects: Int64 = try cells[5]
                    figures.processing = Int(processing)
                    figures.workflows = Int(max(estimate, processing))
                    figures.done = figures.workflows - figures.processing
                    figures.deadlineEntries = Int(deadlines)
                    figures.boms = Int(boms)
                    figures.bomBytes = Int(bytes)
                    figures.projects = Int(projects)
                }
                return figures
            }
        }
    }
#endif
