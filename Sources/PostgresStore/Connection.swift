// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation
    internal import Logging
    internal import NIOCore
    internal import NIOPosix
    internal import NIOSSL
    internal import PostgresNIO
    internal import Storage
    internal import Synchronization
    internal import WorkflowModel

    /// Why a statement failed, sorted by what the store does next.
    enum SQLFailure: Error, CustomStringConvertible {
        /// The transaction lost a race (serialization failure, deadlock, a unique key another
        /// transaction took first): roll back and run the whole batch again.
        case retry(String)
        /// The connection is gone or unusable: drop it; the operation failed (503).
        case broken(String)
        /// Anything else (a constraint, a statement timeout, …), already a ``StoreError``.
        case store(StoreError)

        var description: String {
            switch self {
            case .retry(let why), .broken(let why): why
            case .store(let error): error.description
            }
        }

        var storeError: StoreError {
            switch self {
            case .retry(let why): .unavailable("PostgreSQL kept refusing the transaction: \(why)")
            case .broken(let why): .unavailable("PostgreSQL is unreachable: \(why)")
            case .store(let error): error
            }
        }

        /// Sorts an error of postgres-nio by the SQLSTATE the server sent, or by what broke. The
        /// named prepared statements (``Session/run(prepared:_:)``) fail with postgres-nio's older
        /// `PostgresError`, every other statement with `PSQLError`: both carry the same fields.
        static func classify(_ error: any Error) -> SQLFailure {
            if let failure = error as? SQLFailure { return failure }
            if let error = error as? PostgresError {
                guard case .server(let info) = error else { return .broken(String(describing: error)) }
                return classify(state: info.fields[.sqlState] ?? "", message: info.fields[.message] ?? "server error")
            }
            guard let error = error as? PSQLError else { return .broken(String(describing: error)) }
            if let info = error.serverInfo {
                return classify(state: info[.sqlState] ?? "", message: info[.message] ?? "server error")
            }
            switch error.code {
            case .queryCancelled: return .store(.unavailable("the statement was cancelled"))
            default: return .broken(error.code.description)
            }
        }

        /// Sorts an error the server sent by its SQLSTATE.
        static func classify(state: String, message: String) -> SQLFailure {
            let text = "\(message) (SQLSTATE \(state))"
            switch state {
            case "40001", "40P01", "23505": return .retry(text)
            case "57014": return .store(.unavailable("statement timeout: \(message)"))
            case "53100": return .store(.diskFull(message))
            case "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004": return .broken(text)
            default:
                if state.hasPrefix("53") { return .store(.unavailable(text)) }
                return .store(.failed(text))
            }
        }
    }

    /// One PostgreSQL connection, used by one thread at a time: every call blocks that thread (never
    /// a NIO event loop) on postgres-nio's futures. Statements that need no answer are pipelined
    /// (``send(_:)``) and checked together at the next ``flush()``.
    final class Session {
        let connection: PostgresConnection
        let logger: Logger
        private var pending: [EventLoopFuture<PostgresQueryResult>] = []
        /// The named statements prepared on this connection, by their SQL (``run(prepared:_:)``).
        private var prepared: [String: PreparedQuery] = [:]
        /// The workflows whose `bomflow_workflow` row the current transaction has locked (cleared at
        /// each `BEGIN`), so that a second lock of the same row costs no round trip.
        var lockedTokens: Set<Token> = []
        /// Set once an error said the connection cannot be used again.
        private(set) var isBroken = false

        /// How long a statement's answer may take before the connection is given up: the
        /// statement timeout and a margin for the network.
        let answerTimeout: Double

        init(connection: PostgresConnection, logger: Logger, answerTimeout: Double) {
            self.connection = connection
            self.logger = logger
            self.answerTimeout = answerTimeout
        }

        /// Runs `query` (after everything sent before it) and returns its rows.
        func query(_ query: PostgresQuery) throws(SQLFailure) -> PostgresQueryResult {
            let future = connection.query(query, logger: logger)
            try flush()
            return try wait(future)
        }

        /// Runs `sql` as a named prepared statement of this connection (parsed and planned once
        /// per connection, then only bound and executed: PostgreSQL spends about half the CPU of an
        /// unnamed statement on a one-row lookup) and returns its rows. For the hot statements with
        /// a fixed text; the statement is prepared on first use.
        func run(prepared sql: String, _ binds: [PostgresData]) throws(SQLFailure) -> [PostgresRow] {
            let statement: PreparedQuery
            if let known = prepared[sql] {
                statement = known
            } else {
                try flush()
                statement = try wait(connection.prepare(query: sql))
                prepared[sql] = statement
            }
            try flush()
            return try wait(statement.execute(binds))
        }

        /// Sends `query` without waiting for it; its failure surfaces at the next ``flush()``.
        func send(_ query: PostgresQuery) {
            pending.append(connection.query(query, logger: logger))
        }

        /// Waits for every statement sent; throws the first failure.
        func flush() throws(SQLFailure) {
            let futures = pending
            pending.removeAll(keepingCapacity: true)
            var first: SQLFailure?
            for future in futures {
                do { _ = try wait(future) } catch { first = first ?? error }
            }
            if let first { throw first }
        }

        /// Several statements in one string (migrations), one at a time: each ends with `;` at the
        /// end of a line (the migrations have no `;` inside a statement).
        func execute(script: String) throws(SQLFailure) {
            var statement = ""
            for line in script.split(separator: "\n", omittingEmptySubsequences: false) {
                statement += line + "\n"
                guard line.hasSuffix(";") else { continue }
                _ = try query(PostgresQuery(unsafeSQL: String(statement.dropLast(2))))
                statement = ""
            }
            if !statement.allSatisfy(\.isWhitespace) { _ = try query(PostgresQuery(unsafeSQL: statement)) }
        }

        /// Waits for a statement's answer, at most ``answerTimeout``: a connection that stops
        /// answering (a dead peer, a write to a closed channel that nobody fails) is closed and
        /// counted as broken instead of holding its thread forever.
        private func wait<Answer: Sendable>(_ future: EventLoopFuture<Answer>) throws(SQLFailure) -> Answer {
            let answered = DispatchSemaphore(value: 0)
            let outcome = Mutex<Result<Answer, any Error>?>(nil)
            future.whenComplete { result in
                outcome.withLock { $0 = result }
                answered.signal()
            }
            guard answered.wait(timeout: .now() + answerTimeout) == .success else {
                isBroken = true
                let _: EventLoopFuture<Void> = connection.close()
                throw .broken("PostgreSQL did not answer within \(Int(answerTimeout)) s")
            }
            switch outcome.withLock({ $0 }) {
            case .success(let result)?: return result
            case .failure(let error)?: throw noteBroken(SQLFailure.classify(error))
            case nil: throw .broken("no answer")
            }
        }

        private func noteBroken(_ failure: SQLFailure) -> SQLFailure {
            if case .broken = failure { isBroken = true }
            if connection.isClosed { isBroken = true }
            return failure
        }

        func close() {
            pending.removeAll()
            _ = try? connection.close().wait()
        }
    }

    /// A bounded set of sessions (`--store-pool`): a thread borrows one for an operation and gives it
    /// back; when all are lent, it waits up to ``acquireTimeout`` and then fails with 503. Broken
    /// sessions are dropped and replaced by new connections on demand, so the pool recovers by
    /// itself once PostgreSQL is back.
    final class SessionPool: @unchecked Sendable {
        let location: PostgresLocation
        let size: Int
        let statementTimeoutMilliseconds: Int
        let acquireTimeout: Double
        /// SwiftNIO's process-wide event loops (never shut down: connections of stores being closed,
        /// the listener and the prober may still finish on them).
        var group: MultiThreadedEventLoopGroup { MultiThreadedEventLoopGroup.singleton }
        let logger: Logger
        private let tlsConfiguration: PostgresConnection.Configuration.TLS
        /// Guards `idle`, `open` and `closed`; threads wait on it for a session.
        private let condition = NSCondition()
        private var idle: [Session] = []
        private var open = 0
        private var closed = false
        private var nextID = 0
        /// The last connection failure while nothing could be reached (for readiness), or nil.
        private var unreachable: String?

        init(
            location: PostgresLocation, size: Int, statementTimeoutMilliseconds: Int, acquireTimeout: Double = 5,
            logger: Logger
        ) throws(StoreError) {
            self.location = location
            self.size = max(1, size)
            self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
            self.acquireTimeout = acquireTimeout
            self.logger = logger
            do {
                switch location.tls {
                case .disable:
                    tlsConfiguration = .disable
                case .prefer, .require:
                    var configuration = TLSConfiguration.makeClientConfiguration()
                    configuration.certificateVerification = .none
                    let context = try NIOSSLContext(configuration: configuration)
                    tlsConfiguration = location.tls == .prefer ? .prefer(context) : .require(context)
                case .verifyFull:
                    var configuration = TLSConfiguration.makeClientConfiguration()
                    configuration.certificateVerification = .fullVerification
                    if let path = location.rootCertificatePath {
                        configuration.trustRoots = .file(path)
                    }
                    tlsConfiguration = .require(try NIOSSLContext(configuration: configuration))
                }
            } catch {
                throw .failed("cannot set up TLS for \(location): \(error)")
            }
        }

        /// Connections open now (idle or lent).
        var openConnections: Int {
            condition.lock()
            defer { condition.unlock() }
            return open
        }

        /// The condition readiness reports: why PostgreSQL could not be reached, while it cannot.
        var unreachableReason: String? {
            condition.lock()
            defer { condition.unlock() }
            return unreachable
        }

        /// Runs `body` with a session; a session that broke is closed instead of kept.
        func withSession<T>(_ body: (Session) throws(SQLFailure) -> T) throws(SQLFailure) -> T {
            let session = try borrow()
            do {
                let result = try body(session)
                giveBack(session)
                return result
            } catch {
                giveBack(session)
                throw error
            }
        }

        func borrow() throws(SQLFailure) -> Session {
            condition.lock()
            let deadline = Date(timeIntervalSinceNow: acquireTimeout)
            while true {
                if closed {
                    condition.unlock()
                    throw .store(.unavailable("the store is closed"))
                }
                if let session = idle.popLast() {
                    if session.connection.isClosed {
                        // Closed while idle (PostgreSQL restarted): replace it.
                        open -= 1
                        condition.unlock()
                        session.close()
                        condition.lock()
                        continue
                    }
                    condition.unlock()
                    return session
                }
                if open < size {
                    open += 1
                    nextID += 1
                    let id = nextID
                    condition.unlock()
                    do {
                        let session = try connect(id: id)
                        setUnreachable(nil)
                        return session
                    } catch {
                        condition.lock()
                        open -= 1
                        unreachable = error.description
                        condition.broadcast()
                        condition.unlock()
                        throw error
                    }
                }
                guard condition.wait(until: deadline) else {
                    condition.unlock()
                    throw .store(.unavailable("all \(size) PostgreSQL connections are busy (--store-pool)"))
                }
            }
        }

        func giveBack(_ session: Session) {
            if session.isBroken { session.close() }
            condition.lock()
            if session.isBroken || closed {
                open -= 1
            } else {
                idle.append(session)
            }
            condition.signal()
            condition.unlock()
            if closed, !session.isBroken { session.close() }
        }

        private func setUnreachable(_ reason: String?) {
            condition.lock()
            unreachable = reason
            condition.unlock()
        }

        /// Opens a connection and sets its statement timeout.
        func connect(id: Int) throws(SQLFailure) -> Session {
            let configuration = configuration()
            do {
                let connection = try PostgresConnection.connect(
                    on: group.next(), configuration: configuration, id: id, logger: logger
                ).wait()
                return Session(
                    connection: connection, logger: logger,
                    answerTimeout: Double(statementTimeoutMilliseconds) / 1000 + 5)
            } catch {
                throw .broken("cannot connect to \(location): \(SQLFailure.classify(error))")
            }
        }

        /// How every connection of the store is made: address, TLS, statement timeout, time zone.
        func configuration() -> PostgresConnection.Configuration {
            var configuration: PostgresConnection.Configuration
            if let directory = location.socketDirectory {
                configuration = PostgresConnection.Configuration(
                    unixSocketPath: "\(directory)/.s.PGSQL.\(location.port)", username: location.user,
                    password: location.password, database: location.database)
            } else {
                configuration = PostgresConnection.Configuration(
                    host: location.host, port: location.port, username: location.user, password: location.password,
                    database: location.database, tls: tlsConfiguration)
            }
            configuration.options.connectTimeout = .seconds(5)
            configuration.options.additionalStartupParameters = [
                ("application_name", location.applicationName),
                ("statement_timeout", String(statementTimeoutMilliseconds)),
                ("idle_in_transaction_session_timeout", String(max(statementTimeoutMilliseconds * 2, 10_000))),
                ("TimeZone", "UTC"),
            ]
            return configuration
        }

        /// Closes every idle session and refuses new borrows; lent ones close when given back.
        func close() {
            condition.lock()
            closed = true
            let sessions = idle
            idle.removeAll()
            open -= sessions.count
            condition.broadcast()
            condition.unlock()
            for session in sessions { session.close() }
        }

    }
#endif
