import LMDB
import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

/// Ready queues, claims, leases and their expiry, in the store (issue: orchestration).
struct OrchestrationTests {
    func claim(
        _ fixture: StoreFixture, _ names: [StepName], worker: String = "w1", lease: Int64 = 60_000, max: Int = 10
    ) throws -> [ClaimedStep] {
        let outcome = try fixture.store!.perform(
            .claim(steps: names, worker: worker, leaseMilliseconds: lease, max: max))
        guard case .claimed(let claims) = outcome else {
            Issue.record("expected claims, got \(outcome)")
            return []
        }
        return claims
    }

    @Test(arguments: Backend.all) func claimsTakeReadyStepsOnceInTheOrderTheyBecameReady(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        for number in 1...3 {
            try fixture.create(Token.make(UInt64(number)))
            fixture.clock.advance(milliseconds: 10)
        }
        // Nothing but roots is ready; claims take the oldest first and never twice.
        #expect(try claim(fixture, [.bomProcessing]).isEmpty)
        let first = try claim(fixture, [.bomConsumption], max: 2)
        #expect(first.map(\.token) == [Token.make(1), Token.make(2)])
        #expect(first.allSatisfy { $0.claim.attempt == 1 && $0.claim.worker == "w1" })
        let second = try claim(fixture, [.bomConsumption, .vulnAnalysis], worker: "w2")
        #expect(second.map(\.token) == [Token.make(3)])
        #expect(try claim(fixture, [.bomConsumption], worker: "w3").isEmpty)
        let claimed = try #require(try fixture.store!.workflow(Token.make(1))?.step(.bomConsumption))
        #expect(claimed.startedAt == first[0].claim.leaseExpiresAt.adding(milliseconds: -60_000))
        #expect(claimed.attempts == 1)
        try fixture.expectIntact()

        // Finishing the claimed step (as its worker) makes the child ready.
        fixture.clock.advance(milliseconds: 5)
        _ = try fixture.store!.perform(
            .update(
                token: Token.make(1), step: .bomConsumption, command: .setStatus(.completed, failureReason: nil),
                actor: .worker("w1")))
        let next = try claim(fixture, [.bomProcessing], worker: "w4")
        #expect(next.map(\.token) == [Token.make(1)])
        try fixture.expectIntact()
    }

