public import Notifications
public import WorkflowModel

/// Which deliveries ``WorkflowStorage/deliveries(_:)`` lists.
public struct DeliveryQuery: Sendable, Equatable {
    public var state: DeliveryState?
    public var webhook: Token?
    /// Only this notification (its id).
    public var id: Token?
    /// Only sequence numbers below this (the previous page's ``DeliveryPage/nextBefore``).
    public var before: UInt64?
    /// At most this many (1...1,000).
    public var limit: Int

    public init(
        state: DeliveryState? = nil, webhook: Token? = nil, id: Token? = nil, before: UInt64? = nil, limit: Int = 100
    ) {
        self.state = state
        self.webhook = webhook
        self.id = id
        self.before = before
        self.limit = limit
    }

    /// Whether `delivery` is one this query lists (``before`` aside).
    public func matches(_ delivery: Delivery) -> Bool {
        (state == nil || delivery.state == state) && (webhook == nil || delivery.webhook == webhook)
            && (id == nil || delivery.id == id)
    }
}

/// One page of deliveries, newest first.
public struct DeliveryPage: Sendable, Equatable {
    public var deliveries: [Delivery]
    /// Pass as ``DeliveryQuery/before`` for the next page; nil when the list is complete.
    public var nextBefore: UInt64?

    public init(deliveries: [Delivery], nextBefore: UInt64?) {
        self.deliveries = deliveries
        self.nextBefore = nextBefore
    }
}

/// The outbox's figures for `/metrics`.
public struct OutboxFigures: Sendable, Equatable {
    /// Deliveries pending (waiting for an attempt or under one).
    public var pending = 0
    /// Dead deliveries not yet deleted by retention.
    public var dead = 0
    /// When the oldest pending delivery was created.
    public var oldestPending: Timestamp?

    public init() {}
}

extension WriteOperation {
    /// The change of a redelivery: pending, attempts from 0, due `now`, no error, no lease.
    public static func redelivered(_ delivery: Delivery, now: Timestamp) throws(WorkflowError) -> Delivery {
        guard delivery.state != .pending else { throw .deliveryPending(delivery.sequence) }
        var delivery = delivery
        delivery.state = .pending
        delivery.attempts = 0
        delivery.dueAt = now
        delivery.finishedAt = nil
        delivery.leaseHolder = nil
        delivery.lastError = nil
        return delivery
    }

    /// The test delivery for `webhook`.
    public static func testDelivery(for webhook: Webhook, now: Timestamp) -> NewDelivery {
        let id = Token.random()
        let group = webhook.groups.first ?? .workflowCompleted
        return NewDelivery(
            id: id, webhook: webhook.id, token: id, group: group, createdAt: now,
            payload: NotificationPayload.renderTest(id: id, group: group, at: now))
    }
}

extension HistoryEvent {
    /// The history event of a delivery that just finished: `NOTIFIED` when delivered,
    /// `NOTIFICATION_DEAD` when given up (nil while it is pending).
    public static func finished(_ delivery: Delivery, at now: Timestamp) -> HistoryEvent? {
        let kind: Kind
        switch delivery.state {
        case .delivered: kind = .notified
        case .dead: kind = .notificationDead
        case .pending: return nil
        }
        return HistoryEvent(
            at: now, kind: kind, origin: .system("webhook delivery"), attempt: delivery.attempts,
            detail: delivery.group.rawValue, reason: delivery.state == .dead ? delivery.lastError : nil,
            webhook: delivery.webhook, delivery: delivery.sequence)
    }
}
