import Notifications
import Storage
import TestSupport
import Testing
import WorkflowModel

/// The outbox on every backend, with a manual clock: order per workflow and webhook, leases,
/// backoff and `Retry-After`, the dead state, and retention.
struct OutboxTests {
    static let hook = Token("7e57a0b1-0000-4000-8000-000000000001")!

    /// A store with one webhook for every group.
    func fixture(_ backend: Backend, retention: Int64 = 3_600_000) throws -> StoreFixture {
        let fixture = try StoreFixture(backend) { $0.retention = retention }
        let webhook = Webhook(
            id: Self.hook, url: try WebhookURL.parse("http://127.0.0.1:9/"), groups: NotificationGroup.allCases,
            createdAt: fixture.clock.time)
        try fixture.store!.perform(.createWebhook(webhook))
        return fixture
    }

    /// Creates a workflow of one step and fails it: STEP_FAILED, then WORKFLOW_FAILED.
    func failOne(_ store: any WorkflowStorage, _ index: UInt64) throws -> Token {
        let token = Token(high: index, low: 42)
        try store.perform(
            .create(
                token: token, definition: WorkflowDefinition(steps: [StepSpec(StepName("A")!)]),
                labels: Labels(), createdBy: nil))
        try store.perform(
            .update(token: token, step: StepName("A")!, command: .setStatus(.failed, failureReason: "boom")))
        return token
    }

