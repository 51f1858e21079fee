import LMDB
import Storage
import TestSupport
import Testing
import WorkflowModel

@testable import LMDBStore

/// Lazy deadline filing (format 8, docs/STORAGE.md): activity on a step with a deadline leaves its
/// `deadlines` entry where it is; the scan re-files an entry it finds due on a step active since,
/// and a step still times out exactly one step timeout after its last activity — never earlier,
/// never later.
struct DeadlineFilingTests {
    let step = StepName.make("STEP")

    func create(_ fixture: StoreFixture, _ token: Token) throws {
        try fixture.create(token, steps: [StepSpec(step)])
    }

    /// The `deadlines` entries: (filing time, ordinal) in key order.
    func deadlines(_ store: LMDBStore) throws -> [(time: Int64, ordinal: Int)] {
        try store.read { txn in
            try txn.withCursor(store.databases.deadlines) { cursor in
                var found: [(Int64, Int)] = []
                var more = try cursor.first()
                while more {
                    let key = cursor.key
                    found.append((LMDBStore.keyTime(key).milliseconds, Int(key[16])))
                    more = try cursor.next()
                }
                return found
            }
        }
    }

    /// The timeout semantics on every backend: activity 50 minutes in restarts the step's hour.
    @Test(arguments: Backend.all) func aStepTimesOutOneTimeoutAfterItsLastActivity(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        try create(fixture, .make(1))
        fixture.clock.advance(minutes: 50)
        let active = fixture.clock.time
        try fixture.store!.perform(.update(token: .make(1), step: step, command: .start))
        fixture.clock.advance(minutes: 11)  // 61 minutes after it became ready, 11 after its activity
        #expect(try fixture.store!.runMaintenance().timedOut == 0)
        #expect(try fixture.store!.workflow(.make(1))?.step(step)?.status == .pending)
        fixture.clock.advance(minutes: 49)  // exactly one hour after the activity: not yet
        #expect(fixture.clock.time == active.adding(milliseconds: 60 * 60 * 1000))
        #expect(try fixture.store!.runMaintenance().timedOut == 0)
        fixture.clock.advance(milliseconds: 1)
        #expect(try fixture.store!.runMaintenance().timedOut == 1)
        let timedOut = try #require(try fixture.store!.workflow(.make(1))?.step(step))
        #expect(timedOut.status == .timedOut)
        #expect(timedOut.updatedAt == fixture.clock.time)
        try fixture.expectIntact()
    }

