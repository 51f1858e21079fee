public import Notifications
public import WorkflowModel

/// One write a ``WorkflowStorage/perform(_:)`` batch carries.
public enum WriteOperation: Sendable, Equatable {
    /// Create a workflow (idempotent for the same token and definition); with a concurrency key
    /// it runs after the earlier workflows with that key.
    case create(
        token: Token, definition: WorkflowDefinition, labels: Labels, createdBy: String?, concurrencyKey: String? = nil)
    /// Upload a BOM: find (or create) the project, create a `BOM_UPLOAD` workflow keyed by the
    /// project's UUID with the BOM stored beside it, and record the import on the project.
    case upload(BomUpload)
    /// Add a project to the registry (`projectExists` when its name and version are taken).
    case createProject(ProjectDraft)
    /// Remove a project from the registry (its workflows stay).
    case deleteProject(Token)
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
    /// Cancel every step not yet terminal (``Workflow/cancel(reason:now:)``); idempotent.
    case cancel(token: Token, reason: String)
    /// Delete a workflow and all its index entries.
    case delete(token: Token)
    /// Add a webhook (validated by ``WebhookDraft/webhook(id:createdAt:)``).
    case createWebhook(Webhook)
    /// Change a webhook: what the draft gives replaces (`unknownWebhook`, `invalidWebhook`).
    case updateWebhook(Token, WebhookDraft)
    /// Delete a webhook and the deliveries still pending for it (`unknownWebhook`).
    case deleteWebhook(Token)
    /// Queue a test notification for a webhook, due at once (`unknownWebhook`).
    case testWebhook(Token)
    /// Deliver a dead or delivered delivery again: pending, attempts from 0, due at once
    /// (`unknownDelivery`; `deliveryPending` while it is still pending).
    case redeliver(UInt64)
    /// Pause (or resume) the ready queue of a step name: claims skip a paused queue, and its
    /// ready steps do not time out while it is paused. Idempotent.
    case pauseQueue(StepName, paused: Bool)
    /// Store a complete workflow as it is (`bomflow import`): created when its token is new,
    /// `alreadyExists` when an identical one is stored, refused (`conflictingDefinition`)
    /// when a different one has the token. Validate it with ``Workflow/assemble(token:createdAt:template:createdBy:labels:version:definitionStepCount:steps:)``.
    case importWorkflow(Workflow)
    /// `operation` as `origin` asks for it: the event history records who made each change. The
    /// API wraps every request's operations; one not wrapped is bomflow's own (``Origin/system(_:)``).
    indirect case attributed(WriteOperation, to: Origin)

    /// The operation inside any attribution, and who makes it: a worker named by a step update or
    /// a claim acts itself (with the key it sent).
    public var unattributed: (operation: WriteOperation, origin: Origin) {
        var operation = self
        var origin = Origin(kind: .system)
        while case .attributed(let inner, let by) = operation {
            operation = inner
            origin = by
        }
        switch operation {
        case .update(_, _, _, let actor): origin = origin.acting(as: actor)
        case .claim(_, let worker, _, _): origin = origin.acting(as: .worker(worker))
        default: break
        }
        return (operation, origin)
    }
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
    /// A BOM was uploaded: its workflow and the project (created or not).
    case uploaded(Workflow, Project)
    /// A project was created (with its parent, when it has one).
    case projectCreated(Project, parent: Project?)
    /// A project was deleted.
    case projectDeleted(Token)
    /// A webhook as stored after a create (`created`) or an update.
    case webhook(Webhook, created: Bool)
    /// A webhook was deleted, with this many pending deliveries.
    case webhookDeleted(Token, pendingDropped: Int)
    /// A delivery was queued (a test) or queued again (a redelivery).
    case queued(Delivery)
    /// A queue was paused or resumed (`changed` false when it already was).
    case queuePaused(StepName, paused: Bool, changed: Bool)

    /// The workflow the outcome carries, if any.
    public var workflow: Workflow? {
        switch self {
        case .created(let workflow), .alreadyExists(let workflow), .updated(let workflow, _),
            .uploaded(let workflow, _):
            workflow
        case .deleted, .claimed, .projectCreated, .projectDeleted, .webhook, .webhookDeleted, .queued, .queuePaused: nil
        }
    }
}

