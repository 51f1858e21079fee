/// The step trees a create request may name instead of listing steps (DESIGN.md §1).
public enum Template: String, Sendable, CaseIterable, Hashable {
    /// `BOM_CONSUMPTION → BOM_PROCESSING → VULN_ANALYSIS → POLICY_EVALUATION → METRICS_UPDATE`
    /// (Hyades' chain). A request may add `REPO_META_ANALYSIS` under `BOM_PROCESSING`.
    case bomUpload = "BOM_UPLOAD"
    /// `VULN_ANALYSIS → POLICY_EVALUATION`.
    case reanalysis = "REANALYSIS"
    /// `PROJECT_CLONE` alone.
    case projectClone = "PROJECT_CLONE"
    /// `POLICY_BUNDLE_SYNC` alone.
    case policyBundleSync = "POLICY_BUNDLE_SYNC"

    /// The template's steps, parents first.
    public var steps: [StepSpec] {
        switch self {
        case .bomUpload:
            [
                StepSpec(.bomConsumption),
                StepSpec(.bomProcessing, parent: .bomConsumption),
                StepSpec(.vulnAnalysis, parent: .bomProcessing),
                StepSpec(.policyEvaluation, parent: .vulnAnalysis),
                StepSpec(.metricsUpdate, parent: .policyEvaluation),
            ]
        case .reanalysis:
            [StepSpec(.vulnAnalysis), StepSpec(.policyEvaluation, parent: .vulnAnalysis)]
        case .projectClone:
            [StepSpec(.projectClone)]
        case .policyBundleSync:
            [StepSpec(.policyBundleSync)]
        }
    }
}

/// One step of a definition: its name, its parent and the status it is created with.
public struct StepSpec: Sendable, Hashable {
    /// The step's name.
    public var name: StepName
    /// The parent, which must be defined earlier in the request, later in it, or already in
    /// the workflow; nil for a root.
    public var parent: StepName?
    /// `PENDING` (default) or `NOT_APPLICABLE`.
    public var status: StepStatus

    /// Creates a step specification.
    public init(_ name: StepName, parent: StepName? = nil, status: StepStatus = .pending) {
        self.name = name
        self.parent = parent
        self.status = status
    }
}

/// What a create request asks for: a template, explicit steps, or a template plus steps.
public struct WorkflowDefinition: Sendable, Equatable {
    /// The template, if any; its steps come first.
    public var template: Template?
    /// Steps beyond the template's (or all of them without a template).
    public var steps: [StepSpec]
    /// The workflow's priority (``Workflow/priorities``, default 50).
    public var priority: Int

    /// Creates a definition.
    public init(template: Template? = nil, steps: [StepSpec] = [], priority: Int = Workflow.defaultPriority) {
        self.template = template
        self.steps = steps
        self.priority = priority
    }

    /// The template's steps followed by the explicit ones.
    public var expandedSteps: [StepSpec] { (template?.steps ?? []) + steps }
}