    /// LMDB: the activity wrote no `deadlines` entry; the step's row remembers where the entry is;
    /// the scan that finds it due moves it to the activity and the row forgets the filing time.
    @Test func activityLeavesTheEntryAndTheScanRefilesIt() throws {
        let fixture = try StoreFixture()
        try create(fixture, .make(1))
        let ready = fixture.clock.time.milliseconds
        #expect(try deadlines(fixture.db).map(\.time) == [ready])
        fixture.clock.advance(minutes: 50)
        let active = fixture.clock.time
        try fixture.store!.perform(.update(token: .make(1), step: step, command: .start))
        try fixture.store!.perform(
            .update(token: .make(1), step: step, command: .progress(ProgressUpdate(addCompleted: 1))))
        #expect(try deadlines(fixture.db).map(\.time) == [ready], "activity moves no entry")
        let workflow = try #require(try fixture.store!.workflow(.make(1)))
        let filed = try fixture.db.read { txn in
            try fixture.db.filedTimes(at: LMDBStore.deadlineOrdinals(of: workflow), id: 1, in: txn)
        }
        #expect(filed.mapValues(\.milliseconds) == [0: ready])
        try fixture.expectIntact()

        // Ten minutes on, the entry is not due yet: nothing is visited beyond it.
        fixture.clock.advance(minutes: 10)
        #expect(try fixture.store!.runMaintenance().deadlineEntriesVisited == 1)
        #expect(try deadlines(fixture.db).map(\.time) == [ready])
        // Due: visited, the step is alive, so it is re-filed at its last activity.
        fixture.clock.advance(minutes: 1)
        let report = try fixture.store!.runMaintenance()
        #expect(report.timedOut == 0)
        #expect(report.deadlineEntriesVisited >= 1)
        #expect(try deadlines(fixture.db).map(\.time) == [active.milliseconds])
        let after = try #require(try fixture.store!.workflow(.make(1)))
        #expect(after.version == workflow.version, "re-filing changes nothing of the workflow")
        #expect(
            try fixture.db.read { txn in
                try fixture.db.filedTimes(at: LMDBStore.deadlineOrdinals(of: after), id: 1, in: txn)
            }.isEmpty)
        try fixture.expectIntact()
    }

    /// Deleting a workflow removes a lazily filed entry too (the filing time is in the step row,
    /// which goes in the same transaction).
    @Test func deletingRemovesALazilyFiledEntry() throws {
        let fixture = try StoreFixture()
        try create(fixture, .make(1))
        fixture.clock.advance(minutes: 50)
        try fixture.store!.perform(.update(token: .make(1), step: step, command: .start))
        #expect(try deadlines(fixture.db).count == 1)
        try fixture.store!.perform(.delete(token: .make(1)))
        #expect(try deadlines(fixture.db).isEmpty)
        try fixture.expectIntact()
    }

    /// An entry already due is not kept by later activity: it moves to the activity at once, so a
    /// step that keeps being active is visited at most once per timeout.
    @Test func activityAfterTheEntryIsDueFilesItExactly() throws {
        let fixture = try StoreFixture()
        try create(fixture, .make(1))
        fixture.clock.advance(minutes: 61)
        try fixture.store!.perform(.update(token: .make(1), step: step, command: .start))
        #expect(try deadlines(fixture.db).map(\.time) == [fixture.clock.time.milliseconds])
        let report = try fixture.store!.runMaintenance()
        #expect(report.timedOut == 0)
        try fixture.expectIntact()
    }

    /// A status change files exactly; a step that stops having a deadline loses its entry and the
    /// row its filing time (the integrity check reports either if left behind).
    @Test func aStatusChangeFilesExactly() throws {
        let fixture = try StoreFixture()
        try create(fixture, .make(1))
        fixture.clock.advance(minutes: 30)
        try fixture.store!.perform(.update(token: .make(1), step: step, command: .start))
        fixture.clock.advance(minutes: 31)
        // Due and alive: re-filed at the start; then 61 more minutes: timed out (filed at now).
        #expect(try fixture.store!.runMaintenance().timedOut == 0)
        fixture.clock.advance(minutes: 31)
        #expect(try fixture.store!.runMaintenance().timedOut == 1)
        #expect(try deadlines(fixture.db).map(\.time) == [fixture.clock.time.milliseconds])
        fixture.clock.advance(minutes: 5)
        try fixture.set(.make(1), step, .completed)
        #expect(try deadlines(fixture.db).isEmpty)
        try fixture.expectIntact()
    }

    /// The integrity check catches a filing time that is not before the step's last activity and
    /// one left on a step without a deadline (so the tests above could fail).
    @Test func theIntegrityCheckSeesBadFilingTimes() throws {
        let fixture = try StoreFixture()
        try create(fixture, .make(1))
        try fixture.store!.perform(
            .create(
                token: .make(2), definition: WorkflowDefinition(template: .bomUpload), labels: Labels(), createdBy: nil)
        )
        let one = try #require(try fixture.store!.workflow(.make(1)))
        try fixture.db.write { txn in
            let late = one.steps[0].updatedAt.adding(milliseconds: 5)
            try txn.put(
                RecordCodec.encodeStep(one.steps[0], parentOrdinal: nil, filedAt: late), forKey: Keys.step(1, 0),
                in: fixture.db.databases.steps)
        }
        let two = try #require(try fixture.store!.workflow(.make(2)))
        let waiting = try #require(two.steps.indices.last)
        #expect(!LMDBStore.deadlineOrdinals(of: two).contains(waiting))
        try fixture.db.write { txn in
            let parent = two.steps[waiting].parent.flatMap { two.index(of: $0) }
            try txn.put(
                RecordCodec.encodeStep(two.steps[waiting], parentOrdinal: parent, filedAt: Timestamp(milliseconds: 1)),
                forKey: Keys.step(2, waiting), in: fixture.db.databases.steps)
        }
        let problems = try fixture.integrityProblems()
        #expect(problems.contains { $0.contains("not before its last activity") }, "\(problems)")
        #expect(problems.contains { $0.contains("a filing time without a deadline") }, "\(problems)")
    }
}
