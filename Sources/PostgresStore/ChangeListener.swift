// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation
    internal import Logging
    internal import NIOCore
    internal import PostgresNIO
    internal import Synchronization

    /// The store's change counter across hosts: one connection of its own `LISTEN`s on
    /// ``Schema/changeChannel``, which every commit notifies, and counts what arrives (and this
    /// process's own commits at once). While the connection is down nothing can be heard, so every
    /// (re)connect counts as a change: waiters look again rather than miss one.
    ///
    /// It runs as one task on postgres-nio's async `listen(on:consume:)`, whose failures are
    /// reported rather than dropped when the connection closes underneath it.
    final class ChangeListener: Sendable {
        private let counter = Atomic<Int>(0)
        private let stopped = Atomic<Bool>(false)
        private let pool: SessionPool
        /// The live connection, so that ``stop()`` can close it and end the task.
        private let live = Mutex<PostgresConnection?>(nil)
        private let task = Mutex<Task<Void, Never>?>(nil)
        private let logger: Logger

        init(pool: SessionPool, logger: Logger) {
            self.pool = pool
            self.logger = logger
        }

        /// The counter (changes whenever a commit anywhere was heard of).
        var value: Int { counter.load(ordering: .relaxed) }

        /// Counts this process's own commit without waiting for its notification.
        func noteLocalCommit() { counter.wrappingAdd(1, ordering: .relaxed) }

        /// Starts listening.
        func start() {
            let running = Task.detached { [self] in await run() }
            task.withLock { $0 = running }
        }

        /// Stops listening: closes the connection and cancels the task, which ends by itself (not
        /// waited for: a caller on a cooperative thread must not wait for another task).
        func stop() {
            stopped.store(true, ordering: .relaxed)
            let connection = live.withLock { $0 }
            let _: EventLoopFuture<Void>? = connection?.close()
            task.withLock { $0 }?.cancel()
        }

        private func run() async {
            var failures = 0
            while !stopped.load(ordering: .relaxed), !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(
                        on: pool.group.next(), configuration: pool.configuration(), id: -1, logger: logger)
                    live.withLock { $0 = connection }
                    if stopped.load(ordering: .relaxed) {
                        try? await connection.close()
                        break
                    }
                    try await connection.listen(on: Schema.changeChannel) { notifications in
                        counter.wrappingAdd(1, ordering: .relaxed)
                        failures = 0
                        for try await _ in notifications { counter.wrappingAdd(1, ordering: .relaxed) }
                    }
                } catch {
                    failures += 1
                    if failures == 1, !stopped.load(ordering: .relaxed) {
                        logger.warning("listening for changes failed, retrying: \(SQLFailure.classify(error))")
                    }
                }
                if let connection = live.withLock({ $0 }) {
                    live.withLock { $0 = nil }
                    try? await connection.close()
                }
                counter.wrappingAdd(1, ordering: .relaxed)
                if !stopped.load(ordering: .relaxed) {
                    try? await Task.sleep(for: .milliseconds(min(1000, 50 * (failures + 1))))
                }
            }
        }
    }

    /// Whether PostgreSQL answers: a thread sends `SELECT 1` every second on a connection of its own
    /// (not one of the pool's, which may all be busy) and keeps the last finding.
    final class Prober: Sendable {
        private let pool: SessionPool
        private let finding = Mutex<String?>(nil)
        private let stopped = Atomic<Bool>(false)

        init(pool: SessionPool) { self.pool = pool }

        /// Why PostgreSQL did not answer the last probe; nil when it did.
        var unreachable: String? { finding.withLock { $0 } }

        func start() {
            let thread = Thread { [self] in run() }
            thread.name = "bomflow-probe"
            thread.start()
        }

        func stop() { stopped.store(true, ordering: .relaxed) }

        private func run() {
            var session: Session?
            while !stopped.load(ordering: .relaxed) {
                do throws(SQLFailure) {
                    if session == nil || session?.isBroken == true || session?.connection.isClosed == true {
                        session?.close()
                        session = try pool.connect(id: -2)
                    }
                    _ = try session?.query("SELECT 1")
                    finding.withLock { $0 = nil }
                } catch {
                    finding.withLock { $0 = error.description }
                    session?.close()
                    session = nil
                }
                Thread.sleep(forTimeInterval: 1)
            }
            session?.close()
        }
    }
#endif
