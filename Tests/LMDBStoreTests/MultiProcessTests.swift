import Foundation
import LMDBStore
import Storage
import Synchronization
import TestSupport
import Testing
import WorkflowModel

/// Several real processes on one data directory (DESIGN.md §3, RELIABILITY.md L1–L9).
@Suite(.serialized, .timeLimit(.minutes(3)))
struct MultiProcessTests {
    static let driver = "bomflow-store-driver"

    func processToken(_ process: Int, _ index: Int) -> Token {
        Token(high: UInt64(process) << 32 | 0x4000, low: 0x8000_0000_0000_0000 | UInt64(index))
    }

    /// Four writer processes and this reader at once: nothing acknowledged is lost, every
    /// cross-process read-modify-write (steps added to shared workflows) survives, and all
    /// invariants hold.
    @Test func concurrentWritersAndReadersLoseNothing() throws {
        let fixture = try StoreFixture()
        let shared = 25
        let count = 250
        let processes = 4
        for index in 0..<shared {
            try fixture.db.perform(
                .create(
                    token: processToken(999, index), definition: WorkflowDefinition(template: .bomUpload),
                    labels: Labels(), createdBy: nil))
        }
        let children = try (0..<processes).map { process in
            try ChildProcess(
                Self.driver,
                [
                    "hammer", "--dir", fixture.directory.path, "--process", String(process), "--processes",
                    String(processes),
                    "--count", String(count), "--shared", String(shared), "--sync", "none",
                ])
        }
        var reads = 0
        while children.contains(where: { $0.process.isRunning }) {
            _ = try fixture.db.isProcessing(processToken(reads % processes, reads % count))
            _ = try fixture.db.workflow(processToken(999, reads % shared))
            reads += 1
        }
        for child in children {
            #expect(child.wait() == 0, "\(child.outputLines)")
            #expect(child.lastJSON["errors"] as? Int == 0)
        }
        #expect(reads > 0)
        for process in 0..<processes {
            for index in 0..<count {
                let workflow = try #require(try fixture.db.workflow(processToken(process, index)))
                #expect(workflow.step(.bomConsumption)?.status == .completed)
                #expect(workflow.step(.bomProcessing)?.status == (index % 3 == 0 ? .failed : .completed))
            }
        }
        for index in 0..<shared {
            let workflow = try #require(try fixture.db.workflow(processToken(999, index)))
            let added = Set(workflow.steps.map(\.name.rawValue).filter { $0.dropFirst().first?.isNumber == true })
            var expected: Set<String> = []
            for process in 0..<processes {
                for item in stride(from: index, to: count, by: shared) { expected.insert("P\(process)_\(item)") }
            }
            #expect(added == expected, "shared workflow \(index) lost a concurrent addSteps")
        }
        #expect(try fixture.db.verifyIntegrity() == [])
        #expect(try fixture.db.statistics().workflows == shared + processes * count)
    }

    /// A process killed inside a read transaction leaves a stale reader; the next process to
    /// open clears it (mdb_reader_check), so heavy overwriting does not grow the file without
    /// bound (RELIABILITY.md L1/T3: < 2x the baseline).
    @Test func staleReaderOfAKilledProcessIsCleared() throws {
        let baseline = try TemporaryDirectory("baseline")
        defer { baseline.remove() }
        let rounds = "3000"
        let clean = try ChildProcess(
            Self.driver, ["churn", "--dir", baseline.path, "--rounds", rounds, "--sync", "none"])
        #expect(clean.wait() == 0)
        let baselineBytes = try #require(clean.lastJSON["dataBytes"] as? Int)

        // This process keeps the environment open, as a sibling server would: otherwise the lock
        // file is reset on the next open (L2) and the check has nothing to clear.
        let keeper = try StoreFixture()
        let directory = keeper.directory
        let holder = try ChildProcess(Self.driver, ["hold-read", "--dir", directory.path, "--sync", "none"])
        #expect(holder.waitForLine("READING"))
        let deadPID = Int(holder.process.processIdentifier)
        holder.kill()
        let churn = try ChildProcess(
            Self.driver, ["churn", "--dir", directory.path, "--rounds", rounds, "--sync", "none"])
        #expect(churn.wait() == 0)
        let bytes = try #require(churn.lastJSON["dataBytes"] as? Int)
        #expect((churn.lastJSON["staleReadersCleared"] as? Int ?? 0) >= 1)
        #expect(bytes < 2 * baselineBytes, "data.mdb \(bytes) bytes vs baseline \(baselineBytes)")
        let stats = try ChildProcess(Self.driver, ["stats", "--dir", directory.path])
        stats.wait()
        #expect(!((stats.lastJSON["readerPIDs"] as? [Int]) ?? []).contains(deadPID))
    }

    /// A process killed while holding LMDB's write lock does not block the others: the robust
    /// mutex is recovered and the next write commits (RELIABILITY.md L9/T4).
    @Test func writerKilledHoldingTheLockDoesNotBlockOthers() throws {
        let fixture = try StoreFixture()
        try fixture.create(.make(1), .projectClone)
        for _ in 0..<3 {
            let holder = try ChildProcess(
                Self.driver, ["hold-write", "--dir", fixture.directory.path, "--sync", "none"])
            #expect(holder.waitForLine("WRITING"))
            holder.kill()
            let started = Date()
            try fixture.set(.make(1), .projectClone, .completed)
            try fixture.db.perform(.restart(token: .make(1), step: .projectClone))
            #expect(Date().timeIntervalSince(started) < 10, "recovering the lock must not hang")
        }
        #expect(try fixture.db.verifyIntegrity() == [])
    }

