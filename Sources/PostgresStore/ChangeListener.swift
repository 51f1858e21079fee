internal import Foundation
internal import Logging
internal import NIOCore
internal import PostgresNIO
internal import Synchronization

/// The store's change counter across hosts: one connection of its own `LISTEN`s on
/// ``Schema/changeChannel``, which every commit notifies, and counts what arrives (and this
/// process's own commits at once). While the connection is down nothing can be heard, so every
/// reconnect counts as a change: waiters look again rather than miss one.
final class ChangeListener: Sendable {
    private let counter = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let pool: SessionPool
    /// The live connection, so that ``stop()`` can close it and wake the thread.
    private let live = Mutex<PostgresConnection?>(nil)
    private let logger: Logger

    init(pool: SessionPool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    /// The counter (changes whenever a commit anywhere was heard of).
    var value: Int { counter.load(ordering: .relaxed) }

    /// Counts this process's own commit without waiting for its notification.
    func noteLocalCommit() { counter.wrappingAdd(1, ordering: .relaxed) }

    /// Starts the listening thread.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "bomflow-listen"
        thread.start()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        let connection = live.withLock { $0 }
        _ = try? connection?.close().wait()
    }

    private func run() {
        var failures = 0
        while !stopped.load(ordering: .relaxed) {
            do {
                let session = try pool.connect(id: -1)
                let connection = session.connection
                live.withLock { $0 = connection }
                connection.addListener(channel: Schema.changeChannel) { [self] _, _ in
                    counter.wrappingAdd(1, ordering: .relaxed)
                }
                _ = try session.query("LISTEN \(unescaped: Schema.changeChannel)")
                counter.wrappingAdd(1, ordering: .relaxed)
                failures = 0
                if stopped.load(ordering: .relaxed) { session.close() }
                try? session.connection.closeFuture.wait()
                live.withLock { $0 = nil }
                counter.wrappingAdd(1, ordering: .relaxed)
            } catch {
                failures += 1
                if failures == 1 { logger.warning("listening for changes failed, retrying: \(error)") }
            }
            if !stopped.load(ordering: .relaxed) { Thread.sleep(forTimeInterval: min(1, 0.05 * Double(failures + 1))) }
        }
    }
}
