import Dispatch
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import LMDB

/// Each thread keeps its read transaction between reads (`ReaderSlot`): a read must still see
/// every commit that finished before it began, and a thread that stops reading must not keep an
/// old snapshot for long (docs/ARCHITECTURE.md, Reads).
@Suite(.timeLimit(.minutes(1)))
struct KeptReaderTests {
    let directory: TemporaryDirectory
    let environment: Environment
    let database: Database

    init() throws {
        directory = try TemporaryDirectory("kept")
        environment = try Environment.open(path: directory.appending("data"), options: .init(mapSize: 16 << 20))
        database = try environment.openDatabase(named: "t")
    }

    func value(_ key: String) throws -> [UInt8]? {
        try environment.read { txn in try txn.value(forKey: Array(key.utf8), in: database) }
    }

    func put(_ value: UInt8, _ key: String) throws {
        try environment.write { txn in try txn.put([value], forKey: Array(key.utf8), in: database) }
    }

    /// Runs `body` on a thread of its own (not a pool's, so that the thread really ends) and
    /// waits for it.
    func onOwnThread(_ body: @escaping @Sendable () throws -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        Thread.detachNewThread {
            do { try body() } catch { failure.withLock { $0 = "\(error)" } }
            done.signal()
        }
        done.wait()
        if let failure = failure.withLock({ $0 }) { Issue.record("thread failed: \(failure)") }
    }

    @Test func aReadSeesTheWriteOfItsOwnThreadAtOnce() throws {
        #expect(try value("a") == nil)
        #expect(environment.keptSnapshots == 1)
        try put(1, "a")
        // The write reset the thread's snapshot; the read takes a new one.
        #expect(environment.keptSnapshots == 0)
        #expect(try value("a") == [1])
        #expect(try value("a") == [1])
        try put(2, "a")
        #expect(try value("a") == [2])
    }

    @Test func aReadSeesAnotherThreadsWriteAtOnce() throws {
        #expect(try value("b") == nil)
        for round in UInt8(1)...20 {
            let environment = environment
            let database = database
            try onOwnThread {
                try environment.write { txn in try txn.put([round], forKey: Array("b".utf8), in: database) }
            }
            // This thread's kept snapshot is older than that commit: the read must renew it.
            #expect(try value("b") == [round])
        }
    }

    /// A commit of this process resets the snapshots other threads keep while they idle.
    @Test func aCommitLetsGoOfOtherThreadsSnapshots() throws {
        let environment = environment
        let database = database
        let go = DispatchSemaphore(value: 0)
        let read = DispatchSemaphore(value: 0)
        let seen = Mutex<[UInt8]?>(nil)
        Thread.detachNewThread {
            _ = try? environment.read { txn in try txn.value(forKey: Array("h".utf8), in: database) }
            read.signal()
            go.wait()
            let value = try? environment.read { txn in try txn.value(forKey: Array("h".utf8), in: database) }
            seen.withLock { $0 = value ?? nil }
            read.signal()
        }
        read.wait()
        #expect(environment.keptSnapshots == 1)
        try put(8, "h")
        #expect(environment.keptSnapshots == 0)
        go.signal()
        read.wait()
        #expect(seen.withLock { $0 } == [8])
    }

    @Test func idleThreadsLetGoOfTheirSnapshot() throws {
        _ = try value("c")
        #expect(environment.keptSnapshots == 1)
        let live = try environment.readers()
        #expect(live.contains { $0.pid == getpid() && $0.transactionID != nil }, "\(live)")
        // Used since the last sweep: kept.
        environment.releaseIdleReaders()
        #expect(environment.keptSnapshots == 1)
        // Not used since: reset, and the reader table shows the slot idle.
        environment.releaseIdleReaders()
        #expect(environment.keptSnapshots == 0)
        #expect(try environment.readers().allSatisfy { $0.pid != getpid() || $0.transactionID == nil })
        // The next read renews it.
        try put(3, "c")
        #expect(try value("c") == [3])
        #expect(environment.keptSnapshots == 1)
    }

    @Test func anEndingThreadEndsItsTransaction() throws {
        let environment = environment
        let database = database
        let before = try environment.readers().filter { $0.pid == getpid() }.count
        try onOwnThread {
            _ = try environment.read { txn in try txn.value(forKey: Array("d".utf8), in: database) }
        }
        // The thread's key destructor runs as it exits, just after it signalled.
        var waited = 0
        while environment.keptSnapshots > 0 && waited < 2_000 {
            usleep(1_000)
            waited += 1
        }
        #expect(environment.keptSnapshots == 0)
        #expect(try environment.readers().filter { $0.pid == getpid() }.count <= before)
    }

    @Test func aNestedReadHasItsOwnSnapshot() throws {
        try put(4, "e")
        let outer = try environment.read { txn in
            let inner = try value("e")
            return (try txn.value(forKey: Array("e".utf8), in: database), inner)
        }
        #expect(outer.0 == [4])
        #expect(outer.1 == [4])
        #expect(try value("e") == [4])
    }

    /// Opening existing databases commits a read-only transaction (no new transaction ID): a
    /// snapshot kept from before must not be used with the new handle (LMDB would refuse it).
    @Test func aDatabaseOpenedAfterTheSnapshotIsReadable() throws {
        let other = try TemporaryDirectory("kept-late")
        defer { other.remove() }
        let path = other.appending("data")
        do {
            let first = try Environment.open(path: path, options: .init(mapSize: 16 << 20))
            let late = try first.openDatabase(named: "late")
            try first.write { txn in try txn.put([7], forKey: Array("k".utf8), in: late) }
        }
        // The first environment is closed; this one has not opened "late" yet.
        let reopened = try Environment.open(path: path, options: .init(mapSize: 16 << 20))
        let plain = try reopened.openDatabase(named: "plain")
        _ = try reopened.read { txn in try txn.value(forKey: Array("k".utf8), in: plain) }
        #expect(reopened.keptSnapshots == 1)
        let late = try #require(try reopened.openExistingDatabases(named: ["late"]))[0]
        #expect(try reopened.read { txn in try txn.value(forKey: Array("k".utf8), in: late) } == [7])
    }

    @Test func aFailedReadLeavesTheNextOneWorking() throws {
        struct Refused: Error {}
        try put(5, "g")
        #expect(throws: Refused.self) { try environment.read { _ in throw Refused() } }
        #expect(try value("g") == [5])
    }

    /// The reader table's lines as `mdb_reader_list` prints them, newline included.
    @Test func readerLinesAreParsed() {
        #expect(Environment.parseReaderLine("    pid     thread     txnid\n") == nil)
        let live = Environment.parseReaderLine("     21391 7ff800644740 42\n")
        #expect(live?.pid == 21391 && live?.transactionID == 42)
        let idle = Environment.parseReaderLine("     21391 7ff800644740 -\n")
        #expect(idle?.pid == 21391 && idle?.transactionID == nil)
    }
}