    /// Another process restarts with a larger map and writes beyond this process's map: this
    /// process gets MDB_MAP_RESIZED, adopts the new size and keeps reading and writing
    /// (RELIABILITY.md L7).
    @Test func processWithALargerMapIsAdoptedByOthers() throws {
        let fixture = try StoreFixture { $0.mapSize = 2 << 20 }
        try fixture.create(.make(1), .projectClone)
        let grower = try ChildProcess(
            Self.driver,
            [
                "hammer", "--dir", fixture.directory.path, "--process", "5", "--count", "4000", "--sync", "none",
                "--map-size", String(256 << 20), "--pad", "250",
            ])
        var operations = 0
        while grower.process.isRunning {
            try fixture.set(.make(1), .projectClone, .completed)
            try fixture.db.perform(.restart(token: .make(1), step: .projectClone))
            _ = try fixture.db.list(WorkflowQuery(limit: 5))
            operations += 1
        }
        #expect(grower.wait() == 0, "\(grower.outputLines)")
        #expect(grower.lastJSON["errors"] as? Int == 0)
        // Everything the grower wrote is visible here, beyond the 2 MiB this process started with.
        for index in stride(from: 0, to: 4000, by: 97) {
            #expect(try fixture.db.workflow(processToken(5, index)) != nil)
        }
        #expect(try fixture.db.mapUsage().used > 2 << 20)
        #expect(fixture.db.mapResizeCount >= 1)
        #expect(operations > 0)
        #expect(try fixture.db.verifyIntegrity() == [])
    }

    /// A thread keeps its read snapshot between reads; a write by another process must be seen
    /// by the very next read of every thread that finished its previous read before the write.
    @Test func anotherProcessesWriteIsSeenByTheNextRead() throws {
        let fixture = try StoreFixture()
        for round in 0..<5 {
            // The hammer's second workflow stays processing (its first one fails and cascades).
            let token = processToken(6 + round, 1)
            // This thread's snapshot, taken before the other process writes.
            #expect(try fixture.db.workflow(token) == nil)
            #expect(try fixture.db.isProcessing(token) == false)
            let writer = try ChildProcess(
                Self.driver,
                [
                    "hammer", "--dir", fixture.directory.path, "--process", String(6 + round), "--count", "2", "--sync",
                    "none",
                ])
            #expect(writer.wait() == 0, "\(writer.outputLines)")
            #expect(try fixture.db.workflow(token)?.step(.bomConsumption)?.status == .completed)
            #expect(try fixture.db.isProcessing(token) == true)
        }
    }

    /// A snapshot an idle thread keeps is reset by the next sweep once another process has
    /// committed (it would stop LMDB from reusing the pages that commit freed).
    @Test func aSweepLetsGoOfSnapshotsAnotherProcessMadeOld() throws {
        let fixture = try StoreFixture()
        _ = try fixture.db.workflow(processToken(11, 0))
        fixture.db.releaseIdleReaders()
        #expect(fixture.db.keptSnapshots == 1, "current and used: kept")
        let writer = try ChildProcess(
            Self.driver,
            ["hammer", "--dir", fixture.directory.path, "--process", "11", "--count", "1", "--sync", "none"])
        #expect(writer.wait() == 0, "\(writer.outputLines)")
        fixture.db.releaseIdleReaders()
        #expect(fixture.db.keptSnapshots == 0, "old: reset")
        #expect(try fixture.db.workflow(processToken(11, 0)) != nil)
    }

    /// Threads that keep a snapshot while another process grows the map: the adoption resets
    /// them (a live snapshot would read the old mapping), and each thread's next read renews it
    /// on the new map.
    @Test func threadsKeepingASnapshotWhileTheMapGrows() throws {
        let fixture = try StoreFixture { $0.mapSize = 2 << 20 }
        try fixture.create(.make(1), .projectClone)
        let store = fixture.db
        let go = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let seen = Mutex<[Bool]>([])
        for _ in 0..<3 {
            Thread.detachNewThread {
                // Keep a snapshot, then wait idle while the map grows.
                _ = try? store.workflow(.make(1))
                done.signal()
                go.wait()
                let found = (try? store.workflow(MultiProcessTests().processToken(5, 999))) != nil
                seen.withLock { $0.append(found) }
                done.signal()
            }
        }
        for _ in 0..<3 { done.wait() }
        #expect(store.keptSnapshots >= 3)
        // No sweep runs here, so the kept snapshots pin every page the grower frees: it gets
        // room for that (1,000 workflows in 256 MiB).
        let grower = try ChildProcess(
            Self.driver,
            [
                "hammer", "--dir", fixture.directory.path, "--process", "5", "--count", "1000", "--sync", "none",
                "--map-size", String(256 << 20), "--pad", "250",
            ])
        #expect(grower.wait() == 0, "\(grower.outputLines)")
        // This thread's write runs into the old map's end and adopts the grown one.
        try fixture.set(.make(1), .projectClone, .completed)
        #expect(store.mapResizeCount >= 1)
        for _ in 0..<3 { go.signal() }
        for _ in 0..<3 { done.wait() }
        #expect(seen.withLock { $0 } == [true, true, true])
        #expect(try fixture.db.verifyIntegrity() == [])
    }
}
