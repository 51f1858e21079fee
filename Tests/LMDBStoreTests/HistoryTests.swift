import LMDB
import LMDBStore
import Notifications
import Storage
import TestSupport
import Testing
import WorkflowModel

/// The event history (issue 14) on every backend with a manual clock: what each change records
/// and who made it, summarised heartbeats, the bound, deletion with the workflow, refusals.
struct HistoryTests {
    static let a = StepName("A")!
    static let b = StepName("B")!
    static let ci = Origin.key("ci")

    func create(_ store: any WorkflowStorage, _ token: Token, steps: [StepSpec]) throws {
        try store.perform(
            .attributed(
                .create(token: token, definition: WorkflowDefinition(steps: steps), labels: Labels(), createdBy: "ci"),
                to: Self.ci))
    }

    func history(_ store: any WorkflowStorage, _ token: Token, after: UInt64 = 0) throws -> [HistoryEvent] {
        try store.history(token, after: after, limit: HistoryEvent.limit)?.events ?? []
    }

    @Test(arguments: Backend.all) func aWorkflowsLifeSaysWhatHappenedAndWho(backend: Backend) throws {
        let fixture = try StoreFixture(backend) { $0.maxAttempts = 2 }
        let store = fixture.store!
        let token = Token.make(1)
        try create(store, token, steps: [StepSpec(Self.a), StepSpec(Self.b, parent: Self.a)])
        let claim = WriteOperation.claim(steps: [Self.a], worker: "w1", leaseMilliseconds: 60_000, max: 1)
        try store.perform(.attributed(claim, to: Self.ci))
        for _ in 0..<3 {
            fixture.clock.advance(milliseconds: 1000)
            try store.perform(
                .attributed(
                    .update(
                        token: token, step: Self.a, command: .heartbeat(leaseMilliseconds: 60_000), actor: .worker("w1")
                    ),
                    to: Self.ci))
        }
        // The lease ends: maintenance puts the step back; a second claim, then its lease ends too
        // and the step fails after the two allowed attempts, cancelling B.
        fixture.clock.advance(milliseconds: 61_000)
        _ = try store.runMaintenance()
        try store.perform(
            .attributed(.claim(steps: [Self.a], worker: "w2", leaseMilliseconds: 1000, max: 1), to: Self.ci))
        fixture.clock.advance(milliseconds: 2000)
        _ = try store.runMaintenance()
        try store.perform(.attributed(.restart(token: token, step: Self.a), to: .key("admin")))
        try store.perform(.attributed(.cancel(token: token, reason: "not needed"), to: .key("admin")))

        let events = try history(store, token)
        #expect(
            events.map(\.kind) == [
                .created, .claimed, .started, .heartbeat, .leaseExpired, .claimed, .leaseExpired, .status, .status,
                .restarted, .cancelled,
            ], "\(events.map(\.kind))")
        #expect(events.map(\.sequence) == Array(1...UInt64(events.count)))
        #expect(events[0].origin == Self.ci && events[0].count == 2)
        #expect(events[1].origin == .worker("w1", key: "ci") && events[1].attempt == 1)
        let heartbeat = events[3]
        #expect(heartbeat.count == 3, "three heartbeats are one event")
        #expect(heartbeat.firstAt != nil && heartbeat.firstAt! < heartbeat.at)
        #expect(events[4].origin == .maintenance && events[4].attempt == 1)
        #expect(events[5].origin == .worker("w2", key: "ci") && events[5].attempt == 2)
        #expect(
            events[7].step == Self.a && events[7].to == .failed && events[7].reason == "Lease expired after 2 attempts")
        #expect(events[8].step == Self.b && events[8].from == .pending && events[8].to == .cancelled)
        #expect(events[9].step == Self.a && events[9].origin == .key("admin"))
        #expect(events[10].reason == "not needed" && events[10].count == 2)
        let workflow = try store.workflow(token)!
        #expect(events.last?.version == workflow.version)
        #expect(HistoryReplay.problems(events, of: workflow) == [])
        // Tailing: only what comes after.
        #expect(try history(store, token, after: 9).map(\.sequence) == [10, 11])
        #expect(try history(store, token, after: 11).isEmpty)
        #expect(try store.history(Token.make(99), after: 0, limit: 10) == nil, "unknown workflow")
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func timeoutsAreMaintenancesAndRefusalsRecordNothing(backend: Backend) throws {
        let fixture = try StoreFixture(backend) { $0.stepTimeout = 60_000 }
        let store = fixture.store!
        let token = Token.make(2)
        try create(store, token, steps: [StepSpec(Self.a)])
        // Refused: unknown step, a FAILED without reason, a worker not holding a claim.
        _ = try? store.perform(.update(token: token, step: Self.b, command: .setStatus(.completed, failureReason: nil)))
        _ = try? store.perform(.update(token: token, step: Self.a, command: .setStatus(.failed, failureReason: nil)))
        #expect(try history(store, token).count == 1)
        fixture.clock.advance(milliseconds: 61_000)
        _ = try store.runMaintenance()
        fixture.clock.advance(milliseconds: 61_000)
        _ = try store.runMaintenance()
        let events = try history(store, token)
        #expect(events.map(\.kind) == [.created, .status, .status])
        #expect(events[1].origin == .maintenance && events[1].to == .timedOut)
        #expect(events[2].to == .failed && events[2].reason == Workflow.timedOutReason)
        #expect(HistoryReplay.problems(events, of: try store.workflow(token)!) == [])
    }

    @Test(arguments: Backend.all) func theBoundDropsHeartbeatsFirstThenTheOldest(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        let store = fixture.store!
        let token = Token.make(3)
        try create(store, token, steps: [StepSpec(Self.a)])
        // Each round: CLAIMED, STARTED, HEARTBEAT, STATUS, RESTARTED — 5 events.
        let rounds = 200
        for _ in 0..<rounds {
            try store.perform(.claim(steps: [Self.a], worker: "w", leaseMilliseconds: 60_000, max: 1))
            fixture.clock.advance(milliseconds: 10)  // so that the heartbeat moves the lease
            try store.perform(
                .update(token: token, step: Self.a, command: .heartbeat(leaseMilliseconds: 60_000), actor: .worker("w"))
            )
            try store.perform(
                .update(
                    token: token, step: Self.a, command: .setStatus(.completed, failureReason: nil), actor: .worker("w")
                ))
            try store.perform(.restart(token: token, step: Self.a))
        }
        let page = try store.history(token, after: 0, limit: HistoryEvent.limit)!
        let total = UInt64(1 + 5 * rounds)
        #expect(page.last == total)
        #expect(page.events.count == HistoryEvent.limit)
        #expect(!page.events.contains { $0.kind == .heartbeat }, "every heartbeat went before anything else")
        // What is left is the newest 500 of the others, in order.
        let kept = (1...total).filter { $0 < 4 || ($0 - 4) % 5 != 0 }.suffix(HistoryEvent.limit)
        #expect(page.events.map(\.sequence) == Array(kept))
        #expect(page.first == kept.first)
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func theHistoryGoesWithTheWorkflow(backend: Backend) throws {
        let fixture = try StoreFixture(backend) { $0.retention = 60_000 }
        let store = fixture.store!
        let deleted = Token.make(4)
        let retained = Token.make(5)
        for token in [deleted, retained] {
            try create(store, token, steps: [StepSpec(Self.a)])
            try store.perform(.update(token: token, step: Self.a, command: .setStatus(.completed, failureReason: nil)))
        }
        try store.perform(.delete(token: deleted))
        #expect(try store.history(deleted, after: 0, limit: 10) == nil)
        #expect(try history(store, retained).count == 2)
        fixture.clock.advance(milliseconds: 120_000)
        #expect(try store.runMaintenance().deleted == 1)
        #expect(try store.history(retained, after: 0, limit: 10) == nil)
        // A workflow created again with the token starts a new history.
        try create(store, deleted, steps: [StepSpec(Self.a)])
        #expect(try history(store, deleted).map(\.sequence) == [1])
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func deliveredAndDeadNotificationsAreRecorded(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        let store = fixture.store!
        let hook = Token("7e57a0b1-0000-4000-8000-000000000002")!
        try store.perform(
            .createWebhook(
                Webhook(
                    id: hook, url: try WebhookURL.parse("http://127.0.0.1:9/"), groups: [.stepFailed, .workflowFailed],
                    createdAt: fixture.clock.time)))
        let token = Token.make(6)
        try create(store, token, steps: [StepSpec(Self.a)])
        try store.perform(.update(token: token, step: Self.a, command: .setStatus(.failed, failureReason: "boom")))
        let first = try store.claimDeliveries(holder: "p", max: 10, leaseMilliseconds: 10_000)
        #expect(first.map(\.delivery.group) == [.stepFailed])
        _ = try store.finishDeliveries(
            [DeliveryReport(sequence: first[0].delivery.sequence, holder: "p", outcome: .delivered)],
            policy: RetryPolicy())
        let second = try store.claimDeliveries(holder: "p", max: 10, leaseMilliseconds: 10_000)
        _ = try store.finishDeliveries(
            [
                DeliveryReport(
                    sequence: second[0].delivery.sequence, holder: "p", outcome: .failed("HTTP 503", retryAfter: nil))
            ], policy: RetryPolicy(maxAttempts: 1))
        let events = try history(store, token)
        #expect(events.map(\.kind) == [.created, .status, .notified, .notificationDead])
        #expect(events[2].detail == "STEP_FAILED" && events[2].webhook == hook && events[2].attempt == 1)
        #expect(events[2].version == nil && events[2].origin.kind == .system)
        #expect(events[3].detail == "WORKFLOW_FAILED" && events[3].reason?.contains("HTTP 503") == true)
        try fixture.expectIntact()
    }

    /// A format-5 store (no history) opens as the current format; its workflows get histories
    /// from their next change on.
    @Test func aFormatFiveStoreGainsHistories() throws {
        let fixture = try StoreFixture()
        let token = Token.make(7)
        try create(fixture.store!, token, steps: [StepSpec(Self.a)])
        let path = fixture.directory.path
        let environment = try Environment.open(path: path)
        let meta = try environment.openDatabase(named: "meta")
        // Events are in `steps` after the step rows (17-byte keys, format 7).
        let rows = try environment.openDatabase(named: "steps")
        let workflows = try environment.openDatabase(named: "workflows")
        try environment.write { txn in
            #expect(try OlderFormats.moveRecordsToWorkflows(in: txn, steps: rows, workflows: workflows) == 1)
            try txn.put([0, 0, 0, 5], forKey: Array("format-version".utf8), in: meta)
            var keys: [[UInt8]] = []
            try txn.withCursor(rows) { cursor in
                var more = try cursor.first()
                while more {
                    if cursor.key.count == 17 { keys.append(cursor.key) }
                    more = try cursor.next()
                }
            }
            #expect(!keys.isEmpty)
            for key in keys { _ = try txn.delete(key, in: rows) }
        }
        try fixture.reopen()
        #expect(
            try environment.read { try $0.value(forKey: Array("format-version".utf8), in: meta) } == [
                0, 0, 0, UInt8(LMDBStore.formatVersion),
            ])
        #expect(try history(fixture.store!, token).isEmpty)
        try fixture.store!.perform(
            .update(token: token, step: Self.a, command: .setStatus(.completed, failureReason: nil)))
        #expect(try history(fixture.store!, token).map(\.kind) == [.status])
        try fixture.expectIntact()
    }
}
