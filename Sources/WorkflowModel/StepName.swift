/// The name of a workflow step: one of Dependency-Track's `WorkflowStep` values or a custom
/// name matching `^[A-Z][A-Z0-9_]{0,63}$`.
public struct StepName: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The name's text.
    public let rawValue: String

    /// Validates `rawValue`; nil unless it matches `^[A-Z][A-Z0-9_]{0,63}$`.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    private init(unchecked rawValue: String) { self.rawValue = rawValue }

    /// True when `text` matches `^[A-Z][A-Z0-9_]{0,63}$`.
    public static func isValid(_ text: String) -> Bool {
        let utf8 = text.utf8
        guard let first = utf8.first, (1...64).contains(utf8.count) else { return false }
        guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) else { return false }
        return utf8.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: StepName, rhs: StepName) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The SBOM is being consumed (parsed) — Dependency-Track's first step.
    public static let bomConsumption = StepName(unchecked: "BOM_CONSUMPTION")
    /// The components of the consumed SBOM are being stored.
    public static let bomProcessing = StepName(unchecked: "BOM_PROCESSING")
    /// Vulnerability analysis of the components.
    public static let vulnAnalysis = StepName(unchecked: "VULN_ANALYSIS")
    /// Repository metadata analysis (latest versions and the like).
    public static let repoMetaAnalysis = StepName(unchecked: "REPO_META_ANALYSIS")
    /// Policy evaluation against the analysis results.
    public static let policyEvaluation = StepName(unchecked: "POLICY_EVALUATION")
    /// Project metrics update: the last step before a quality gate can run.
    public static let metricsUpdate = StepName(unchecked: "METRICS_UPDATE")
    /// Synchronisation of a policy bundle.
    public static let policyBundleSync = StepName(unchecked: "POLICY_BUNDLE_SYNC")
    /// Cloning of a project.
    public static let projectClone = StepName(unchecked: "PROJECT_CLONE")

    /// Dependency-Track's built-in steps, in its declaration order.
    public static let builtIn: [StepName] = [
        .bomConsumption, .bomProcessing, .vulnAnalysis, .repoMetaAnalysis, .policyEvaluation,
        .metricsUpdate, .policyBundleSync, .projectClone,
    ]
}