/// Names a project: by UUID, or by name and version (a nil version is "no version").
public enum ProjectReference: Sendable, Equatable, CustomStringConvertible {
    case uuid(Token)
    case name(String, version: String?)

    /// The UUID, or the name and version, as errors name the project.
    public var description: String {
        switch self {
        case .uuid(let uuid): uuid.description
        case .name(let name, let version): version.map { "\(name) \($0)" } ?? name
        }
    }
}

/// A project to create (the registry adds the UUID, if not given, and the time).
public struct ProjectDraft: Sendable, Equatable {
    public var uuid: Token?
    public var name: String
    public var version: String?
    public var parent: ProjectReference?
    public var tags: [String]
    public var isLatest: Bool
    public var active: Bool

    public init(
        uuid: Token? = nil, name: String, version: String?, parent: ProjectReference? = nil, tags: [String] = [],
        isLatest: Bool = false, active: Bool = true
    ) {
        self.uuid = uuid
        self.name = name
        self.version = version
        self.parent = parent
        self.tags = tags
        self.isLatest = isLatest
        self.active = active
    }
}

extension ProjectDraft {
    /// The project this draft makes under `parent` (already resolved by the store): a new UUID
    /// unless the draft has one, each tag once in the draft's order, validated.
    public func project(parent: Project?, now: Timestamp) throws(WorkflowError) -> Project {
        var unique: [String] = []
        for tag in tags where !unique.contains(tag) { unique.append(tag) }
        let project = Project(
            uuid: uuid ?? Token.random(), name: name, version: version, parent: parent?.uuid, tags: unique,
            isLatest: isLatest, active: active, createdAt: now)
        try project.validate()
        return project
    }
}

/// One BOM upload (Dependency-Track's `PUT`/`POST /api/v1/bom`).
public struct BomUpload: Sendable, Equatable {
    /// The new workflow's token.
    public var token: Token
    /// The project the BOM belongs to.
    public var project: ProjectReference
    /// Create the project (by name and version) when it does not exist.
    public var autoCreate: Bool
    /// For a project created here: its parent, tags, `isLatest` and `active`.
    public var parent: ProjectReference?
    public var tags: [String]
    public var isLatest: Bool
    public var active: Bool
    /// The BOM.
    public var document: BomDocument
    /// The API key that uploads.
    public var createdBy: String?

    public init(
        token: Token, project: ProjectReference, autoCreate: Bool, parent: ProjectReference? = nil,
        tags: [String] = [], isLatest: Bool = false, active: Bool = true, document: BomDocument, createdBy: String?
    ) {
        self.token = token
        self.project = project
        self.autoCreate = autoCreate
        self.parent = parent
        self.tags = tags
        self.isLatest = isLatest
        self.active = active
        self.document = document
        self.createdBy = createdBy
    }
}

/// One page of projects, in name and version order, with the number of all that match.
public struct ProjectPage: Sendable, Equatable {
    public var projects: [Project]
    public var total: Int

    public init(projects: [Project], total: Int) {
        self.projects = projects
        self.total = total
    }
}

/// One step a claim handed to a worker.
public struct ClaimedStep: Sendable, Equatable {
    public var token: Token
    public var step: StepName
    public var labels: Labels
    public var claim: Claim
    /// The BOM stored with the workflow, if any (fetch it with `GET …/token/{uuid}/bom`).
    public var bom: BomSummary?