    @Test(arguments: Backend.all) func onlyTheFirstOfAWorkflowIsClaimedAndLeasesKeepOthersOut(backend: Backend) throws {
        let fixture = try fixture(backend)
        let store = fixture.store!
        let first = try failOne(store, 1)
        let second = try failOne(store, 2)
        let claimed = try store.claimDeliveries(holder: "a", max: 10, leaseMilliseconds: 10_000)
        #expect(Set(claimed.map(\.delivery.token)) == [first, second], "one per workflow")
        #expect(claimed.allSatisfy { $0.delivery.group == .stepFailed && $0.webhook.id == Self.hook })
        #expect(try store.claimDeliveries(holder: "b", max: 10, leaseMilliseconds: 10_000).isEmpty, "leased")
        #expect(!(try store.hasDueDeliveries()))

        // Delivered: the workflow's next one becomes claimable.
        let done = try store.finishDeliveries(
            [DeliveryReport(sequence: claimed[0].delivery.sequence, holder: "a", outcome: .delivered)],
            policy: RetryPolicy())
        #expect(done.map(\.state) == [.delivered])
        let next = try store.claimDeliveries(holder: "b", max: 10, leaseMilliseconds: 10_000)
        #expect(next.map(\.delivery.token) == [claimed[0].delivery.token])
        #expect(next.map(\.delivery.group) == [.workflowFailed])

        // A lease that ends (its holder died) makes the delivery due again for anyone.
        fixture.clock.advance(milliseconds: 10_001)
        #expect(try store.hasDueDeliveries())
        let taken = try store.claimDeliveries(holder: "c", max: 10, leaseMilliseconds: 10_000)
        #expect(Set(taken.map(\.delivery.sequence)) == [claimed[1].delivery.sequence, next[0].delivery.sequence])
        let late = try store.finishDeliveries(
            [DeliveryReport(sequence: claimed[1].delivery.sequence, holder: "a", outcome: .delivered)],
            policy: RetryPolicy())
        #expect(late.isEmpty, "the first holder's late report is ignored: c holds it now")
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func retriesBackOffHonourRetryAfterAndGoDead(backend: Backend) throws {
        let fixture = try fixture(backend)
        let store = fixture.store!
        _ = try failOne(store, 1)
        let policy = RetryPolicy(maxAttempts: 3, baseMilliseconds: 1000, maxDelayMilliseconds: 60_000)
        var claimed = try store.claimDeliveries(holder: "a", max: 1, leaseMilliseconds: 5000)
        let sequence = try #require(claimed.first?.delivery.sequence)
        var after = try store.finishDeliveries(
            [DeliveryReport(sequence: sequence, holder: "a", outcome: .failed("HTTP 500", retryAfter: nil))],
            policy: policy)
        let firstWait = after[0].dueAt.milliseconds - fixture.clock.time.milliseconds
        #expect((800...1200).contains(firstWait), "base ±20 %: \(firstWait)")
        #expect(after[0].attempts == 1 && after[0].state == .pending && after[0].lastError == "HTTP 500")
        #expect(try store.claimDeliveries(holder: "a", max: 1, leaseMilliseconds: 5000).isEmpty, "not yet due")
        fixture.clock.advance(milliseconds: 1200)
        claimed = try store.claimDeliveries(holder: "a", max: 1, leaseMilliseconds: 5000)
        #expect(claimed.map(\.delivery.sequence) == [sequence])
        after = try store.finishDeliveries(
            [DeliveryReport(sequence: sequence, holder: "a", outcome: .failed("HTTP 429", retryAfter: 30_000))],
            policy: policy)
        #expect(after[0].dueAt.milliseconds - fixture.clock.time.milliseconds == 30_000, "Retry-After wins")
        fixture.clock.advance(milliseconds: 30_000)
        claimed = try store.claimDeliveries(holder: "a", max: 1, leaseMilliseconds: 5000)
        after = try store.finishDeliveries(
            [DeliveryReport(sequence: sequence, holder: "a", outcome: .failed("timed out", retryAfter: nil))],
            policy: policy)
        #expect(after[0].state == .dead && after[0].attempts == 3 && after[0].lastError == "timed out")
        #expect(try store.outboxFigures().dead == 1)
        #expect(try store.deliveries(DeliveryQuery(state: .dead)).deliveries.map(\.sequence) == [sequence])
        // The dead one no longer holds up its workflow's next delivery.
        #expect(
            try store.claimDeliveries(holder: "a", max: 5, leaseMilliseconds: 5000).map(\.delivery.group) == [
                .workflowFailed
            ])
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func retentionDeletesOnlyOldFinishedDeliveries(backend: Backend) throws {
        let fixture = try fixture(backend, retention: 60_000)
        let store = fixture.store!
        _ = try failOne(store, 1)
        let claimed = try store.claimDeliveries(holder: "a", max: 1, leaseMilliseconds: 5000)
        _ = try store.finishDeliveries(
            claimed.map { DeliveryReport(sequence: $0.delivery.sequence, holder: "a", outcome: .delivered) },
            policy: RetryPolicy())
        fixture.clock.advance(milliseconds: 30_000)
        #expect(try store.runMaintenance().deliveriesPruned == 0, "not old enough")
        fixture.clock.advance(milliseconds: 31_000)
        let report = try store.runMaintenance()
        #expect(report.deliveriesPruned == 1, "the delivered one; the pending one stays")
        let left = try store.deliveries(DeliveryQuery()).deliveries
        #expect(left.map(\.state) == [.pending] && left.map(\.group) == [.workflowFailed])
        #expect(try store.outboxFigures().pending == 1)
        try fixture.expectIntact()
    }

    /// Only what commits queues notifications: a change the model refuses and a batch the writer
    /// no longer admits (it answered that request already) write none, while the admitted change
    /// in the same transaction writes its own.
    @Test(arguments: Backend.all) func onlyCommittedChangesQueueNotifications(backend: Backend) throws {
        let fixture = try fixture(backend)
        let store = fixture.store!
        let failed = try failOne(store, 1)
        let pending = Token(high: 2, low: 42)
        try store.perform(
            .create(
                token: pending, definition: WorkflowDefinition(steps: [StepSpec(StepName("A")!)]), labels: Labels(),
                createdBy: nil))
        let before = try store.deliveries(DeliveryQuery()).deliveries.count
        let complete = WriteOperation.update(
            token: pending, step: StepName("A")!, command: .setStatus(.completed, failureReason: nil))
        let refused = WriteOperation.update(
            token: failed, step: StepName("A")!, command: .setStatus(.completed, failureReason: nil))
        let results = try store.perform([[refused], [complete]]) { [true, false] }
        #expect(results.count == 2 && results[1] == nil, "the second batch was not admitted")
        if case .success = results[0]?.first { Issue.record("the update of a FAILED step should be refused") }
        #expect(try store.deliveries(DeliveryQuery()).deliveries.count == before, "nothing committed, nothing queued")
        #expect(try store.workflow(pending)?.isProcessing == true)
        // The same completion admitted: one WORKFLOW_COMPLETED, in its transaction.
        _ = try store.perform([[refused], [complete]]) { [true, true] }
        let queued = try store.deliveries(DeliveryQuery()).deliveries
        #expect(
            queued.count == before + 1 && queued.first?.group == .workflowCompleted && queued.first?.token == pending)
        try fixture.expectIntact()
    }
}
