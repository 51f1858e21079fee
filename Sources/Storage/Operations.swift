public import WorkflowModel

/// One write a ``WorkflowStorage/perform(_:)`` batch carries.
public enum WriteOperation: Sendable, Equatable {
    /// Create a workflow (idempotent for the same token and definition).
    case create(token: Token, definition: WorkflowDefinition, labels: Labels, createdBy: String?)
    /// Add steps to an existing workflow.
    case addSteps(token: Token, steps: [StepSpec])
    /// Change one step's status, start it, record progress or extend its lease; `actor` says
    /// who asks (a claimed step accepts only its worker or an admin).
    case update(token: Token, step: StepName, command: StepCommand, actor: Actor = .anyone)
    /// Claim up to `max` claimable steps named in `steps` (the longest-ready first) for `worker`
    /// under a lease of `leaseMilliseconds`.
    case claim(steps: [StepName], worker: String, leaseMilliseconds: Int64, max: Int)
    /// Restart a finished workflow from a step.
    case restart(token: Token, step: StepName)
    /// Delete a workflow and all its index entries.
    case delete(token: Token)
    /// Store a complete workflow as it is (`bomflow import`): created when its token is new,
    /// `alreadyExists` when an identical one is stored, refused (`conflictingDefinition`)
    /// when a different one has the token. Validate it with ``Workflow/assemble(token:createdAt:template:createdBy:labels:version:definitionStepCount:steps:)``.
    case importWorkflow(Workflow)
}

/// What one write did.
public enum WriteOutcome: Sendable, Equatable {
    /// A new workflow was created.
    case created(Workflow)
    /// A workflow with this token and the same definition existed: nothing changed.
    case alreadyExists(Workflow)
    /// The workflow after the change; `changed` is false for an idempotent repeat.
    case updated(Workflow, changed: Bool)
    /// The workflow was deleted.
    case deleted(Token)
    /// What a claim took (possibly nothing).
    case claimed([ClaimedStep])

    /// The workflow the outcome carries, if any.
    public var workflow: Workflow? {
        switch self {
        case .created(let workflow), .alreadyExists(let workflow), .updated(let workflow, _): workflow
        case .deleted, .claimed: nil
        }
    }
}

/// One step a claim handed to a worker.
public struct ClaimedStep: Sendable, Equatable {
    public var token: Token
    public var step: StepName
    public var labels: Labels
    public var claim: Claim

    public init(token: Token, step: StepName, labels: Labels, claim: Claim) {
        self.token = token
        self.step = step
        self.labels = labels
        self.claim = claim
    }
}

/// Which workflows a list returns.
public struct WorkflowQuery: Sendable, Equatable {
    /// Processing (some step `PENDING`/`TIMED_OUT`) or done (all steps terminal).
    public enum State: String, Sendable, CaseIterable {
        case processing
        case done
    }

    /// Only workflows carrying this label (exact key and value).
    public var label: Labels.Label?
    /// Only workflows in this state.
    public var state: State?
    /// At most this many workflows (1...1,000). Default 100.
    public var limit: Int
    /// Continue after a previous page: the ``WorkflowPage/nextCursor`` it returned.
    public var cursor: UInt64?

    /// Creates a query; without filters it lists every workflow, newest first.
    public init(label: Labels.Label? = nil, state: State? = nil, limit: Int = 100, cursor: UInt64? = nil) {
        self.label = label
        self.state = state
        self.limit = limit
        self.cursor = cursor
    }
}

/// One page of a list, newest first.
public struct WorkflowPage: Sendable, Equatable {
    /// The workflows of this page.
    public var workflows: [Workflow]
    /// Pass as ``WorkflowQuery/cursor`` for the next page; nil when the list is complete.
    public var nextCursor: UInt64?

    public init(workflows: [Workflow], nextCursor: UInt64?) {
        self.workflows = workflows
        self.nextCursor = nextCursor
    }
}

/// What one maintenance pass did (DESIGN.md §1, "Maintenance").
public struct MaintenanceReport: Sendable, Equatable {
    /// True when another process held the maintenance lease, so this pass did nothing.
    public var skipped = false
    /// Ready `PENDING` steps that became `TIMED_OUT`.
    public var timedOut = 0
    /// `TIMED_OUT` steps that became `FAILED` "Timed out".
    public var failed = 0
    /// Steps cancelled by the cascade of those failures.
    public var cancelled = 0
    /// Finished workflows deleted by retention.
    public var deleted = 0
    /// Claimed steps whose lease ended: put back into their ready queue.
    public var leasesExpired = 0
    /// Claimed steps whose last allowed lease ended: `FAILED` "Lease expired after N attempts".
    public var leaseFailures = 0
    /// Index entries of the `deadlines` table the pass read (expiring ones plus one boundary
    /// entry per batch): the cost grows with what expires, not with the database.
    public var deadlineEntriesVisited = 0
    /// Index entries of the `finished` table the pass read.
    public var finishedEntriesVisited = 0
    /// Write transactions the pass committed.
    public var transactions = 0

    public init() {}
}
