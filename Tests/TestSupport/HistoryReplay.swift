public import WorkflowModel

/// Replays a workflow's event history from its creation and compares it with the workflow: each
/// `STATUS` event must start from the status the events before it lead to, and together they
/// must lead to every step's current status. Numbers run 1, 2, … without gaps (until the bound
/// drops events) and versions never go back. (A history of an imported workflow, or one the bound shortened, starts elsewhere and
/// is only checked for order.)
public enum HistoryReplay {
    public static func problems(_ events: [HistoryEvent], of workflow: Workflow) -> [String] {
        var problems: [String] = []
        var lastVersion: UInt64 = 0
        for (index, event) in events.enumerated() {
            if index > 0, events.count < HistoryEvent.limit, event.sequence != events[index - 1].sequence + 1 {
                problems.append("#\(event.sequence) follows #\(events[index - 1].sequence)")
            }
            if let version = event.version {
                if version < lastVersion { problems.append("#\(event.sequence): version \(version) < \(lastVersion)") }
                lastVersion = version
            }
        }
        guard let first = events.first, first.sequence == 1, first.kind == .created else { return problems }
        if lastVersion > workflow.version {
            problems.append("events reach version \(lastVersion), the workflow is at \(workflow.version)")
        }
        var statuses: [StepName: StepStatus] = [:]
        var known = 0
        func add(_ count: Int) {
            for step in workflow.steps.dropFirst(known).prefix(count) { statuses[step.name] = step.createdAs }
            known += count
        }
        for event in events {
            switch event.kind {
            case .created: add(event.count)
            case .stepsAdded: add(event.count)
            case .status:
                guard let step = event.step, let from = event.from, let to = event.to else {
                    problems.append("#\(event.sequence): STATUS without step, from or to")
                    continue
                }
                if statuses[step] != from {
                    problems.append(
                        "#\(event.sequence): \(step) from \(from), but the history had it \(statuses[step].map(\.rawValue) ?? "missing")"
                    )
                }
                statuses[step] = to
            case .restarted:
                guard let step = event.step, let index = workflow.index(of: step) else {
                    problems.append("#\(event.sequence): RESTARTED without a known step")
                    continue
                }
                for member in [index] + workflow.descendants(of: index) {
                    statuses[workflow.steps[member].name] = .pending
                }
            case .cancelled:
                for (name, status) in statuses where !status.isTerminal { statuses[name] = .cancelled }
            default:
                break
            }
        }
        for step in workflow.steps where statuses[step.name] != step.status {
            problems.append(
                "\(step.name) is \(step.status), the history says \(statuses[step.name].map(\.rawValue) ?? "nothing")")
        }
        return problems
    }
}
