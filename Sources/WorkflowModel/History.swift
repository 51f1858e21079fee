/// Who made a change, as a workflow's event history records it.
public struct Origin: Sendable, Equatable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A client with an API key (``Origin/name`` is the key's name).
        case key
        /// A worker by the name it claims with (``Origin/key`` is the key it used, if any).
        case worker
        /// The maintenance pass: timeouts, lease expiry.
        case maintenance
        /// bomflow itself: a concurrency queue handing over (`concurrency`), an import, the CLI.
        case system
    }

    public var kind: Kind
    /// The key's or worker's name, or what bomflow did.
    public var name: String?
    /// For a worker: the API key it sent its request with.
    public var key: String?

    public init(kind: Kind, name: String? = nil, key: String? = nil) {
        self.kind = kind
        self.name = name
        self.key = key
    }

    /// A client with the API key `name` (nil when the server runs without keys).
    public static func key(_ name: String?) -> Origin { Origin(kind: .key, name: name) }
    /// A worker named `name`, sending with the API key `key`.
    public static func worker(_ name: String, key: String?) -> Origin { Origin(kind: .worker, name: name, key: key) }
    public static let maintenance = Origin(kind: .maintenance)
    /// bomflow itself doing `what`.
    public static func system(_ what: String) -> Origin { Origin(kind: .system, name: what) }

    /// The origin of `actor`'s request made with this (key) origin: a worker named in the
    /// request is who acts.
    public func acting(as actor: Actor) -> Origin {
        guard case .worker(let worker) = actor, kind == .key || kind == .system else { return self }
        return .worker(worker, key: kind == .key ? name : nil)
    }
}

/// One entry of a workflow's event history (docs/HISTORY.md): what changed, when, and who made
/// it. Written by the store in the same transaction as the change; numbered per workflow from 1.
public struct HistoryEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The workflow was created (`detail`: its template; `count`: its steps).
        case created = "CREATED"
        /// The workflow was stored by `bomflow import`.
        case imported = "IMPORTED"
        /// Steps were added (`detail`: their names; `count`: how many).
        case stepsAdded = "STEPS_ADDED"
        /// A step's status changed (`from`, `to`; `reason`: the failure reason).
        case status = "STATUS"
        /// A worker said it started the step.
        case started = "STARTED"
        /// Progress counters changed (`detail`: the counters after; summarised).
        case progress = "PROGRESS"
        /// A worker claimed the step (`attempt`).
        case claimed = "CLAIMED"
        /// The holder extended its lease (summarised: `count` heartbeats since `firstAt`).
        case heartbeat = "HEARTBEAT"
        /// The lease ended without a heartbeat: the step went back to its ready queue (or failed,
        /// which a `STATUS` event then says).
        case leaseExpired = "LEASE_EXPIRED"
        /// The workflow was restarted from `step`.
        case restarted = "RESTARTED"
        /// The workflow was cancelled (`reason`; `count`: steps cancelled).
        case cancelled = "CANCELLED"
        /// The workflow waits behind earlier ones with its concurrency key.
        case held = "HELD"
        /// The earlier workflows with its concurrency key finished: it runs.
        case released = "RELEASED"
        /// A notification was delivered (`detail`: its group; `webhook`; `delivery`; `attempt`).
        case notified = "NOTIFIED"
        /// A notification was given up (`detail`: its group; `reason`: the last error).
        case notificationDead = "NOTIFICATION_DEAD"
        /// The holder gave the step up, or an operator took it back: ready again.
        case leaseReleased = "LEASE_RELEASED"

        /// Heartbeats and progress reports come often: consecutive ones of one step by one
        /// origin are one event with a count.
        public var isSummarised: Bool { self == .heartbeat || self == .progress }

        /// Kinds whose ``HistoryEvent/count`` says something: steps created, added or cancelled;
        /// heartbeats or progress reports summarised.
        public var isCounted: Bool {
            switch self {
            case .created, .imported, .stepsAdded, .cancelled, .heartbeat, .progress: true
            default: false
            }
        }

        /// The stable one-byte code a store keeps (the order of this list never changes).
        public var code: UInt8 { UInt8(Self.allCases.firstIndex(of: self)!) }

        public init?(code: UInt8) {
            guard Int(code) < Self.allCases.count else { return nil }
            self = Self.allCases[Int(code)]
        }
    }

    /// The event's number within its workflow (1, 2, …; given by the store).
    public var sequence: UInt64
    /// When it happened (for a summarised event: the latest).
    public var at: Timestamp
    /// For a summarised event: when the first of them happened.
    public var firstAt: Timestamp?
    /// How many events this one stands for (1 unless summarised).
    public var count: Int
    public var kind: Kind
    public var origin: Origin
    /// The workflow's version after the change (nil for notification events, which change no step).
    public var version: UInt64?
    public var step: StepName?
    public var from: StepStatus?
    public var to: StepStatus?
    public var attempt: Int?
    public var detail: String?
    public var reason: String?
    /// The webhook of a notification event.
    public var webhook: Token?
    /// The delivery (outbox sequence number) of a notification event: redeliver it with that.
    public var delivery: UInt64?

    public init(
        sequence: UInt64 = 0, at: Timestamp, firstAt: Timestamp? = nil, count: Int = 1, kind: Kind, origin: Origin,
        version: UInt64? = nil, step: StepName? = nil, from: StepStatus? = nil, to: StepStatus? = nil,
        attempt: Int? = nil, detail: String? = nil, reason: String? = nil, webhook: Token? = nil,
        delivery: UInt64? = nil
    ) {
        self.sequence = sequence
        self.at = at
        self.firstAt = firstAt
        self.count = count
        self.kind = kind
        self.origin = origin
        self.version = version
        self.step = step
        self.from = from
        self.to = to
        self.attempt = attempt
        self.detail = detail
        self.reason = reason
        self.webhook = webhook
        self.delivery = delivery
    }

    /// Events one workflow keeps at most; beyond, the oldest summarised event goes first, then the
    /// oldest of any kind.
    public static let limit = 500

    /// `self` folded into `last` when both are summarised events of one kind, step and origin:
    /// one event counting both (the newer one's time, counters and attempt). Nil otherwise.
    public func summarised(into last: HistoryEvent) -> HistoryEvent? {
        guard kind.isSummarised, last.kind == kind, last.step == step, last.origin == origin else { return nil }
        var merged = self
        merged.sequence = last.sequence
        merged.firstAt = last.firstAt ?? last.at
        merged.count = last.count + count
        return merged
    }
}

