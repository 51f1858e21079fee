import Dispatch
import Foundation
import LMDB
import LMDBStore
import Storage
import Synchronization
import TestSupport
import Testing
import WorkflowModel

/// The three scenarios of Hyades' WorkflowMaintenanceTaskTest (DESIGN.md §1), plus the cost
/// and coordination properties of the cursor scans.
struct MaintenanceTests {
    let parent = StepName.make("PARENT")
    let child = StepName.make("CHILD")

    func createParent(_ fixture: StoreFixture, _ token: Token) throws {
        try fixture.create(token, steps: [StepSpec(parent)])
    }

    /// Hyades: a pending parent past the timeout with a fresh child → parent TIMED_OUT, child untouched.
    @Test(arguments: Backend.all) func timedOutParentWithFreshChild(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        try createParent(fixture, .make(1))
        fixture.clock.advance(minutes: 30)
        try fixture.store!.perform(.addSteps(token: .make(1), steps: [StepSpec(child, parent: parent)]))
        let childBefore = try #require(try fixture.store!.workflow(.make(1))?.step(child))
        fixture.clock.advance(minutes: 31)
        let report = try fixture.store!.runMaintenance()
        #expect(report.timedOut == 1)
        let workflow = try #require(try fixture.store!.workflow(.make(1)))
        #expect(workflow.step(parent)?.status == .timedOut)
        #expect(workflow.step(parent)?.updatedAt == fixture.clock.time)
        #expect(workflow.step(child) == childBefore)
        #expect(workflow.isProcessing)
        try fixture.expectIntact()
    }

    /// Hyades: a TIMED_OUT parent past the timeout → FAILED "Timed out"; the child CANCELLED
    /// with the parent's updatedAt.
    @Test(arguments: Backend.all) func timedOutParentPastTheTimeoutFailsAndCancelsTheChild(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        try createParent(fixture, .make(1))
        try fixture.store!.perform(.addSteps(token: .make(1), steps: [StepSpec(child, parent: parent)]))
        fixture.clock.advance(minutes: 61)
        #expect(try fixture.store!.runMaintenance().timedOut == 1)
        fixture.clock.advance(minutes: 61)
        let report = try fixture.store!.runMaintenance()
        #expect(report.failed == 1)
        #expect(report.cancelled == 1)
        let workflow = try #require(try fixture.store!.workflow(.make(1)))
        let failed = try #require(workflow.step(parent))
        #expect(failed.status == .failed)
        #expect(failed.failureReason == "Timed out")
        #expect(workflow.step(child)?.status == .cancelled)
        #expect(workflow.step(child)?.updatedAt == failed.updatedAt)
        #expect(workflow.step(child)?.failureReason == nil)
        #expect(!workflow.isProcessing)
        try fixture.expectIntact()
    }

