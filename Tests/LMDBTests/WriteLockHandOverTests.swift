import Dispatch
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import LMDB

/// LMDB's writer mutex is not fair; `Environment.write` hands the lock to a waiting writer when
/// the calling thread committed last (docs/STORAGE.md).
@Suite(.timeLimit(.minutes(1)))
struct WriteLockHandOverTests {
    /// A thread that commits and writes again lets the writer that waited meanwhile go first.
    @Test func aWaitingWriterGoesBeforeTheCommitterWritesAgain() throws {
        let directory = try TemporaryDirectory("handover")
        defer { directory.remove() }
        let environment = try Environment.open(path: directory.appending("data"))
        let database = try environment.openDatabase(named: "t")
        let order = Mutex<[String]>([])
        let otherDone = DispatchSemaphore(value: 0)
        try environment.write { txn in
            try txn.put([1], forKey: Array("first".utf8), in: database)
            order.withLock { $0.append("first") }
            // Its own thread, not a pool's: the pool may be busy with other tests.
            Thread.detachNewThread {
                try? environment.write { txn in
                    try txn.put([2], forKey: Array("waiter".utf8), in: database)
                    order.withLock { $0.append("waiter") }
                }
                otherDone.signal()
            }
            // Commit only once the other thread waits for the lock.
            while environment.writerSlot.waiting() < 1 { usleep(100) }
        }
        try environment.write { txn in
            try txn.put([3], forKey: Array("again".utf8), in: database)
            order.withLock { $0.append("again") }
        }
        otherDone.wait()
        // The waiter may also have taken the lock by itself before the second write began (no
        // hand-over needed); without the hand-over it loses the race (measured 3 of 3 on an idle
        // machine).
        #expect(order.withLock { $0 } == ["first", "waiter", "again"])
        #expect(environment.writerSlot.waiting() == 0)
    }

    /// A count of waiters left by a process killed while it waited is offered the lock once,
    /// then learned as stale and ignored, until the count falls below it.
    @Test func aCountLeftByAKilledWaiterIsLearnedAsStale() throws {
        let directory = try TemporaryDirectory("handover")
        defer { directory.remove() }
        let environment = try Environment.open(path: directory.appending("data"))
        let database = try environment.openDatabase(named: "t")
        try setWaitingCount(2, in: directory.appending("data"))
        #expect(environment.writerSlot.waiting() == 2)
        for number in 0..<5 {
            try environment.write { txn in try txn.put([UInt8(number)], forKey: [UInt8(number)], in: database) }
        }
        #expect(environment.staleWaiters.load(ordering: .relaxed) == 2)
        #expect(environment.writeLockHandOvers == 0)
        #expect(!environment.handOverWriteLock(maxWait: .seconds(10)), "a learned count is not waited for")
        try setWaitingCount(0, in: directory.appending("data"))
        #expect(!environment.handOverWriteLock())
        #expect(environment.staleWaiters.load(ordering: .relaxed) == 0)
    }

    /// A transaction that changed nothing commits no transaction ID: a thread whose writes
    /// change nothing never committed last, and does not wait to hand the lock over.
    @Test func aTransactionThatChangesNothingDoesNotHandOver() throws {
        let directory = try TemporaryDirectory("handover")
        defer { directory.remove() }
        let environment = try Environment.open(path: directory.appending("data"))
        // The last commit is another thread's.
        let opened = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? environment.openDatabase(named: "t")
            opened.signal()
        }
        opened.wait()
        try setWaitingCount(2, in: directory.appending("data"))
        for _ in 0..<3 { try environment.write { _ in } }
        #expect(environment.staleWaiters.load(ordering: .relaxed) == 0, "no hand-over was tried")
        #expect(environment.writeLockHandOvers == 0)
    }

    /// Writes `count` into the waiting counter of `bomflow.writer` as another process would.
    func setWaitingCount(_ count: Int32, in path: String) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path + "/bomflow.writer"))
        defer { try? handle.close() }
        try handle.seek(toOffset: 16)
        let bytes = (0..<4).map { UInt8(truncatingIfNeeded: UInt32(bitPattern: count) >> (8 * UInt32($0))) }
        try handle.write(contentsOf: Data(bytes))
    }
}
