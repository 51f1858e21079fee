import PropertyBased
import Storage
import TestSupport
import Testing
import WorkflowModel

@testable import LMDBStore

/// Random operation sequences against the store and the pure model side by side: the store must
/// return what the model computes, "processing" must match, and rows and indexes must agree.
struct StorePropertyTests {
    @Test(arguments: Backend.all) func storeAgreesWithTheModel(backend: Backend) async throws {
        await propertyCheck(count: backend == .lmdb ? 60 : 25, input: Gen.int(in: 0...1_000_000).array(of: 1...60)) {
            values in
            let fixture = try! StoreFixture(backend)
            let slots = 3
            var model: [Token: Workflow] = [:]
            var added = 0
            for value in values {
                let operation = RandomOperation.decode(value, workflows: slots)
                let now = fixture.clock.time
                func token(_ slot: Int) -> Token { .make(UInt64(slot + 1)) }
                func name(_ slot: Int, _ step: Int) -> StepName {
                    guard let steps = model[token(slot)]?.steps, !steps.isEmpty else { return .bomConsumption }
                    return steps[step % steps.count].name
                }
                var write: WriteOperation?
                var expected: Workflow??  // nil: refused; .some(nil): deleted
                switch operation {
                case .create(let slot, let template):
                    // A priority per slot, so that the store's copy of it is compared too.
                    let definition = WorkflowDefinition(template: template, priority: slot * 37 % 101)
                    write = .create(token: token(slot), definition: definition, labels: Labels(), createdBy: nil)
                    if let existing = model[token(slot)] {
                        expected = existing.hasDefinition(definition, labels: Labels()) ? .some(existing) : nil
                    } else {
                        expected = try? Workflow.make(token: token(slot), definition: definition, now: now)
                    }
                case .delete(let slot):
                    write = .delete(token: token(slot))
                    expected = model[token(slot)] == nil ? nil : .some(nil)
                case .setStatus(let slot, let step, let status):
                    let command = StepCommand.setStatus(
                        status, failureReason: status == .failed ? "reason \(value)" : nil)
                    write = .update(token: token(slot), step: name(slot, step), command: command)
                    expected = Self.modelApply(model[token(slot)]) {
                        try $0.apply(command, to: name(slot, step), now: now)
                    }
                case .start(let slot, let step):
                    write = .update(token: token(slot), step: name(slot, step), command: .start)
                    expected = Self.modelApply(model[token(slot)]) {
                        try $0.apply(.start, to: name(slot, step), now: now)
                    }
                case .progress(let slot, let step, let update):
                    write = .update(token: token(slot), step: name(slot, step), command: .progress(update))
                    expected = Self.modelApply(model[token(slot)]) {
                        try $0.apply(.progress(update), to: name(slot, step), now: now)
                    }
                case .addStep(let slot, let parent, let notApplicable):
                    added += 1
                    let spec = StepSpec(
                        .make("X\(added)"), parent: parent.map { name(slot, $0) },
                        status: notApplicable ? .notApplicable : .pending)
                    write = .addSteps(token: token(slot), steps: [spec])
                    expected = Self.modelApply(model[token(slot)]) {
                        try $0.addSteps([spec], now: now)
                        return true
                    }
                case .restart(let slot, let step):
                    write = .restart(token: token(slot), step: name(slot, step))
                    expected = Self.modelApply(model[token(slot)]) {
                        try $0.restart(from: name(slot, step), now: now)
                        return true
                    }
                case .cancel(let slot):
                    write = .cancel(token: token(slot), reason: "cancel \(value)")
                    expected = Self.modelApply(model[token(slot)]) {
                        try $0.cancel(reason: "cancel \(value)", now: now)
                    }
                case .advanceClock(let minutes):
                    fixture.clock.advance(minutes: minutes * 10)
                case .maintenance:
                    // The timeout rule applied to the model's every step with a deadline, whatever
                    // the index holds (lazy filing keeps entries at earlier times): the statuses the
                    // pass must leave.
                    let cutoff = now.adding(milliseconds: -fixture.store!.options.stepTimeout)
                    var timedOut: [Token: Workflow] = [:]
                    for (token, workflow) in model {
                        var expected = workflow
                        var report = MaintenanceReport()
                        _ = report.applyDeadlines(
                            to: &expected, at: LMDBStore.deadlineOrdinals(of: expected), before: cutoff, now: now)
                        timedOut[token] = expected
                    }
                    _ = try! fixture.store!.runMaintenance()
                    // The model's view of maintenance: re-read, then check invariants below.
                    for slot in 0..<slots { model[token(slot)] = try! fixture.store!.workflow(token(slot)) }
                    let retained = now.adding(milliseconds: -fixture.store!.options.retention)
                    for (token, expected) in timedOut {
                        if let stored = model[token] {
                            #expect(
                                stored.steps.map(\.status) == expected.steps.map(\.status), "maintenance of \(token)")
                        } else {
                            #expect(
                                !expected.isProcessing && expected.lastUpdatedAt < retained, "retention of \(token)")
                        }
                    }
                }
                if let write {
                    let outcome = try? fixture.store!.perform(write)
                    switch expected {
                    case nil:
                        #expect(outcome == nil, "\(operation) should be refused")
                    case .some(nil):
                        #expect(
                            outcome == .deleted(token(0)) || outcome == .deleted(token(1))
                                || outcome == .deleted(token(2)))
                        model[write.token] = nil
                    case .some(.some(let workflow)):
                        #expect(outcome?.workflow?.steps == workflow.steps, "\(operation)")
                        model[write.token] = outcome?.workflow
                    }
                }
                for slot in 0..<slots {
                    let stored = try! fixture.store!.workflow(token(slot))
                    #expect(stored == model[token(slot)], "after \(operation)")
                    #expect(try! fixture.store!.isProcessing(token(slot)) == (stored?.isProcessing ?? false))
                    if let stored {
                        #expect(invariantViolations(of: stored) == [])
                        if let lmdb = fixture.store as? LMDBStore {
                            // The writer puts a new workflow's entries without comparing them.
                            let entries = lmdb.indexEntries(of: stored, id: 1)
                            #expect(Set(entries).count == entries.count, "after \(operation)")
                        }
                        // The history, replayed, leads to the stored statuses.
                        let history = try! fixture.store!.history(token(slot), after: 0, limit: HistoryEvent.limit)
                        #expect(HistoryReplay.problems(history?.events ?? [], of: stored) == [], "after \(operation)")
                    }
                }
            }
            #expect(try! fixture.integrityProblems() == [])
        }
    }

    /// Applies a model operation; nil when the model refuses it.
    static func modelApply(_ workflow: Workflow?, _ body: (inout Workflow) throws -> Bool) -> Workflow?? {
        guard var workflow else { return nil }
        do {
            if try body(&workflow) { workflow.version += 1 }
            return .some(workflow)
        } catch {
            return nil
        }
    }
}

extension WriteOperation {
    var token: Token {
        switch self {
        case .create(let token, _, _, _, _), .addSteps(let token, _), .update(let token, _, _, _),
            .restart(let token, _), .cancel(let token, _),
            .delete(let token):
            token
        case .importWorkflow(let workflow): workflow.token
        case .attributed(let operation, _): operation.token
        case .claim, .upload, .createProject, .deleteProject, .createWebhook, .updateWebhook, .deleteWebhook,
            .testWebhook, .redeliver, .pauseQueue:
            fatalError("random operations make no claims, uploads, projects, webhook or queue changes")
        }
    }
}
