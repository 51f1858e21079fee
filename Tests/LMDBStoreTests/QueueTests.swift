import Storage
import TestSupport
import Testing
import WorkflowModel

/// The ready queues' figures and pauses (issue 14), on every backend with a manual clock.
struct QueueTests {
    func create(_ fixture: StoreFixture, _ number: UInt64, steps: [String]) throws {
        try fixture.store!.perform(
            .create(
                token: Token.make(number), definition: WorkflowDefinition(steps: steps.map { StepSpec(StepName($0)!) }),
                labels: Labels(), createdBy: "test"))
        fixture.clock.advance(milliseconds: 1000)
    }

    func claim(_ fixture: StoreFixture, _ names: [String], max: Int = 10) throws -> [ClaimedStep] {
        let outcome = try fixture.store!.perform(
            .claim(steps: names.map { StepName($0)! }, worker: "w", leaseMilliseconds: 600_000, max: max))
        guard case .claimed(let claims) = outcome else { return [] }
        return claims
    }

    func figures(_ fixture: StoreFixture) throws -> [String: QueueFigures] {
        Dictionary(uniqueKeysWithValues: try fixture.store!.queues().map { ($0.step.rawValue, $0) })
    }

    @Test(arguments: Backend.all) func countsFollowReadinessClaimsAndEnds(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        let start = fixture.clock.time
        try create(fixture, 1, steps: ["SCAN", "REPORT"])
        try create(fixture, 2, steps: ["SCAN"])
        try create(fixture, 3, steps: ["SCAN"])
        var queues = try figures(fixture)
        #expect(queues["SCAN"]?.ready == 3 && queues["SCAN"]?.claimed == 0)
        #expect(queues["REPORT"]?.ready == 1)
        #expect(queues["SCAN"]?.oldestReady == start, "the first created is the oldest ready")
        _ = try claim(fixture, ["SCAN"], max: 2)
        queues = try figures(fixture)
        #expect(queues["SCAN"]?.ready == 1 && queues["SCAN"]?.claimed == 2)
        #expect(queues["SCAN"]?.oldestReady == start.adding(milliseconds: 2000))
        try fixture.store!.perform(
            .update(
                token: Token.make(1), step: StepName("SCAN")!, command: .setStatus(.completed, failureReason: nil),
                actor: .worker("w")))
        try fixture.store!.perform(.delete(token: Token.make(3)))
        queues = try figures(fixture)
        #expect(queues["SCAN"]?.ready == 0 && queues["SCAN"]?.claimed == 1)
        #expect(queues["SCAN"]?.oldestReady == nil)
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func aPausedQueueIsNotClaimedAndDoesNotTimeOut(backend: Backend) throws {
        let fixture = try StoreFixture(backend) { $0.stepTimeout = 60_000 }
        try create(fixture, 1, steps: ["SCAN"])
        try create(fixture, 2, steps: ["REPORT"])
        let paused = try fixture.store!.perform(.pauseQueue(StepName("SCAN")!, paused: true))
        #expect(paused == .queuePaused(StepName("SCAN")!, paused: true, changed: true))
        #expect(
            try fixture.store!.perform(.pauseQueue(StepName("SCAN")!, paused: true))
                == .queuePaused(StepName("SCAN")!, paused: true, changed: false), "idempotent")
        #expect(try claim(fixture, ["SCAN"]).isEmpty, "a paused queue hands out nothing")
        #expect(!(try fixture.store!.hasClaimable([StepName("SCAN")!])))
        #expect(try claim(fixture, ["SCAN", "REPORT"]).map(\.step.rawValue) == ["REPORT"], "other queues go on")
        try fixture.store!.perform(
            .update(
                token: Token.make(2), step: StepName("REPORT")!, command: .setStatus(.completed, failureReason: nil),
                actor: .worker("w")))
        #expect(try figures(fixture)["SCAN"]?.paused == true && (try figures(fixture)["SCAN"]?.ready) == 1)

        // Past the step timeout: the paused queue's ready step stays PENDING.
        fixture.clock.advance(minutes: 5)
        let report = try fixture.store!.runMaintenance()
        #expect(report.timedOut == 0)
        #expect(try fixture.store!.workflow(Token.make(1))?.steps[0].status == .pending)

        // Resumed: claimable again, and the next pass times out what waited too long.
        #expect(
            try fixture.store!.perform(.pauseQueue(StepName("SCAN")!, paused: false))
                == .queuePaused(StepName("SCAN")!, paused: false, changed: true))
        #expect(try fixture.store!.hasClaimable([StepName("SCAN")!]))
        #expect(try fixture.store!.runMaintenance().timedOut == 1)
        #expect(try figures(fixture)["SCAN"] == nil, "nothing ready, claimed or paused: not listed")
        try fixture.expectIntact()
    }

    /// More paused expired entries than one maintenance batch: the scan moves past them and
    /// still times out what is behind them (it neither loops nor stops at the paused ones).
    @Test func maintenanceMovesPastPausedEntries() throws {
        let fixture = try StoreFixture(.lmdb) {
            $0.stepTimeout = 60_000
            $0.maintenanceBatchSize = 4
        }
        for number in 1...10 { try create(fixture, UInt64(number), steps: ["PAUSED"]) }
        try create(fixture, 11, steps: ["LIVE"])
        try fixture.store!.perform(.pauseQueue(StepName("PAUSED")!, paused: true))
        fixture.clock.advance(minutes: 5)
        let report = try fixture.store!.runMaintenance()
        #expect(report.timedOut == 1, "LIVE, behind ten paused entries")
        #expect(try fixture.store!.workflow(Token.make(11))?.steps[0].status == .timedOut)
        try fixture.expectIntact()
    }
}
