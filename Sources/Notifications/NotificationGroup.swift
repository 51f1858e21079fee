public import WorkflowModel

/// What a notification is about: Dependency-Track's BOM groups (its webhook shape) and bomflow's
/// own groups for any template (docs/NOTIFICATIONS.md).
public enum NotificationGroup: String, Sendable, CaseIterable, Hashable {
    /// A `BOM_UPLOAD` workflow's `BOM_CONSUMPTION` step completed.
    case bomConsumed = "BOM_CONSUMED"
    /// A `BOM_UPLOAD` workflow finished with every step `COMPLETED` or `NOT_APPLICABLE`.
    case bomProcessed = "BOM_PROCESSED"
    /// A step of a `BOM_UPLOAD` workflow failed or timed out, the first one of a run (`cause`: its
    /// reason); a restart starts a new run.
    case bomProcessingFailed = "BOM_PROCESSING_FAILED"
    /// A workflow of any template finished with every step `COMPLETED` or `NOT_APPLICABLE`.
    case workflowCompleted = "WORKFLOW_COMPLETED"
    /// A workflow of any template finished with a step `FAILED` or `CANCELLED`.
    case workflowFailed = "WORKFLOW_FAILED"
    /// A step of any workflow became `FAILED` or `TIMED_OUT`.
    case stepFailed = "STEP_FAILED"

    /// Dependency-Track's level: `ERROR` for failures, else `INFORMATIONAL`.
    public var level: String {
        switch self {
        case .bomConsumed, .bomProcessed, .workflowCompleted: "INFORMATIONAL"
        case .bomProcessingFailed, .workflowFailed, .stepFailed: "ERROR"
        }
    }

    /// The notification's title (Dependency-Track's own for its groups).
    public var title: String {
        switch self {
        case .bomConsumed: "Bill of Materials Consumed"
        case .bomProcessed: "Bill of Materials Processed"
        case .bomProcessingFailed: "Bill of Materials Processing Failed"
        case .workflowCompleted: "Workflow Completed"
        case .workflowFailed: "Workflow Failed"
        case .stepFailed: "Workflow Step Failed"
        }
    }

    /// True for Dependency-Track's groups, whose subject is the project and the BOM.
    public var isDependencyTrack: Bool {
        switch self {
        case .bomConsumed, .bomProcessed, .bomProcessingFailed: true
        case .workflowCompleted, .workflowFailed, .stepFailed: false
        }
    }
}

/// One thing that happened to a workflow in a committed change, before it is addressed to
/// webhooks (``NotificationEvent/events(from:to:)``).
public struct NotificationEvent: Sendable, Equatable {
    public var group: NotificationGroup
    /// The step it is about (`STEP_FAILED`, `BOM_CONSUMED`), if one.
    public var step: StepName?
    /// Why it failed (the step's failure reason), for the failure groups.
    public var cause: String?

    public init(group: NotificationGroup, step: StepName? = nil, cause: String? = nil) {
        self.group = group
        self.step = step
        self.cause = cause
    }

    /// The events a change of a workflow from `old` to `new` causes, in the order they are sent:
    /// step events in step order, then the workflow's failure, then its end. A new workflow
    /// (`old` nil: created, uploaded or imported) causes none, and neither does a change that
    /// repeats a state.
    public static func events(from old: Workflow?, to new: Workflow) -> [NotificationEvent] {
        guard let old else { return [] }
        var events: [NotificationEvent] = []
        let isUpload = new.template == .bomUpload
        for (ordinal, step) in new.steps.enumerated() {
            let before =
                ordinal < old.steps.count && old.steps[ordinal].name == step.name
                ? old.steps[ordinal].status : nil
            guard before != step.status else { continue }
            switch step.status {
            case .failed, .timedOut:
                events.append(
                    NotificationEvent(
                        group: .stepFailed, step: step.name, cause: step.failureReason ?? step.status.rawValue))
            case .completed where isUpload && step.name == .bomConsumption:
                events.append(NotificationEvent(group: .bomConsumed, step: step.name))
            default: break
            }
        }
        if isUpload, old.firstFailure == nil, let failure = new.firstFailure {
            events.append(
                NotificationEvent(
                    group: .bomProcessingFailed, step: failure.name,
                    cause: failure.failureReason ?? failure.status.rawValue))
        }
        if old.isProcessing, !new.isProcessing {
            if new.succeeded {
                if isUpload { events.append(NotificationEvent(group: .bomProcessed)) }
                events.append(NotificationEvent(group: .workflowCompleted))
            } else {
                let reason = new.steps.first { $0.status == .failed || $0.status == .cancelled }
                events.append(
                    NotificationEvent(
                        group: .workflowFailed, step: reason?.name,
                        cause: reason?.failureReason ?? reason?.status.rawValue))
            }
        }
        return events
    }
}

extension Workflow {
    /// The first step (in step order) that failed or timed out.
    fileprivate var firstFailure: Step? { steps.first { $0.status == .failed || $0.status == .timedOut } }

    /// Every step `COMPLETED` or `NOT_APPLICABLE`.
    fileprivate var succeeded: Bool { steps.allSatisfy { $0.status == .completed || $0.status == .notApplicable } }
}