    /// Hyades: retention deletes only workflows that are all terminal and all older than the cutoff.
    @Test(arguments: Backend.all) func retentionDeletesOnlyOldFinishedWorkflows(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        try fixture.create(.make(1), .reanalysis)  // finished long ago → deleted
        try fixture.set(.make(1), .vulnAnalysis, .completed)
        try fixture.set(.make(1), .policyEvaluation, .completed)
        try fixture.create(.make(2), .reanalysis)  // one step finished long ago, one recently → kept
        try fixture.set(.make(2), .vulnAnalysis, .completed)
        try fixture.create(.make(3), .reanalysis)  // still processing → kept (and times out instead)
        fixture.clock.advance(minutes: 72 * 60 - 10)
        try fixture.set(.make(2), .policyEvaluation, .notApplicable)
        try fixture.create(.make(4), .projectClone)  // finished recently → kept
        try fixture.set(.make(4), .projectClone, .completed)
        fixture.clock.advance(minutes: 11)
        let report = try fixture.store!.runMaintenance()
        #expect(report.deleted == 1)
        #expect(try fixture.store!.workflow(.make(1)) == nil)
        for kept in [2, 3, 4] { #expect(try fixture.store!.workflow(.make(UInt64(kept))) != nil) }
        try fixture.expectIntact()
    }

    /// A pass reads only the entries that expire, plus one boundary entry per transaction:
    /// thousands of fresh entries are never visited.
    @Test func aPassVisitsOnlyExpiringEntries() throws {
        let fixture = try StoreFixture()
        for number in 1...5 { try fixture.create(.make(UInt64(number)), .reanalysis) }
        for number in 6...8 {
            try fixture.create(.make(UInt64(number)), .projectClone)
            try fixture.set(.make(UInt64(number)), .projectClone, .completed)
        }
        fixture.clock.advance(minutes: 50)
        for number in 100..<2_100 { try fixture.create(.make(UInt64(number)), .projectClone) }
        for number in 3_000..<4_000 {
            try fixture.create(.make(UInt64(number)), .projectClone)
            try fixture.set(.make(UInt64(number)), .projectClone, .completed)
        }
        fixture.clock.advance(minutes: 11)
        let report = try fixture.db.runMaintenance()
        #expect(report.timedOut == 5)
        #expect(
            report.deadlineEntriesVisited == 5 + 1, "5 expiring entries and the first fresh one; not the 2,000 fresh")
        #expect(report.finishedEntriesVisited == 1, "nothing is past retention: only the oldest entry is read")
        #expect(report.deleted == 0)
        // 72 hours on, the 3 old finished workflows and the 1,000 newer ones go, in batches.
        fixture.clock.advance(minutes: 72 * 60)
        let later = try fixture.db.runMaintenance()
        #expect(later.deleted == 1_003)
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func largePassesRunInBoundedBatches(backend: Backend) throws {
        let fixture = try StoreFixture(backend) { $0.maintenanceBatchSize = 3 }
        for number in 1...10 { try fixture.create(.make(UInt64(number)), .projectClone) }
        fixture.clock.advance(minutes: 61)
        let report = try fixture.store!.runMaintenance()
        #expect(report.timedOut == 10)
        #expect(report.transactions >= 4 + 1, "10 entries in batches of 3 take 4 timeout transactions plus retention's")
        fixture.clock.advance(minutes: 61)
        #expect(try fixture.store!.runMaintenance().failed == 10)
        try fixture.expectIntact()
    }

    /// A pass with much to do and a busy writer share the write lock: while the pass times out
    /// 10,000 steps in 400 durable transactions, another thread's creates each wait for about
    /// one batch, and they do not hold the pass up either. LMDB's writer mutex is not fair:
    /// without the hand-over in `Environment.write` one side keeps the lock (measured on an idle
    /// machine: 32 and 41 creates during the pass, so ~10 batches per create; with two CPU hogs
    /// 926, the creating thread winning instead; with the hand-over 404–608). The waits are
    /// counted in commits (LMDB's transaction IDs), not time: a thread the scheduler leaves
    /// waiting on a busy machine sees the same counts.
    @Test func aLongPassLetsWaitingWritersGoBetweenBatches() throws {
        let fixture = try StoreFixture { $0.maintenanceBatchSize = 25 }
        let expiring = 10_000
        for number in 1...expiring { try fixture.create(.make(UInt64(number)), .projectClone) }
        try fixture.reopen { $0.durability = .full }
        fixture.clock.advance(minutes: 61)
        let passRunning = Atomic<Bool>(false)
        let passEnded = Atomic<Bool>(false)
        // For each create during the pass: commits by others between its start and its end.
        let othersCommits = Mutex<[Int]>([])
        let writerFailures = Mutex<[String]>([])
        let writerDone = DispatchSemaphore(value: 0)
        let store = fixture.db
        // Its own thread, not a pool's: the pool may be busy with other tests.
        Thread.detachNewThread {
            defer { writerDone.signal() }
            var number: UInt64 = 1_000_000
            while !passEnded.load(ordering: .sequentiallyConsistent) {
                let started = passRunning.load(ordering: .sequentiallyConsistent)
                number += 1
                do {
                    let before = try store.cheapFigures().lastTransactionID
                    try store.perform(
                        .create(
                            token: .make(number), definition: WorkflowDefinition(template: .projectClone),
                            labels: Labels(), createdBy: nil))
                    let after = try store.cheapFigures().lastTransactionID
                    if started, !passEnded.load(ordering: .sequentiallyConsistent) {
                        othersCommits.withLock { $0.append(after - before - 1) }
                    }
                } catch {
                    writerFailures.withLock { $0.append("\(error)") }
                    return
                }
            }
        }
        passRunning.store(true, ordering: .sequentiallyConsistent)
        let report = try fixture.db.runMaintenance()
        passEnded.store(true, ordering: .sequentiallyConsistent)
        writerDone.wait()
        #expect(writerFailures.withLock { $0 }.isEmpty)
        #expect(report.timedOut == expiring)
        #expect(report.transactions >= expiring / 25)
        let waits = othersCommits.withLock { $0 }.sorted()
        try #require(waits.count >= 10, "creates during the pass: \(waits.count)")
        let median = waits[waits.count / 2]
        #expect(median <= 3, "a create waits for a batch or two, not many: median \(median) of \(waits.count)")
        #expect(waits.count <= report.transactions * 4, "the pass's batches are not kept waiting: \(waits.count)")
        #expect(try fixture.db.cheapFigures().writeLockHandOvers > 0)
        try fixture.expectIntact()
    }

    /// Another process's unexpired lease makes a pass skip; an expired one is taken over.
    @Test func onlyOneHolderOfTheLeaseRunsAPass() throws {
        let fixture = try StoreFixture()
        try fixture.create(.make(1), .projectClone)
        fixture.clock.advance(minutes: 61)
        let environment = try Environment.open(path: fixture.directory.path)
        let meta = try environment.openDatabase(named: "meta")
        let expires = UInt64(bitPattern: fixture.clock.time.milliseconds + 30_000)
        let foreign: [UInt8] =
            [0xAB, 0, 0, 0, 0, 0, 0, 1] + (0..<8).map { UInt8(truncatingIfNeeded: expires >> (56 - 8 * UInt64($0))) }
        try environment.write { txn in try txn.put(foreign, forKey: Array("lease/maintenance".utf8), in: meta) }
        let skipped = try fixture.db.runMaintenance()
        #expect(skipped.skipped)
        #expect(try fixture.db.workflow(.make(1))?.steps[0].status == .pending)
        fixture.clock.advance(milliseconds: 30_001)
        let taken = try fixture.db.runMaintenance()
        #expect(!taken.skipped)
        #expect(taken.timedOut == 1)
    }
}
