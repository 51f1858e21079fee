internal import Codecs
public import JSON
internal import Synchronization
public import WorkflowModel

/// Where a queued delivery stands.
public enum DeliveryState: UInt8, Sendable, CaseIterable {
    /// Waiting for its next attempt (or being attempted under a lease).
    case pending = 0
    /// The receiver answered 2xx.
    case delivered = 1
    /// Every allowed attempt failed; delivered again only on request.
    case dead = 2

    public var name: String {
        switch self {
        case .pending: "PENDING"
        case .delivered: "DELIVERED"
        case .dead: "DEAD"
        }
    }

    public init?(name: String) {
        guard let state = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = state
    }
}

/// A notification written to the outbox for one webhook, in the same transaction as the change
/// that caused it (the store adds its sequence number).
public struct NewDelivery: Sendable, Equatable {
    /// The notification's id (in the payload; the same for every webhook it goes to).
    public var id: Token
    public var webhook: Token
    /// The workflow it is about: deliveries of one workflow to one webhook go in order.
    public var token: Token
    public var group: NotificationGroup
    public var createdAt: Timestamp
    public var payload: [UInt8]

    public init(
        id: Token, webhook: Token, token: Token, group: NotificationGroup, createdAt: Timestamp, payload: [UInt8]
    ) {
        self.id = id
        self.webhook = webhook
        self.token = token
        self.group = group
        self.createdAt = createdAt
        self.payload = payload
    }

    /// The deliveries of the events a change from `old` to `new` causes, one per webhook that
    /// wants each (``Webhook/wants(_:about:)``). `webhooks` and `context` are asked only when
    /// there is an event, so a change that causes none reads nothing more.
    public static func deliveries(
        from old: Workflow?, to new: Workflow, at now: Timestamp, webhooks: () throws -> [Webhook],
        context: () throws -> NotificationPayload.Context
    ) rethrows -> [NewDelivery] {
        let events = NotificationEvent.events(from: old, to: new)
        guard !events.isEmpty else { return [] }
        let hooks = try webhooks().filter(\.enabled)
        guard !hooks.isEmpty else { return [] }
        var deliveries: [NewDelivery] = []
        var loaded: NotificationPayload.Context?
        for event in events {
            let targets = hooks.filter { $0.wants(event.group, about: new) }
            guard !targets.isEmpty else { continue }
            let id = Token.random()
            if event.group.isDependencyTrack, loaded == nil { loaded = try context() }
            for webhook in targets {
                let payload = NotificationPayload.render(
                    id: id, event: event, workflow: new, at: now, context: loaded ?? .init(),
                    includeBom: webhook.includeBom)
                deliveries.append(
                    NewDelivery(
                        id: id, webhook: webhook.id, token: new.token, group: event.group, createdAt: now,
                        payload: payload))
            }
        }
        return deliveries
    }
}

/// A delivery as the outbox holds it.
public struct Delivery: Sendable, Equatable {
    /// The outbox's order: deliveries of one workflow to one webhook go in this order.
    public var sequence: UInt64
    public var id: Token
    public var webhook: Token
    public var token: Token
    public var group: NotificationGroup
    public var createdAt: Timestamp
    public var payload: [UInt8]
    public var state: DeliveryState
    /// Attempts made so far.
    public var attempts: Int
    /// When it is next due: the next attempt, or the end of the lease of the attempt under way.
    public var dueAt: Timestamp
    /// The process attempting it now (nil when none).
    public var leaseHolder: String?
    /// Why the last attempt failed (the status and what the receiver said, or the connection error).
    public var lastError: String?
    /// When it was delivered or went dead.
    public var finishedAt: Timestamp?

    public init(
        sequence: UInt64, id: Token, webhook: Token, token: Token, group: NotificationGroup, createdAt: Timestamp,
        payload: [UInt8], state: DeliveryState = .pending, attempts: Int = 0, dueAt: Timestamp,
        leaseHolder: String? = nil, lastError: String? = nil, finishedAt: Timestamp? = nil
    ) {
        self.sequence = sequence
        self.id = id
        self.webhook = webhook
        self.token = token
        self.group = group
        self.createdAt = createdAt
        self.payload = payload
        self.state = state
        self.attempts = attempts
        self.dueAt = dueAt
        self.leaseHolder = leaseHolder
        self.lastError = lastError
        self.finishedAt = finishedAt
    }

    /// A new delivery, due at once.
    public init(sequence: UInt64, _ new: NewDelivery) {
        self.init(
            sequence: sequence, id: new.id, webhook: new.webhook, token: new.token, group: new.group,
            createdAt: new.createdAt, payload: new.payload, dueAt: new.createdAt)
    }
}

/// A claimed delivery with the webhook to send it to.
public struct DeliveryTask: Sendable {
    public var delivery: Delivery
    public var webhook: Webhook

    public init(delivery: Delivery, webhook: Webhook) {
        self.delivery = delivery
        self.webhook = webhook
    }
}

/// How one attempt ended, as the delivering process reports it to the store.
public struct DeliveryReport: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// 2xx.
        case delivered
        /// Anything else; `retryAfter` is the receiver's `Retry-After` in milliseconds, if any.
        case failed(String, retryAfter: Int64?)
    }

    public var sequence: UInt64
    /// The lease holder that attempted it: a report from a holder whose lease another process
    /// has since taken over is ignored.
    public var holder: String
    public var outcome: Outcome

    public init(sequence: UInt64, holder: String, outcome: Outcome) {
        self.sequence = sequence
        self.holder = holder
        self.outcome = outcome
    }
}

