/// One step of a workflow: a row of Hyades' `WORKFLOW_STATE` table.
public struct Step: Sendable, Equatable {
    /// The step's name, unique within its workflow.
    public var name: StepName
    /// The parent step, whose outcome decides when this step may run; nil for a root.
    public var parent: StepName?
    /// The current status.
    public var status: StepStatus
    /// When a worker first started the step; nil until then and after a restart.
    public var startedAt: Timestamp?
    /// The last activity on the step: a status change, a start, becoming ready.
    public var updatedAt: Timestamp
    /// Why the step failed; set exactly when ``status`` is `FAILED`.
    public var failureReason: String?
    /// Progress counters, when a worker reports them.
    public var progress: Progress?
    /// The status the step was created with (`PENDING` or `NOT_APPLICABLE`); part of the
    /// workflow's definition, which makes creation idempotent.
    public var createdAs: StepStatus
    /// The worker holding the step under a lease, while one does (orchestration).
    public var claim: Claim?
    /// How many times a worker claimed the step (a lease that expires puts it back; after
    /// `maxAttempts` claims it fails).
    public var attempts: Int = 0
    /// When the step last became ready (its place in its ready queue); nil while it is not
    /// ready. Unlike ``updatedAt``, later activity (a start, progress, a heartbeat) leaves it.
    public var readyAt: Timestamp?

    /// Creates a step; the defaults describe a fresh pending root step.
    public init(
        name: StepName, parent: StepName? = nil, status: StepStatus = .pending, startedAt: Timestamp? = nil,
        updatedAt: Timestamp, failureReason: String? = nil, progress: Progress? = nil,
        createdAs: StepStatus? = nil
    ) {
        self.name = name
        self.parent = parent
        self.status = status
        self.startedAt = startedAt
        self.updatedAt = updatedAt
        self.failureReason = failureReason
        self.progress = progress
        self.createdAs = createdAs ?? (status == .notApplicable ? .notApplicable : .pending)
    }
}

/// Progress counters of a step (Hyades' `VULNERABILITYSCAN` row, for any step).
///
/// When ``expected`` is set and `completed + failed >= expected`, the step finishes by itself:
/// `FAILED` with reason `Failure threshold of 5% exceeded: 7/120 failed` when
/// `failed / (completed + failed) > failureThreshold`, else `COMPLETED`.
public struct Progress: Sendable, Equatable {
    /// Results expected; nil until a worker sets it.
    public var expected: Int64?
    /// Results received that succeeded.
    public var completed: Int64
    /// Results received that failed.
    public var failed: Int64
    /// The tolerated failure ratio, 0...1. Default ``defaultFailureThreshold``.
    public var failureThreshold: Double

    /// 5 %, as in the reason text Hyades writes.
    public static let defaultFailureThreshold = 0.05

    /// Creates counters; every field has a default.
    public init(expected: Int64? = nil, completed: Int64 = 0, failed: Int64 = 0, failureThreshold: Double? = nil) {
        self.expected = expected
        self.completed = completed
        self.failed = failed
        self.failureThreshold = failureThreshold ?? Self.defaultFailureThreshold
    }
}

/// A change to a step's progress counters, as a worker sends it.
public struct ProgressUpdate: Sendable, Equatable {
    /// Sets the expected number of results.
    public var expected: Int64?
    /// Sets the tolerated failure ratio (0...1).
    public var failureThreshold: Double?
    /// Adds to the completed count.
    public var addCompleted: Int64
    /// Adds to the failed count.
    public var addFailed: Int64

    /// Creates an update; every field defaults to "no change".
    public init(expected: Int64? = nil, failureThreshold: Double? = nil, addCompleted: Int64 = 0, addFailed: Int64 = 0)
    {
        self.expected = expected
        self.failureThreshold = failureThreshold
        self.addCompleted = addCompleted
        self.addFailed = addFailed
    }
}

/// A worker's hold on a step: only it (or an ADMIN key) may finish the step until the lease
/// expires, and it keeps the lease alive with heartbeats.
public struct Claim: Sendable, Equatable {
    /// The worker's name, as it gave it when claiming.
    public var worker: String
    /// 1 for the first claim of the step, then one more per claim after an expired lease.
    public var attempt: Int
    /// When the lease ends unless a heartbeat extends it.
    public var leaseExpiresAt: Timestamp

    public init(worker: String, attempt: Int, leaseExpiresAt: Timestamp) {
        self.worker = worker
        self.attempt = attempt
        self.leaseExpiresAt = leaseExpiresAt
    }
}

/// Who asks for a step change: a claimed step may only be finished by its holder or an admin.
public enum Actor: Sendable, Equatable, Hashable {
    /// A client that names no worker (a Dependency-Track client, a person).
    case anyone
    /// A worker by the name it claimed with.
    case worker(String)
    /// An ADMIN key: may change any step.
    case admin
}

/// A request to change one step, as the API and the batch endpoint carry it.
public enum StepCommand: Sendable, Equatable {
    /// Move the step to a status (`failureReason` required for `FAILED`, refused otherwise).
    case setStatus(StepStatus, failureReason: String?)
    /// Mark the step started: `startedAt` is set the first time only, `updatedAt` bumped.
    case start
    /// Change the progress counters; may finish the step.
    case progress(ProgressUpdate)
    /// Extend the lease of the worker holding the step (`updatedAt` bumped: it is activity).
    case heartbeat(leaseMilliseconds: Int64)
    /// Give up the claim (its holder) or take the step back from the worker holding it (an
    /// admin): ready again, the attempt counted; nothing changes when nobody holds it.
    case release
}
