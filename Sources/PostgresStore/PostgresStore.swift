// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation
    internal import Logging
    internal import NIOCore
    internal import PostgresNIO
    public import Storage
    internal import Synchronization
    public import WorkflowModel

    /// The workflow state of DESIGN.md §1 on PostgreSQL, for several bomflow hosts sharing one
    /// database: Hyades' `WORKFLOW_STATE` table and bomflow's own tables beside it (``Schema``).
    ///
    /// Every ``perform(_:)`` batch is one transaction in `READ COMMITTED` with a row lock on each
    /// workflow it changes (`SELECT … FOR UPDATE` on `bomflow_workflow`), so changes to one workflow
    /// serialise across hosts while the model's rules run in Swift exactly as on LMDB. A batch that
    /// loses a race (deadlock, serialization failure, a unique key taken by a concurrent commit) is
    /// rolled back and run again from the start. Claims lock workflows `FOR UPDATE SKIP LOCKED`, so
    /// two hosts never hand out one step. Every commit notifies ``Schema/changeChannel``; the
    /// ``ChangeListener`` turns that into the change counter watches and waiting claims poll.
    ///
    /// All calls block the calling thread (the writer, a read worker, the waiters' thread, never a
    /// NIO event loop) on one of at most ``Configuration/poolSize`` connections.
    public final class PostgresStore: WorkflowStorage {
        /// Connection settings beside the URL.
        public struct Configuration: Sendable {
            /// Connections at most (`--store-pool`). Default 12: the 8 request threads and the 4
            /// writers of `serve` each hold one at a time.
            public var poolSize = 12
            /// `statement_timeout` of every connection, milliseconds. Default 5,000.
            public var statementTimeoutMilliseconds = 5_000
            /// How long a thread waits for a free connection before answering 503, seconds.
            public var acquireTimeout: Double = 5
            /// Attempts of a batch that keeps losing races before it fails with 503.
            public var maxTransactionAttempts = 8

            public init() {}
        }

        public let options: StoreOptions
        public let location: PostgresLocation
        let configuration: Configuration
        let pool: SessionPool
        let listener: ChangeListener
        /// Asks PostgreSQL every second whether it answers (``condition()``).
        let prober: Prober
        let logger = Logger(label: "bomflow.postgres")

        /// Connects, applies the migrations this build has (under an advisory lock) and starts
        /// listening for changes.
        ///
        /// - Throws: ``StoreError`` — `newerFormat` when the database has migrations newer than this
        ///   build, `unavailable` when PostgreSQL cannot be reached, `failed` otherwise.
        public init(
            location: PostgresLocation, options: StoreOptions = StoreOptions(),
            configuration: Configuration = Configuration()
        ) throws(StoreError) {
            guard options.stepTimeout > 0, options.retention > 0, options.maintenanceBatchSize > 0,
                options.maintenanceLease > 0
            else { throw .failed("step timeout, retention, batch size and lease must be positive") }
            self.options = options
            self.location = location
            self.configuration = configuration
            pool = try SessionPool(
                location: location, size: configuration.poolSize,
                statementTimeoutMilliseconds: configuration.statementTimeoutMilliseconds,
                acquireTimeout: configuration.acquireTimeout, logger: logger)
            listener = ChangeListener(pool: pool, logger: logger)
            prober = Prober(pool: pool)
            do throws(SQLFailure) {
                try pool.withSession { session throws(SQLFailure) in
                    try Self.migrate(session, readOnly: options.readOnly)
                }
            } catch {
                pool.close()
                throw error.storeError
            }
            listener.start()
            prober.start()
        }

        /// Stops listening and closes every connection.
        public func close() {
            listener.stop()
            prober.stop()
            pool.close()
        }

        deinit {
            close()
        }

        /// Applies the migrations the database lacks, one transaction each, under
        /// ``Schema/migrationLock``; refuses a database migrated further than this build knows.
        static func migrate(_ session: Session, readOnly: Bool) throws(SQLFailure) {
            _ = try session.query("SELECT pg_advisory_lock(\(Schema.migrationLock))")
            defer { _ = try? session.query("SELECT pg_advisory_unlock(\(Schema.migrationLock))") }
            try session.execute(script: Schema.bootstrap)
            let rows = try session.query("SELECT COALESCE(max(version), 0) FROM bomflow_migration")
            var applied: Int32 = 0
            if let row = rows.first {
                do { applied = try Cells(row)[0] } catch { throw .store(.corrupted("bomflow_migration: \(error)")) }
            }
            guard Int(applied) <= Schema.version else {
                throw .store(.newerFormat(found: UInt32(applied), supported: UInt32(Schema.version)))
            }
            guard Int(applied) < Schema.version else { return }
            guard !readOnly else {
                throw .store(
                    .failed(
                        "the database has schema version \(applied) of \(Schema.version); start `bomflow serve` once to migrate it"
                    ))
            }
            for version in Int(applied) + 1...Schema.version {
                let migration = Schema.migrations[version - 1]
                _ = try session.query("BEGIN")
                do throws(SQLFailure) {
                    try session.execute(script: migration.sql)
                    _ = try session.query(
                        "INSERT INTO bomflow_migration (version, description) VALUES (\(Int32(version)), \(migration.description))"
                    )
                    _ = try session.query("COMMIT")
                } catch {
                    _ = try? session.query("ROLLBACK")
                    throw error
                }
            }
        }

        // MARK: Running statements

        /// Runs a read on a pooled session; a session found broken (PostgreSQL restarted) is
        /// replaced and the read tried once more.
        func read<T>(_ body: (Session) throws(SQLFailure) -> T) throws(StoreError) -> T {
            var attempt = 0
            while true {
                attempt += 1
                do throws(SQLFailure) {
                    return try pool.withSession(body)
                } catch .broken(let why) where attempt == 1 {
                    logger.debug("retrying a read on a new connection: \(why)")
                    continue
                } catch {
                    throw error.storeError
                }
            }
        }

        /// Runs `body` in one transaction and commits it (notifying the change channel when
        /// `notify`); a lost race rolls back and runs `body` again, up to
        /// ``Configuration/maxTransactionAttempts`` times.
        func transaction<T>(notify: Bool = true, _ body: (Session) throws(SQLFailure) -> T) throws(StoreError) -> T {
            var attempt = 0
            while true {
                attempt += 1
                // Set once COMMIT is on its way: a connection lost from then on leaves the outcome
                // unknown (the commit may have happened), so the batch is not run again.
                var committing = false
                do throws(SQLFailure) {
                    let result = try pool.withSession { session throws(SQLFailure) in
                        session.lockedTokens.removeAll(keepingCapacity: true)
                        session.send("BEGIN")
                        do throws(SQLFailure) {
                            let result = try body(session)
                            if notify { session.send("SELECT pg_notify(\(Schema.changeChannel), '')") }
                            committing = true
                            let commit = try session.query("COMMIT")
                            guard commit.metadata.command == "COMMIT" else {
                                throw SQLFailure.store(.failed("the transaction was rolled back at commit"))
                            }
                            return result
                        } catch {
                            if !session.isBroken { _ = try? session.query("ROLLBACK") }
                            throw error
                        }
                    }
                    if notify { listener.noteLocalCommit() }
                    return result
                } catch .retry(let why) where attempt < configuration.maxTransactionAttempts {
                    // The server refused the transaction (also at COMMIT): nothing of it committed.
                    logger.debug("transaction retried: \(why)")
                    continue
                } catch .broken(let why) where attempt == 1 && !committing {
                    // A pooled connection that died before COMMIT was sent (e.g. PostgreSQL
                    // restarted): the server rolls the transaction back, so running it again is safe.
                    logger.debug("transaction retried on a new connection: \(why)")
                    continue
                } catch .broken(let why) where committing {
                    throw .unavailable(
                        "the connection to PostgreSQL was lost during COMMIT (\(why)); the write may or may not have been applied"
                    )
                } catch {
                    throw error.storeError
                }
            }
        }

        // MARK: WorkflowStorage: condition

        /// PostgreSQL is another server: the API runs requests off its event loops.
        public var callsMayBlock: Bool { true }

        /// ``WorkflowStorage/identity``: `postgres:` and the server, port and database (the URL
        /// without user and password; a unix socket by its directory).
        public var identity: String {
            "postgres:\(location.socketDirectory ?? location.host):\(location.port)/\(location.database)"
        }

        /// Whether PostgreSQL answers, as the prober last found (``Prober``: a `SELECT 1` every
        /// second on a connection of its own), so that a health check or scrape never waits for the
        /// database: readiness turns false while it is down or stops answering, true once it is back.
        public func condition() -> StorageCondition {
            var condition = StorageCondition()
            condition.unreachable = prober.unreachable
            return condition
        }

        public func writeLockHolder() -> (pid: Int32, since: Int64)? { nil }

        public func housekeep() throws(StoreError) -> Int { 0 }

        /// ``WorkflowStorage/releaseIdleReaders()``: nothing; a session keeps no snapshot between
        /// statements.
        public func releaseIdleReaders() {}

        // MARK: Reads

        public func workflow(_ token: Token) throws(StoreError) -> Workflow? {
            try read { session throws(SQLFailure) in try Self.load(token, session: session, lock: false)?.workflow }
        }

        public func isProcessing(_ token: Token) throws(StoreError) -> Bool {
            try read { session throws(SQLFailure) in
                let rows = try session.run(
                    prepared: "SELECT processing FROM bomflow_workflow WHERE token = $1",
                    [PostgresData(uuid: Rows.uuid(token))])
                guard let row = rows.first else { return false }
                return try Self.decoding { try Cells(row)[0] }
            }
        }

        public func tokenStatus(_ token: Token) throws(StoreError) -> TokenStatus? {
            try read { session throws(SQLFailure) -> TokenStatus? in
                try Self.decodeTokenStatus(
                    session.run(prepared: Self.tokenStatusSQL, [PostgresData(uuid: Rows.uuid(token))]))
            }
        }

        static let tokenStatusSQL = "SELECT token_status FROM bomflow_workflow WHERE token = $1"

        static func decodeTokenStatus(_ rows: [PostgresRow]) throws(SQLFailure) -> TokenStatus? {
            guard let row = rows.first else { return nil }
            let code: Int16 = try decoding { try Cells(row)[0] }
            do throws(StoreError) { return try Rows.tokenStatus(code) } catch { throw .store(error) }
        }

        public func list(_ query: WorkflowQuery) throws(StoreError) -> WorkflowPage {
            let limit = min(max(query.limit, 1), 1000)
            let cursor = Int64(clamping: query.cursor ?? UInt64(Int64.max))
            var filter = "w2.id < $1"
            var binds = PostgresBindings()
            binds.append(cursor)
            switch query.state {
            case .processing?: filter += " AND w2.processing"
            case .done?: filter += " AND NOT w2.processing"
            case nil: break
            }
            if let label = query.label {
                binds.append(label.key)
                binds.append(label.value)
                filter +=
                    " AND EXISTS (SELECT 1 FROM bomflow_label l WHERE l.workflow_id = w2.id AND l.key = $2 AND l.value = $3)"
            }
            binds.append(Int64(limit + 1))
            let sql = """
                SELECT \(Rows.workflowColumns) FROM \(Rows.workflowJoins)
                WHERE w.id IN (SELECT w2.id FROM bomflow_workflow w2 WHERE \(filter) ORDER BY w2.id DESC LIMIT $\(binds.count))
                ORDER BY w.id DESC, b.ordinal
                """
            return try read { session throws(SQLFailure) in
                let loaded = try Self.decoding {
                    try Rows.decodeWorkflows(try session.query(PostgresQuery(unsafeSQL: sql, binds: binds)))
                }
                let page = Array(loaded.prefix(limit))
                return WorkflowPage(
                    workflows: page.map(\.workflow),
                    nextCursor: loaded.count > limit ? page.last.map { UInt64($0.id) } : nil)
            }
        }

        public func exportPage(after position: UInt64?, limit: Int) throws(StoreError) -> WorkflowPage {
            let limit = min(max(limit, 1), 1000)
            let after = Int64(clamping: position ?? 0)
            return try read { session throws(SQLFailure) in
                let query: PostgresQuery = """
                    SELECT \(unescaped: Rows.workflowColumns) FROM \(unescaped: Rows.workflowJoins)
                    WHERE w.id IN (SELECT id FROM bomflow_workflow WHERE id > \(after) ORDER BY id LIMIT \(Int64(limit + 1)))
                    ORDER BY w.id, b.ordinal
                    """
                let loaded = try Self.decoding { try Rows.decodeWorkflows(try session.query(query)) }
                let page = Array(loaded.prefix(limit))
                return WorkflowPage(
                    workflows: page.map(\.workflow),
                    nextCursor: loaded.count > limit ? page.last.map { UInt64($0.id) } : nil)
            }
        }

        public func bom(_ token: Token) throws(StoreError) -> BomDocument? {
            try read { session throws(SQLFailure) in
                let rows = try session.query(
                    """
                    SELECT b.format, b.spec_version, b.content FROM bomflow_bom b
                    JOIN bomflow_workflow w ON w.id = b.workflow_id WHERE w.token = \(Rows.uuid(token))
                    """)
                guard let row = rows.first else { return nil }
                return try Self.decoding {
                    let cells = Cells(row)
                    let code: Int16 = try cells[0]
                    guard let format = BomFormat(rawValue: UInt8(clamping: code)) else {
                        throw StoreError.corrupted("BOM format \(code)")
                    }
                    var content: ByteBuffer = try cells[2]
                    return BomDocument(
                        format: format, specVersion: try cells[1],
                        bytes: content.readBytes(length: content.readableBytes) ?? [])
                }
            }
        }

        // MARK: Orchestration reads

        public func changeCounter() throws(StoreError) -> Int { listener.value }

        public func hasClaimable(_ names: [StepName]) throws(StoreError) -> Bool {
            guard !names.isEmpty else { return false }
            let texts = names.map(\.rawValue)
            return try read { session throws(SQLFailure) in
                let rows = try session.query(
                    """
                    SELECT EXISTS (SELECT 1 FROM bomflow_step WHERE step = ANY(\(texts)) AND claimable_since IS NOT NULL
                        AND step NOT IN (SELECT step FROM bomflow_queue_pause))
                    """)
                guard let row = rows.first else { return false }
                return try Self.decoding { try Cells(row)[0] }
            }
        }

        public func versions(of tokens: [Token]) throws(StoreError) -> [Token: UInt64?] {
            var result: [Token: UInt64?] = [:]
            for token in tokens { result[token] = .some(nil) }
            guard !tokens.isEmpty else { return result }
            let uuids = tokens.map(Rows.uuid)
            return try read { session throws(SQLFailure) in
                let rows = try session.query("SELECT token, version FROM bomflow_workflow WHERE token = ANY(\(uuids))")
                for row in rows {
                    let (uuid, version): (UUID, Int64) = try Self.decoding {
                        let cells = Cells(row)
                        return (try cells[0], try cells[1])
                    }
                    result[Rows.token(uuid)] = .some(UInt64(max(0, version)))
                }
                return result
            }
        }

        // MARK: Loading

        /// The workflow `token` with its row IDs; with `lock`, its `bomflow_workflow` row is locked
        /// first (`FOR UPDATE`, unless this transaction holds it already), so the steps read next
        /// are the latest committed ones and stay so.
        static func load(_ token: Token, session: Session, lock: Bool) throws(SQLFailure) -> LoadedWorkflow? {
            let uuid = [PostgresData(uuid: Rows.uuid(token))]
            if lock && !session.lockedTokens.contains(token) {
                let rows = try session.run(
                    prepared: "SELECT id FROM bomflow_workflow WHERE token = $1 FOR UPDATE", uuid)
                guard rows.first != nil else { return nil }
                session.lockedTokens.insert(token)
            }
            let rows = try session.run(prepared: loadByToken, uuid)
            return try decoding { try Rows.decodeWorkflows(rows) }.first
        }

        /// The workflow with row ID `id`, locked when `lock` and `skipLocked` decides whether a
        /// row another transaction holds is skipped (nil) or waited for.
        static func load(id: Int64, session: Session, lock: Bool, skipLocked: Bool = false) throws(SQLFailure)
            -> LoadedWorkflow?
        {
            let binds = [PostgresData(int64: id)]
            if lock {
                let rows = try session.run(
                    prepared: skipLocked
                        ? "SELECT id FROM bomflow_workflow WHERE id = $1 FOR UPDATE SKIP LOCKED"
                        : "SELECT id FROM bomflow_workflow WHERE id = $1 FOR UPDATE", binds)
                guard rows.first != nil else { return nil }
            }
            let rows = try session.run(prepared: loadByID, binds)
            return try decoding { try Rows.decodeWorkflows(rows) }.first
        }

        static let loadByToken =
            "SELECT \(Rows.workflowColumns) FROM \(Rows.workflowJoins) WHERE w.token = $1 ORDER BY b.ordinal"
        static let loadByID =
            "SELECT \(Rows.workflowColumns) FROM \(Rows.workflowJoins) WHERE w.id = $1 ORDER BY b.ordinal"

        /// The first column of the first row, if there is a row.
        static func scalar<T: PostgresDecodable>(_ rows: PostgresQueryResult) throws(SQLFailure) -> T? {
            guard let row = rows.first else { return nil }
            return try decoding { try Cells(row)[0] }
        }

        /// Runs a decoding step; its failure means the stored data is not what this build wrote
        /// (a statement's own failure inside it passes through unchanged).
        static func decoding<T>(_ body: () throws -> T) throws(SQLFailure) -> T {
            do { return try body() } catch let failure as SQLFailure { throw failure } catch let error as StoreError {
                throw .store(error)
            } catch {
                throw .store(.corrupted("a row could not be decoded: \(error)"))
            }
        }
    }
#endif