/// The retry rules of deliveries: exponential backoff with jitter, `Retry-After` honoured
/// (bounded), dead after `maxAttempts`.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts before a delivery goes dead (default 10).
    public var maxAttempts: Int
    /// The wait after the first failure; each later failure doubles it (default 7 s).
    public var baseMilliseconds: Int64
    /// The longest wait between attempts (default 20 minutes).
    public var maxDelayMilliseconds: Int64

    public init(
        maxAttempts: Int = 10, baseMilliseconds: Int64 = 7000, maxDelayMilliseconds: Int64 = 1_200_000
    ) {
        self.maxAttempts = maxAttempts
        self.baseMilliseconds = baseMilliseconds
        self.maxDelayMilliseconds = maxDelayMilliseconds
    }

    /// The wait before the attempt after `attempts` failed ones: base × 2^(attempts−1), capped,
    /// ±20 % jitter; or the receiver's `Retry-After` when it asks for longer (up to the cap).
    public func delay(afterAttempts attempts: Int, retryAfter: Int64?, jitter: Double) -> Int64 {
        let exponent = min(max(attempts - 1, 0), 30)
        let raw = min(Double(baseMilliseconds) * Double(1 << exponent), Double(maxDelayMilliseconds))
        var delay = Int64(raw * (0.8 + 0.4 * min(max(jitter, 0), 1)))
        if let retryAfter { delay = max(delay, min(retryAfter, maxDelayMilliseconds)) }
        return max(delay, 1)
    }

    /// `delivery` after the attempt `report` describes, at `now`.
    public func applying(_ report: DeliveryReport, to delivery: Delivery, now: Timestamp, jitter: Double) -> Delivery {
        var delivery = delivery
        delivery.leaseHolder = nil
        delivery.attempts += 1
        switch report.outcome {
        case .delivered:
            delivery.state = .delivered
            delivery.finishedAt = now
            delivery.lastError = nil
        case .failed(let error, let retryAfter):
            delivery.lastError = String(error.prefix(500))
            if delivery.attempts >= maxAttempts {
                delivery.state = .dead
                delivery.finishedAt = now
            } else {
                delivery.dueAt = now.adding(
                    milliseconds: delay(afterAttempts: delivery.attempts, retryAfter: retryAfter, jitter: jitter))
            }
        }
        return delivery
    }
}

/// The signature header of a delivery: `X-Bomflow-Signature: t=<unix seconds>,v1=<hex>` where
/// the hex is HMAC-SHA-256 under the webhook's secret of `<t>.<body>` (the timestamp inside the
/// signed text, so a receiver refuses replays older than its tolerance).
public enum DeliverySignature {
    public static let header = "X-Bomflow-Signature"

    public static func value(secret: String, body: [UInt8], unixSeconds: Int64) -> String {
        let signed = Array("\(unixSeconds).".utf8) + body
        return "t=\(unixSeconds),v1=" + Hex.encode(HMAC.sha256(key: Array(secret.utf8), message: signed))
    }
}

/// Counters of this process's deliveries, for `/metrics`.
public final class DeliveryCounters: Sendable {
    private let counts = Mutex<(sent: Int, failedAttempts: Int, dead: Int)>((0, 0, 0))

    public init() {}

    public var snapshot: (sent: Int, failedAttempts: Int, dead: Int) { counts.withLock { $0 } }

    /// Counts an attempt's stored outcome.
    public func record(_ delivery: Delivery) {
        counts.withLock { counts in
            switch delivery.state {
            case .delivered: counts.sent += 1
            case .dead:
                counts.failedAttempts += 1
                counts.dead += 1
            case .pending: counts.failedAttempts += 1
            }
        }
    }
}

// MARK: JSON (the API's and the CLI's shape)

extension Delivery {
    /// Writes the delivery: its state, attempts, times, last error and the payload as JSON.
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.member("sequence", Int64(clamping: sequence))
        json.member("id", id.description)
        json.member("webhook", webhook.description)
        json.member("token", token.description)
        json.member("group", group.rawValue)
        json.member("state", state.name)
        json.member("attempts", Int64(attempts))
        json.member("createdAt", createdAt.milliseconds)
        if state == .pending {
            json.member(leaseHolder == nil ? "nextAttemptAt" : "leaseExpiresAt", dueAt.milliseconds)
        }
        if let leaseHolder { json.member("leaseHolder", leaseHolder) }
        if let lastError { json.member("lastError", lastError) }
        if let finishedAt { json.member("finishedAt", finishedAt.milliseconds) }
        if let body = try? JSONValue.parse(payload) { json.member("payload", body) }
        json.endObject()
    }

    /// `{"deliveries": [...], "nextBefore": N?}`.
    public static func write(_ deliveries: [Delivery], next: UInt64?, to json: inout JSONWriter) {
        json.beginObject()
        json.key("deliveries")
        json.beginArray()
        for delivery in deliveries { delivery.write(to: &json) }
        json.endArray()
        if let next { json.member("nextBefore", Int64(clamping: next)) }
        json.endObject()
    }
}