    public init(token: Token, step: StepName, labels: Labels, claim: Claim, bom: BomSummary? = nil) {
        self.bom = bom
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
    /// Delivered and dead deliveries deleted by retention.
    public var deliveriesPruned = 0
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

extension MaintenanceReport {
    /// Adds the counts of another pass (or batch) to these.
    public mutating func add(_ other: MaintenanceReport) {
        timedOut += other.timedOut
        failed += other.failed
        cancelled += other.cancelled
        deleted += other.deleted
        deliveriesPruned += other.deliveriesPruned
        leasesExpired += other.leasesExpired
        leaseFailures += other.leaseFailures
        deadlineEntriesVisited += other.deadlineEntriesVisited
        finishedEntriesVisited += other.finishedEntriesVisited
    }
}

// MARK: The maintenance rules, one copy for every backend

extension MaintenanceReport {
    /// The deadline rule for the steps at `ordinals` of `workflow` that were last active before
    /// `cutoff` (now minus the step timeout): a ready `PENDING` step becomes `TIMED_OUT`; a
    /// `TIMED_OUT` one becomes `FAILED` "Timed out" (its dependants cancelled). A step active
    /// since `cutoff` is left alone: an index entry may name a step earlier than its last activity
    /// (LMDB files a step's deadline lazily, docs/STORAGE.md), so the rule asks the step itself.
    /// Counts what happened here. - Returns: whether `workflow` changed.
    /// Steps of `paused` queues are left as they are (their ready steps do not time out).
    public mutating func applyDeadlines(
        to workflow: inout Workflow, at ordinals: [Int], before cutoff: Timestamp, now: Timestamp,
        paused: Set<StepName> = []
    ) -> Bool {
        var changed = false
        for ordinal in ordinals {
            let name = workflow.steps[ordinal].name
            if paused.contains(name) || workflow.steps[ordinal].updatedAt >= cutoff { continue }
            switch workflow.steps[ordinal].status {
            case .pending:
                if workflow.timeOut(name, now: now) {
                    timedOut += 1
                    changed = true
                }
            case .timedOut:
                let activeBefore = workflow.activeStepCount
                if workflow.expire(name, now: now) {
                    failed += 1
                    cancelled += activeBefore - 1 - workflow.activeStepCount
                    changed = true
                }
            case .completed, .failed, .cancelled, .notApplicable:
                break
            }
        }
        return changed
    }

    /// The lease rule for the claimed steps at `ordinals` of `workflow`, whose lease has ended:
    /// back to ready, or `FAILED` (dependants cancelled) after `maxAttempts` claims. Counts what
    /// happened here. - Returns: whether `workflow` changed.
    public mutating func applyLeaseExpiry(
        to workflow: inout Workflow, at ordinals: [Int], maxAttempts: Int, now: Timestamp
    ) -> Bool {
        var changed = false
        for ordinal in ordinals {
            let activeBefore = workflow.activeStepCount
            guard workflow.expireLease(workflow.steps[ordinal].name, maxAttempts: maxAttempts, now: now) else {
                continue
            }
            changed = true
            if workflow.steps[ordinal].status == .failed {
                leaseFailures += 1
                cancelled += activeBefore - 1 - workflow.activeStepCount
            } else {
                leasesExpired += 1
            }
        }
        return changed
    }
}

extension Workflow {
    /// Steps not yet in a terminal status.
    fileprivate var activeStepCount: Int { steps.count { !$0.status.isTerminal } }
}

/// The batch loop every backend runs inside its write transaction.
public enum WriteBatches {
    /// Applies the operations of each admitted batch in order with `apply`, in the caller's
    /// transaction: an operation the model refuses (``WorkflowError``) fails alone, any other error
    /// ends the whole transaction. - Returns: one result per operation of each admitted batch,
    /// nil for a batch not admitted.
    /// Each operation reaches `apply` without its attribution, with who makes it
    /// (``WriteOperation/unattributed``).
    public static func apply(
        _ batches: [[WriteOperation]], admitted: [Bool], _ apply: (WriteOperation, Origin) throws -> WriteOutcome
    ) rethrows -> [[Result<WriteOutcome, WorkflowError>]?] {
        var answers: [[Result<WriteOutcome, WorkflowError>]?] = []
        answers.reserveCapacity(batches.count)
        for (operations, isAdmitted) in zip(batches, admitted) {
            guard isAdmitted else {
                answers.append(nil)
                continue
            }
            var results: [Result<WriteOutcome, WorkflowError>] = []
            results.reserveCapacity(operations.count)
            for operation in operations {
                do {
                    let (inner, origin) = operation.unattributed
                    results.append(.success(try apply(inner, origin)))
                } catch let refusal as WorkflowError {
                    results.append(.failure(refusal))
                }
            }
            answers.append(results)
        }
        return answers
    }
}
