public import WorkflowModel

/// Turns a list of random integers into workflow operations, so that property tests can use
/// shrinkable integer arrays as their input and replay any failure from its seed.
///
/// The same decoded operations are applied to the pure model and to the store, which must then
/// agree (the model is the specification).
public enum RandomOperation: Sendable, Equatable, CustomStringConvertible {
    case setStatus(workflow: Int, step: Int, StepStatus)
    case start(workflow: Int, step: Int)
    case progress(workflow: Int, step: Int, ProgressUpdate)
    case addStep(workflow: Int, parent: Int?, notApplicable: Bool)
    case restart(workflow: Int, step: Int)
    case cancel(workflow: Int)
    case advanceClock(minutes: Int64)
    case maintenance
    case create(workflow: Int, template: Template)
    case delete(workflow: Int)

    /// Decodes one operation from `value` (any non-negative integer); `workflows` is how many
    /// workflow slots the test uses.
    public static func decode(_ value: Int, workflows: Int) -> RandomOperation {
        var rest = value
        func take(_ count: Int) -> Int {
            defer { rest /= count }
            return rest % count
        }
        let kind = take(20)
        let workflow = take(workflows)
        let step = take(8)
        switch kind {
        case 6: return .cancel(workflow: workflow)
        case 0...5: return .setStatus(workflow: workflow, step: step, StepStatus.allCases[take(6)])
        case 7, 8: return .start(workflow: workflow, step: step)
        case 9, 10:
            let update = ProgressUpdate(
                expected: take(3) == 0 ? Int64(take(20)) : nil, failureThreshold: take(4) == 0 ? 0.1 : nil,
                addCompleted: Int64(take(4)), addFailed: Int64(take(2)))
            return .progress(workflow: workflow, step: step, update)
        case 11, 12: return .addStep(workflow: workflow, parent: take(3) == 0 ? nil : step, notApplicable: take(5) == 0)
        case 13: return .restart(workflow: workflow, step: step)
        case 14, 15: return .advanceClock(minutes: Int64(take(90)))
        case 16: return .maintenance
        case 17, 18: return .create(workflow: workflow, template: Template.allCases[take(4)])
        default: return .delete(workflow: workflow)
        }
    }

    public var description: String {
        switch self {
        case .setStatus(let w, let s, let status): "setStatus(w\(w), s\(s), \(status.rawValue))"
        case .start(let w, let s): "start(w\(w), s\(s))"
        case .progress(let w, let s, let u): "progress(w\(w), s\(s), \(u))"
        case .addStep(let w, let p, let na): "addStep(w\(w), parent s\(p.map(String.init) ?? "-"), na: \(na))"
        case .restart(let w, let s): "restart(w\(w), s\(s))"
        case .cancel(let w): "cancel(w\(w))"
        case .advanceClock(let m): "advance(\(m) min)"
        case .maintenance: "maintenance"
        case .create(let w, let t): "create(w\(w), \(t.rawValue))"
        case .delete(let w): "delete(w\(w))"
        }
    }
}

/// Invariants every workflow must satisfy after any sequence of operations (the issue's list).
/// - Returns: a description of each violation; empty when all hold.
public func invariantViolations(of workflow: Workflow) -> [String] {
    var problems: [String] = []
    let names = workflow.steps.map(\.name)
    if Set(names).count != names.count { problems.append("step names repeat: \(names)") }
    for (index, step) in workflow.steps.enumerated() {
        if let parent = step.parent {
            if workflow.index(of: parent) == nil { problems.append("\(step.name): parent \(parent) missing") }
            // Follow parents: must reach a root without revisiting.
            var seen: Set<StepName> = [step.name]
            var current: StepName? = parent
            while let name = current {
                if !seen.insert(name).inserted {
                    problems.append("\(step.name): parent links form a cycle")
                    break
                }
                current = workflow.step(name)?.parent
            }
        }
        let reasonAllowed = step.status == .failed || step.status == .cancelled
        if (step.status == .failed && step.failureReason == nil) || (!reasonAllowed && step.failureReason != nil) {
            problems.append("\(step.name): failureReason \(step.failureReason ?? "nil") with \(step.status)")
        }
        if step.status.cascadesCancellation {
            for descendant in workflow.descendants(of: index) where !workflow.steps[descendant].status.isTerminal {
                problems.append("\(workflow.steps[descendant].name) active under \(step.status.rawValue) \(step.name)")
            }
        }
    }
    if workflow.isProcessing != workflow.steps.contains(where: { $0.status == .pending || $0.status == .timedOut }) {
        problems.append("isProcessing disagrees with the step statuses")
    }
    if workflow.steps.count > Limits.maxSteps { problems.append("more than \(Limits.maxSteps) steps") }
    return problems
}

/// Terminal steps that changed between `before` and `after` (only a restart may do that).
public func changedTerminalSteps(before: Workflow, after: Workflow) -> [StepName] {
    before.steps.compactMap { old in
        guard old.status.isTerminal, let new = after.step(old.name) else { return nil }
        return new == old ? nil : old.name
    }
}