/// Why a workflow changed, beyond what the difference shows.
public enum HistoryCause: Sendable, Equatable {
    /// Any change a step operation, a claim or maintenance makes (the difference says what).
    case change
    /// A new workflow (`created`), or one stored by an import (`imported`).
    case created, imported
    /// A restart from this step: one `RESTARTED` event instead of each step's way back to `PENDING`.
    case restart(StepName)
    /// A cancel: one `CANCELLED` event instead of each step's.
    case cancel(reason: String)
}

extension HistoryEvent {
    /// The events of one change of a workflow, `original` (nil when new) to `workflow`, by `origin`.
    public static func events(
        from original: Workflow?, to workflow: Workflow, by origin: Origin, cause: HistoryCause = .change,
        at now: Timestamp
    ) -> [HistoryEvent] {
        func event(
            _ kind: Kind, step: StepName? = nil, from: StepStatus? = nil, to: StepStatus? = nil, attempt: Int? = nil,
            detail: String? = nil, reason: String? = nil, count: Int = 1
        ) -> HistoryEvent {
            HistoryEvent(
                at: now, count: count, kind: kind, origin: origin, version: workflow.version, step: step, from: from,
                to: to, attempt: attempt, detail: detail, reason: reason)
        }
        guard let original else {
            return [
                event(
                    cause == .imported ? .imported : .created, detail: workflow.template?.rawValue,
                    count: workflow.steps.count)
            ]
        }
        switch cause {
        case .restart(let step):
            return [event(.restarted, step: step)]
        case .cancel(let reason):
            let cancelled = zip(original.steps, workflow.steps).count {
                $0.status != $1.status && $1.status == .cancelled
            }
            return [event(.cancelled, reason: reason, count: cancelled)]
        case .change, .created, .imported:
            break
        }
        var events: [HistoryEvent] = []
        if original.isHeld != workflow.isHeld { events.append(event(workflow.isHeld ? .held : .released)) }
        if workflow.steps.count > original.steps.count {
            let added = workflow.steps[original.steps.count...].map(\.name.rawValue)
            events.append(event(.stepsAdded, detail: added.joined(separator: ", "), count: added.count))
        }
        for (before, after) in zip(original.steps, workflow.steps) where before != after {
            let name = after.name
            switch (before.claim, after.claim) {
            case (nil, let claim?):
                events.append(event(.claimed, step: name, attempt: claim.attempt))
            case (let old?, let new?) where old.worker != new.worker || old.attempt != new.attempt:
                events.append(event(.claimed, step: name, attempt: new.attempt))
            case (let old?, let new?) where old.leaseExpiresAt != new.leaseExpiresAt && before.status == after.status:
                events.append(event(.heartbeat, step: name, attempt: new.attempt))
            case (let old?, nil) where origin.kind == .maintenance:
                events.append(event(.leaseExpired, step: name, attempt: old.attempt))
            case (let old?, nil) where before.status == after.status:
                events.append(event(.leaseReleased, step: name, attempt: old.attempt))
            default:
                break
            }
            if before.startedAt == nil, after.startedAt != nil { events.append(event(.started, step: name)) }
            if let progress = after.progress, progress != before.progress {
                events.append(event(.progress, step: name, detail: progress.summary))
            }
            if before.status != after.status {
                events.append(
                    event(
                        .status, step: name, from: before.status, to: after.status,
                        reason: after.status == .failed || after.status == .cancelled ? after.failureReason : nil))
            }
        }
        return events
    }
}

extension Progress {
    /// `completed 5, failed 1 of 120`, as history events show counters.
    public var summary: String {
        "completed \(completed), failed \(failed)" + (expected.map { " of \($0)" } ?? "")
    }
}

/// Events of one workflow's history, oldest first.
public struct HistoryPage: Sendable, Equatable {
    public var events: [HistoryEvent]
    /// The sequence number of the oldest event kept (1 unless the bound dropped older ones; 0
    /// when there are none).
    public var first: UInt64
    /// The sequence number of the newest event (0 when there are none).
    public var last: UInt64

    public init(events: [HistoryEvent], first: UInt64, last: UInt64) {
        self.events = events
        self.first = first
        self.last = last
    }
}
