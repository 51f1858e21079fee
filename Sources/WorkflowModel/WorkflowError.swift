/// Why a workflow operation was refused. Nothing changes when one is thrown.
///
/// The API maps each case to a status: ``isConflict`` cases to 409, ``isNotFound`` to 404,
/// the rest to 400.
public enum WorkflowError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A step name does not match `^[A-Z][A-Z0-9_]{0,63}$`.
    case invalidStepName(String)
    /// The workflow has no step of that name.
    case unknownStep(StepName)
    /// The workflow does not exist.
    case unknownWorkflow(Token)
    /// The status change is not in the transition table (DESIGN.md §1).
    case invalidTransition(step: StepName, from: StepStatus, to: StepStatus)
    /// `FAILED` was requested without a failure reason.
    case failureReasonRequired(step: StepName)
    /// A failure reason was given for a status other than `FAILED`.
    case failureReasonNotAllowed(step: StepName, status: StepStatus)
    /// The failure reason is longer than ``Limits/maxFailureReasonBytes`` UTF-8 bytes.
    case failureReasonTooLong(bytes: Int)
    /// The workflow would have more than ``Limits/maxSteps`` steps.
    case tooManySteps(count: Int)
    /// A definition names the same step twice, or adds a step the workflow already has.
    case duplicateStep(StepName)
    /// A step names a parent that is neither in the request nor in the workflow.
    case unknownParent(step: StepName, parent: StepName)
    /// The parent links of a request form a cycle.
    case cycle(StepName)
    /// A step may be created only as `PENDING` or `NOT_APPLICABLE`.
    case invalidInitialStatus(step: StepName, status: StepStatus)
    /// A pending step cannot be added (or restarted) under a `FAILED` or `CANCELLED` ancestor:
    /// it could never run.
    case parentFinished(step: StepName, parent: StepName, status: StepStatus)
    /// A create request names neither a template nor any step.
    case emptyDefinition
    /// A label breaks the limits (count, empty key, sizes).
    case invalidLabel(String)
    /// The creator name is longer than ``Limits/maxCreatorBytes``.
    case creatorTooLong(bytes: Int)
    /// A restart was asked while a step is still `PENDING` or `TIMED_OUT`.
    case restartWhileProcessing(step: StepName)
    /// Starting or recording progress on a step that has finished.
    case stepFinished(step: StepName, status: StepStatus)
    /// A progress update is malformed (negative numbers, threshold outside 0...1, nothing to do).
    case invalidProgress(String)
    /// A workflow with this token exists with a different definition.
    case conflictingDefinition(Token)
    /// The step is held by another worker's lease.
    case claimedByAnother(step: StepName, worker: String)
    /// A heartbeat for a step that no worker holds (the lease expired, or it was never claimed).
    case notClaimed(step: StepName)
    /// A worker name or lease outside the limits.
    case invalidClaim(String)
    /// An imported workflow (export file, Hyades rows) is inconsistent in a way no other case names.
    case invalidRecord(String)
    /// A concurrency key is empty, too long or has control characters.
    case invalidConcurrencyKey(String)
    /// No project with this UUID, or with this name and version.
    case unknownProject(String)
    /// The parent project an upload or create names does not exist.
    case unknownParentProject(String)
    /// A project with this name and version exists already.
    case projectExists(name: String, version: String?)
    /// A project field breaks its limits.
    case invalidProject(String)
    /// No webhook with this UUID.
    case unknownWebhook(Token)
    /// No delivery with this sequence number in the outbox.
    case unknownDelivery(UInt64)
    /// A redelivery asked for a delivery that is still pending (it is delivered anyway).
    case deliveryPending(UInt64)
    /// A webhook's configuration is refused (the member and why).
    case invalidWebhook(String)
    /// A priority outside 0...100.
    case invalidPriority(Int)

    /// True for refusals that mean "the current state does not allow it" (HTTP 409).
    public var isConflict: Bool {
        switch self {
        case .invalidTransition, .restartWhileProcessing, .stepFinished, .conflictingDefinition, .parentFinished,
            .duplicateStep, .claimedByAnother, .notClaimed, .projectExists, .deliveryPending:
            true
        case .invalidStepName, .unknownStep, .unknownWorkflow, .failureReasonRequired, .failureReasonNotAllowed,
            .failureReasonTooLong, .tooManySteps, .unknownParent, .cycle, .invalidInitialStatus, .emptyDefinition,
            .invalidLabel, .creatorTooLong, .invalidProgress, .invalidRecord, .invalidClaim, .invalidConcurrencyKey,
            .unknownProject, .unknownParentProject, .invalidProject, .unknownWebhook, .unknownDelivery, .invalidWebhook,
            .invalidPriority:
            false
        }
    }

    /// True when the workflow or step does not exist (HTTP 404).
    public var isNotFound: Bool {
        switch self {
        case .unknownStep, .unknownWorkflow, .unknownProject, .unknownParentProject, .unknownWebhook, .unknownDelivery:
            true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .invalidStepName(let name): "Invalid step name '\(name)': must match ^[A-Z][A-Z0-9_]{0,63}$"
        case .unknownStep(let step): "The workflow has no step \(step)"
        case .unknownWorkflow(let token): "Provided token \(token) does not exist."
        case .invalidTransition(let step, let from, let to):
            "Step \(step) cannot go from \(from.rawValue) to \(to.rawValue)"
        case .failureReasonRequired(let step): "Step \(step): FAILED requires a failureReason"
        case .failureReasonNotAllowed(let step, let status):
            "Step \(step): a failureReason is only allowed with FAILED, not \(status.rawValue)"
        case .failureReasonTooLong(let bytes):
            "failureReason is \(bytes) bytes; at most \(Limits.maxFailureReasonBytes) UTF-8 bytes are allowed"
        case .tooManySteps(let count): "A workflow has at most \(Limits.maxSteps) steps; this would make \(count)"
        case .duplicateStep(let step): "Step \(step) is already defined"
        case .unknownParent(let step, let parent):
            "Step \(step) names parent \(parent), which is neither in the request nor in the workflow"
        case .cycle(let step): "The parent links form a cycle through step \(step)"
        case .invalidInitialStatus(let step, let status):
            "Step \(step) cannot be created as \(status.rawValue): only PENDING or NOT_APPLICABLE"
        case .parentFinished(let step, let parent, let status):
            "Step \(step) cannot become PENDING under \(parent), which is \(status.rawValue)"
        case .emptyDefinition: "A workflow needs a template or at least one step"
        case .invalidLabel(let reason): "Invalid label: \(reason)"
        case .creatorTooLong(let bytes): "The creator name is \(bytes) bytes; at most \(Limits.maxCreatorBytes)"
        case .restartWhileProcessing(let step):
            "The workflow cannot be restarted while step \(step) is still PENDING or TIMED_OUT"
        case .stepFinished(let step, let status): "Step \(step) has finished (\(status.rawValue))"
        case .invalidProgress(let reason): "Invalid progress update: \(reason)"
        case .conflictingDefinition(let token):
            "A workflow with token \(token) already exists with a different definition"
        case .invalidRecord(let reason): "Invalid workflow record: \(reason)"
        case .claimedByAnother(let step, let worker):
            "Step \(step) is claimed by worker \(worker); only it (or an ADMIN key) may change it while its lease lives"
        case .notClaimed(let step): "Step \(step) is not claimed (its lease may have expired)"
        case .invalidClaim(let reason): "Invalid claim: \(reason)"
        case .invalidConcurrencyKey(let reason): "Invalid concurrencyKey: \(reason)"
        case .unknownProject: "The project could not be found."
        case .unknownParentProject: "The parent component could not be found."
        case .projectExists(let name, let version):
            "A project with the name \(name)\(version.map { " and version " + $0 } ?? " and no version") already exists."
        case .invalidProject(let reason): "Invalid project: \(reason)"
        case .unknownWebhook(let id): "No webhook \(id)"
        case .unknownDelivery(let sequence): "No delivery \(sequence) in the outbox"
        case .deliveryPending(let sequence): "Delivery \(sequence) is still pending; it is being delivered"
        case .invalidWebhook(let reason): "Invalid webhook: \(reason)"
        case .invalidPriority(let priority): "priority is 0 to 100, not \(priority)"
        }
    }
}

/// The limits of DESIGN.md §1, enforced before anything is written.
public enum Limits {
    /// Steps in one workflow.
    public static let maxSteps = 64
    /// UTF-8 bytes of a failure reason (longer is refused, never cut).
    public static let maxFailureReasonBytes = 4096
    /// Labels on one workflow.
    public static let maxLabels = 32
    /// UTF-8 bytes of a label key or value.
    public static let maxLabelBytes = 256
    /// UTF-8 bytes of the creator (API key) name.
    public static let maxCreatorBytes = 256
    /// UTF-8 bytes of a worker's name.
    public static let maxWorkerBytes = 128
    /// Longest lease a claim or heartbeat may ask for (1 hour), in milliseconds.
    public static let maxLeaseMilliseconds: Int64 = 3_600_000
    /// UTF-8 bytes of a concurrency key.
    public static let maxConcurrencyKeyBytes = 256
    /// UTF-8 bytes of a project's name and of its version (both are parts of an index key).
    public static let maxProjectNameBytes = 200
    public static let maxProjectVersionBytes = 200
    /// Tags on one project, and UTF-8 bytes of each.
    public static let maxProjectTags = 32
    public static let maxProjectTagBytes = 255
}