    /// The queue keeps the order in which steps became ready: activity on a waiting step (a
    /// client marking it started, progress) moves `updatedAt` but not its place.
    @Test(arguments: Backend.all) func activityDoesNotReorderTheReadyQueue(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        try fixture.create(Token.make(1), .projectClone)
        fixture.clock.advance(milliseconds: 10)
        try fixture.create(Token.make(2), .projectClone)
        fixture.clock.advance(milliseconds: 10)
        _ = try fixture.store!.perform(.update(token: Token.make(1), step: .projectClone, command: .start))
        _ = try fixture.store!.perform(
            .update(token: Token.make(1), step: .projectClone, command: .progress(ProgressUpdate(expected: 10))))
        let step = try #require(try fixture.store!.workflow(Token.make(1))?.step(.projectClone))
        #expect(step.updatedAt == fixture.clock.time)
        #expect(step.readyAt == fixture.clock.time.adding(milliseconds: -20))
        #expect(try claim(fixture, [.projectClone], max: 2).map(\.token) == [Token.make(1), Token.make(2)])
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func onlyTheHolderOrAnAdminChangesAClaimedStep(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        let token = Token.make(7)
        try fixture.create(token, .projectClone)
        _ = try claim(fixture, [.projectClone], worker: "holder")
        let done = WriteOperation.update(
            token: token, step: .projectClone, command: .setStatus(.completed, failureReason: nil), actor: .anyone)
        #expect(throws: WorkflowStoreError.refused(.claimedByAnother(step: .projectClone, worker: "holder"))) {
            try fixture.store!.perform(done)
        }
        #expect(throws: WorkflowStoreError.refused(.claimedByAnother(step: .projectClone, worker: "holder"))) {
            try fixture.store!.perform(
                .update(
                    token: token, step: .projectClone, command: .heartbeat(leaseMilliseconds: 5000),
                    actor: .worker("thief")))
        }
        fixture.clock.advance(milliseconds: 100)
        let beat = try fixture.store!.perform(
            .update(
                token: token, step: .projectClone, command: .heartbeat(leaseMilliseconds: 5000),
                actor: .worker("holder")))
        #expect(
            beat.workflow?.step(.projectClone)?.claim?.leaseExpiresAt == fixture.clock.time.adding(milliseconds: 5000))
        try fixture.expectIntact()
        _ = try fixture.store!.perform(
            .update(
                token: token, step: .projectClone, command: .setStatus(.failed, failureReason: "admin says no"),
                actor: .admin))
        let workflow = try #require(try fixture.store!.workflow(token))
        #expect(workflow.step(.projectClone)?.claim == nil)
        #expect(throws: WorkflowStoreError.refused(.stepFinished(step: .projectClone, status: .failed))) {
            try fixture.store!.perform(
                .update(token: token, step: .projectClone, command: .heartbeat(leaseMilliseconds: 5000), actor: .admin))
        }
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func expiredLeasesRequeueThenFailAfterMaxAttempts(backend: Backend) throws {
        let fixture = try StoreFixture(backend) { $0.maxAttempts = 3 }
        let token = Token.make(9)
        try fixture.create(token)
        for attempt in 1...3 {
            let claims = try claim(fixture, [.bomConsumption], worker: "w\(attempt)", lease: 10_000)
            #expect(claims.map(\.claim.attempt) == [attempt])
            fixture.clock.advance(milliseconds: 9_999)
            #expect(try fixture.store!.runMaintenance().leasesExpired == 0, "the lease still lives")
            fixture.clock.advance(milliseconds: 1)
            let report = try fixture.store!.runMaintenance()
            if attempt < 3 {
                #expect(report.leasesExpired == 1)
                let step = try #require(try fixture.store!.workflow(token)?.step(.bomConsumption))
                #expect(step.status == .pending && step.claim == nil && step.updatedAt == fixture.clock.time)
            } else {
                #expect(report.leaseFailures == 1)
                #expect(report.cancelled == 4)
            }
            try fixture.expectIntact()
        }
        let workflow = try #require(try fixture.store!.workflow(token))
        #expect(workflow.step(.bomConsumption)?.status == .failed)
        #expect(workflow.step(.bomConsumption)?.failureReason == "Lease expired after 3 attempts")
        #expect(!workflow.isProcessing)
        #expect(try claim(fixture, [.bomConsumption]).isEmpty)
    }

    /// The step timeout still applies to a claimed step that nobody heartbeats; a heartbeat is
    /// activity and moves the deadline.
    @Test(arguments: Backend.all) func claimedStepsStillTimeOut(backend: Backend) throws {
        let fixture = try StoreFixture(backend) { $0.stepTimeout = 10 * 60_000 }
        let quiet = Token.make(1)
        let beating = Token.make(2)
        try fixture.create(quiet, .projectClone)
        try fixture.create(beating, .projectClone)
        _ = try claim(fixture, [.projectClone], lease: 3_600_000, max: 2)
        fixture.clock.advance(minutes: 5)
        _ = try fixture.store!.perform(
            .update(
                token: beating, step: .projectClone, command: .heartbeat(leaseMilliseconds: 3_600_000),
                actor: .worker("w1")))
        fixture.clock.advance(minutes: 6)
        let report = try fixture.store!.runMaintenance()
        #expect(report.timedOut == 1)
        #expect(try fixture.store!.workflow(quiet)?.step(.projectClone)?.status == .timedOut)
        #expect(try fixture.store!.workflow(beating)?.step(.projectClone)?.status == .pending)
        // The late result of the timed-out step's holder still counts.
        _ = try fixture.store!.perform(
            .update(
                token: quiet, step: .projectClone, command: .setStatus(.completed, failureReason: nil),
                actor: .worker("w1")))
        #expect(try fixture.store!.workflow(quiet)?.isProcessing == false)
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func restartClearsClaimsAndAttempts(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        let token = Token.make(3)
        try fixture.create(token, .projectClone)
        _ = try claim(fixture, [.projectClone])
        _ = try fixture.store!.perform(
            .update(
                token: token, step: .projectClone, command: .setStatus(.completed, failureReason: nil),
                actor: .worker("w1")))
        _ = try fixture.store!.perform(.restart(token: token, step: .projectClone))
        let step = try #require(try fixture.store!.workflow(token)?.step(.projectClone))
        #expect(step.attempts == 0 && step.claim == nil)
        #expect(try claim(fixture, [.projectClone]).first?.claim.attempt == 1)
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func badClaimsAreRefused(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        #expect(throws: WorkflowStoreError.self) {
            try fixture.store!.perform(.claim(steps: [.projectClone], worker: "", leaseMilliseconds: 60_000, max: 1))
        }
        #expect(throws: WorkflowStoreError.self) {
            try fixture.store!.perform(.claim(steps: [.projectClone], worker: "w", leaseMilliseconds: 10, max: 1))
        }
    }

    /// A data directory written by format 1 (no ready queues) is migrated when opened.
    @Test func formatOneIsMigrated() throws {
        let fixture = try StoreFixture()
        for number in 1...50 {
            try fixture.create(Token.make(UInt64(number)), number % 2 == 0 ? .bomUpload : .reanalysis)
        }
        try fixture.set(Token.make(2), .bomConsumption, .completed)
        let path = fixture.directory.path
        let options = fixture.db.options
        do {
            // What a format-1 directory looks like: no ready entries, version 1.
            let environment = try Environment.open(path: path)
            let ready = try environment.openDatabase(named: "ready")
            let meta = try environment.openDatabase(named: "meta")
            let workflows = try environment.openDatabase(named: "workflows")
            let steps = try environment.openDatabase(named: "steps")
            try environment.write { txn in
                #expect(try OlderFormats.moveRecordsToWorkflows(in: txn, steps: steps, workflows: workflows) == 50)
                var keys: [[UInt8]] = []
                try txn.withCursor(ready) { cursor in
                    var more = try cursor.first()
                    while more {
                        keys.append(cursor.key)
                        more = try cursor.next()
                    }
                }
                #expect(keys.count == 50, "one ready root per workflow")
                for key in keys { try txn.delete(key, in: ready) }
                try txn.put([0, 0, 0, 1], forKey: Array("format-version".utf8), in: meta)
                // Workflow records as format 1 wrote them: version 1, no token status byte after
                // the version, no flags byte at the end (these workflows have no key).
                var records: [([UInt8], [UInt8])] = []
                try txn.withCursor(workflows) { cursor in
                    var more = try cursor.first()
                    while more {
                        records.append((cursor.key, cursor.value))
                        more = try cursor.next()
                    }
                }
                for (key, value) in records {
                    #expect(value[0] == 2 && value.last == 0)
                    try txn.put([1] + value[2..<(value.count - 1)], forKey: key, in: workflows)
                }
            }
        }
        try fixture.reopen { $0 = options }
        try fixture.expectIntact()
        let environment = try Environment.open(path: path)
        let meta = try environment.openDatabase(named: "meta")
        #expect(
            try environment.read { try $0.value(forKey: Array("format-version".utf8), in: meta) } == [
                0, 0, 0, UInt8(LMDBStore.formatVersion),
            ])
        // Version-1 records decode, and their status comes from the step rows.
        #expect(try fixture.db.tokenStatus(.make(2)) == .running)
        #expect(try fixture.db.tokenStatus(.make(1)) == .pending)
        #expect(try fixture.db.workflow(.make(2))?.step(.bomConsumption)?.status == .completed)
        #expect(try claim(fixture, [.bomProcessing]).map(\.token) == [Token.make(2)])
        #expect(try fixture.db.tokenStatus(.make(2)) == .running, "the claim rewrote the record as version 2")
    }
}
