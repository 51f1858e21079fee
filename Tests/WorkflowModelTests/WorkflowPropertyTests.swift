import PropertyBased
import TestSupport
import Testing
import WorkflowModel

/// Random operation sequences on the pure model keep the invariants of the issue: unique
/// steps, a tree, terminal steps unchanged except by restart, no active step under a failed or
/// cancelled one, processing ⇔ some step pending or timed out, and refusals change nothing.
struct WorkflowPropertyTests {
    @Test func randomSequencesKeepTheInvariants() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...1_000_000).array(of: 1...80)) { values in
            var now = Timestamp(milliseconds: 1_000_000)
            var workflow = try! Workflow.make(
                token: .make(1), definition: WorkflowDefinition(template: .bomUpload), now: now)
            var added = 0
            for value in values {
                let operation = RandomOperation.decode(value, workflows: 1)
                let before = workflow
                let steps = workflow.steps
                func name(_ index: Int) -> StepName { steps[index % steps.count].name }
                do {
                    switch operation {
                    case .setStatus(_, let step, let status):
                        try workflow.apply(
                            .setStatus(status, failureReason: status == .failed ? "reason \(value)" : nil),
                            to: name(step), now: now)
                    case .start(_, let step):
                        try workflow.apply(.start, to: name(step), now: now)
                    case .progress(_, let step, let update):
                        try workflow.apply(.progress(update), to: name(step), now: now)
                    case .addStep(_, let parent, let notApplicable):
                        added += 1
                        try workflow.addSteps(
                            [
                                StepSpec(
                                    .make("EXTRA_\(added)"), parent: parent.map(name),
                                    status: notApplicable ? .notApplicable : .pending)
                            ],
                            now: now)
                    case .restart(_, let step):
                        try workflow.restart(from: name(step), now: now)
                    case .cancel:
                        _ = try workflow.cancel(reason: "cancel \(value)", now: now)
                    case .advanceClock(let minutes):
                        now = now.adding(milliseconds: minutes * 60_000)
                    case .maintenance:
                        for step in steps {
                            if step.status == .timedOut {
                                workflow.expire(step.name, now: now)
                            } else {
                                workflow.timeOut(step.name, now: now)
                            }
                        }
                    case .create, .delete:
                        break
                    }
                } catch {
                    #expect(workflow == before, "a refused \(operation) changed the workflow")
                }
                #expect(invariantViolations(of: workflow) == [], "after \(operation)")
                #expect(workflow.indicesInTreeOrder == referenceTreeOrder(workflow), "after \(operation)")
                if case .restart = operation {
                } else {
                    #expect(
                        changedTerminalSteps(before: before, after: workflow) == [],
                        "\(operation) changed a terminal step")
                }
            }
        }
    }
}

/// Tree order the plain way: each root, then its children found by comparing every step's parent
/// with the step's name, depth first (what `indicesInTreeOrder` must equal).
private func referenceTreeOrder(_ workflow: Workflow) -> [Int] {
    func subtree(_ index: Int) -> [Int] {
        [index]
            + workflow.steps.indices.filter { workflow.steps[$0].parent == workflow.steps[index].name }.flatMap(subtree)
    }
    return workflow.steps.indices.filter { workflow.steps[$0].parent == nil }.flatMap(subtree)
}
