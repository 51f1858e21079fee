/// The status of one step, as Dependency-Track's `WorkflowStatus`.
///
/// | status | terminal | meaning |
/// |---|---|---|
/// | `PENDING` | no | initial state |
/// | `TIMED_OUT` | no | the deadline passed; a late result still counts |
/// | `COMPLETED` | yes | finished, no failures |
/// | `FAILED` | yes | finished with failures; a failure reason is set |
/// | `CANCELLED` | yes | never ran: an ancestor failed or was cancelled |
/// | `NOT_APPLICABLE` | yes | the step does not apply to this subject |
public enum StepStatus: String, Sendable, CaseIterable, Hashable {
    case pending = "PENDING"
    case timedOut = "TIMED_OUT"
    case completed = "COMPLETED"
    case failed = "FAILED"
    case cancelled = "CANCELLED"
    case notApplicable = "NOT_APPLICABLE"

    /// True for `COMPLETED`, `FAILED`, `CANCELLED` and `NOT_APPLICABLE`.
    public var isTerminal: Bool {
        switch self {
        case .pending, .timedOut: false
        case .completed, .failed, .cancelled, .notApplicable: true
        }
    }

    /// True when a child of a step in this status may start (`COMPLETED` or `NOT_APPLICABLE`).
    public var releasesChildren: Bool {
        switch self {
        case .completed, .notApplicable: true
        case .pending, .timedOut, .failed, .cancelled: false
        }
    }

    /// True when reaching this status cancels the step's non-terminal descendants.
    public var cascadesCancellation: Bool {
        switch self {
        case .failed, .cancelled: true
        case .pending, .timedOut, .completed, .notApplicable: false
        }
    }

    /// The outcome of an update a client or worker asks for.
    public enum UpdateOutcome: Sendable, Equatable {
        /// The status changes.
        case changes
        /// The step already has this terminal status: an idempotent repeat, nothing changes.
        case repeats
    }

    /// Checks an update from this status to `target` requested through the API.
    ///
    /// - `PENDING`/`TIMED_OUT` → any terminal status changes the step;
    /// - a terminal status → the same status is an idempotent repeat;
    /// - everything else (including any request for `PENDING` or `TIMED_OUT`, which only
    ///   restart and maintenance produce) is refused.
    /// - Returns: the outcome, or nil when the transition is refused (the API answers 409).
    public func update(to target: StepStatus) -> UpdateOutcome? {
        switch (self, target) {
        case (.pending, .completed), (.pending, .failed), (.pending, .cancelled), (.pending, .notApplicable),
            (.timedOut, .completed), (.timedOut, .failed), (.timedOut, .cancelled), (.timedOut, .notApplicable):
            return .changes
        case (.completed, .completed), (.failed, .failed), (.cancelled, .cancelled),
            (.notApplicable, .notApplicable):
            return .repeats
        case (.pending, .pending), (.pending, .timedOut), (.timedOut, .pending), (.timedOut, .timedOut),
            (.completed, _), (.failed, _), (.cancelled, _), (.notApplicable, _):
            return nil
        }
    }
}
