import TestSupport
import Testing
import WorkflowModel

extension Workflow {
    /// A BOM_UPLOAD workflow created at `now` (test factory).
    static func make(
        _ template: Template = .bomUpload, extra: [StepSpec] = [], labels: Labels = Labels(),
        now: Timestamp = Timestamp(milliseconds: 1_000)
    ) throws -> Workflow {
        try Workflow.make(
            token: .make(1), definition: WorkflowDefinition(template: template, steps: extra), labels: labels, now: now)
    }

    func status(_ name: StepName) -> StepStatus? { step(name)?.status }
}

let t0 = Timestamp(milliseconds: 1_000)
let t1 = Timestamp(milliseconds: 2_000)
let t2 = Timestamp(milliseconds: 3_000)

struct TemplateTests {
    @Test(arguments: [
        (
            Template.bomUpload,
            ["BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE"]
        ),
        (.reanalysis, ["VULN_ANALYSIS", "POLICY_EVALUATION"]),
        (.projectClone, ["PROJECT_CLONE"]),
        (.policyBundleSync, ["POLICY_BUNDLE_SYNC"]),
    ])
    func templatesAreChains(template: Template, names: [String]) throws {
        let workflow = try Workflow.make(template)
        #expect(workflow.steps.map(\.name.rawValue) == names)
        for (index, step) in workflow.steps.enumerated() {
            #expect(step.parent == (index == 0 ? nil : workflow.steps[index - 1].name))
            #expect(step.status == .pending)
            #expect(step.updatedAt == t0)
            #expect(step.startedAt == nil)
        }
    }

    @Test func bomUploadMayAddRepoMetaAnalysisUnderProcessing() throws {
        let workflow = try Workflow.make(.bomUpload, extra: [StepSpec(.repoMetaAnalysis, parent: .bomProcessing)])
        #expect(workflow.steps.count == 6)
        #expect(
            workflow.stepsInTreeOrder.map(\.name) == [
                .bomConsumption, .bomProcessing, .vulnAnalysis, .policyEvaluation, .metricsUpdate, .repoMetaAnalysis,
            ])
    }

    @Test func emptyDefinitionIsRefused() {
        #expect(throws: WorkflowError.emptyDefinition) {
            try Workflow.make(token: .make(1), definition: WorkflowDefinition(), now: t0)
        }
    }
}

struct CascadeTests {
    @Test func failureCancelsEveryNonTerminalDescendant() throws {
        var workflow = try Workflow.make()
        try workflow.apply(.setStatus(.failed, failureReason: "Unparseable BOM"), to: .bomConsumption, now: t1)
        #expect(workflow.status(.bomConsumption) == .failed)
        #expect(workflow.step(.bomConsumption)?.failureReason == "Unparseable BOM")
        for step in workflow.steps.dropFirst() {
            #expect(step.status == .cancelled)
            #expect(step.updatedAt == t1, "cancelled steps carry the failing step's updatedAt")
            #expect(step.failureReason == nil)
        }
        #expect(!workflow.isProcessing)
    }

    @Test func terminalDescendantsAreNeverChanged() throws {
        var workflow = try Workflow.make()
        try workflow.apply(.setStatus(.notApplicable, failureReason: nil), to: .policyEvaluation, now: t1)
        try workflow.apply(.setStatus(.cancelled, failureReason: nil), to: .bomProcessing, now: t2)
        #expect(workflow.status(.policyEvaluation) == .notApplicable)
        #expect(workflow.step(.policyEvaluation)?.updatedAt == t1)
        #expect(workflow.status(.vulnAnalysis) == .cancelled)
        #expect(workflow.status(.metricsUpdate) == .cancelled, "descendants below a terminal step are cancelled too")
        #expect(workflow.status(.bomConsumption) == .pending, "ancestors are untouched")
    }
}

struct ReadinessTests {
    @Test func onlyRootsAreReadyAtFirst() throws {
        let workflow = try Workflow.make()
        #expect(workflow.readySteps == [.bomConsumption])
    }

    @Test func completingAParentMakesChildrenReadyAndBumpsThem() throws {
        var workflow = try Workflow.make()
        try workflow.apply(.setStatus(.completed, failureReason: nil), to: .bomConsumption, now: t1)
        #expect(workflow.readySteps == [.bomProcessing])
        #expect(workflow.step(.bomProcessing)?.updatedAt == t1)
        #expect(workflow.step(.vulnAnalysis)?.updatedAt == t0, "grandchildren are not ready yet")
    }

    @Test func bomWithoutComponentsStillRunsMetricsUpdate() throws {
        var workflow = try Workflow.make()
        try workflow.apply(.setStatus(.completed, failureReason: nil), to: .bomConsumption, now: t1)
        try workflow.apply(.setStatus(.completed, failureReason: nil), to: .bomProcessing, now: t1)
        try workflow.apply(.setStatus(.notApplicable, failureReason: nil), to: .vulnAnalysis, now: t2)
        try workflow.apply(.setStatus(.notApplicable, failureReason: nil), to: .policyEvaluation, now: t2)
        #expect(workflow.readySteps == [.metricsUpdate])
        #expect(workflow.isProcessing)
        try workflow.apply(.setStatus(.completed, failureReason: nil), to: .metricsUpdate, now: t2)
        #expect(!workflow.isProcessing)
    }

    @Test func aStepMayBeCreatedNotApplicable() throws {
        let workflow = try Workflow.make(
            token: .make(1),
            definition: WorkflowDefinition(steps: [
                StepSpec(.vulnAnalysis, status: .notApplicable), StepSpec(.policyEvaluation, parent: .vulnAnalysis),
            ]), now: t0)
        #expect(workflow.status(.vulnAnalysis) == .notApplicable)
        #expect(workflow.readySteps == [.policyEvaluation])
    }
}

struct UpdateValidationTests {
    @Test func failedNeedsAReason() throws {
        var workflow = try Workflow.make()
        #expect(throws: WorkflowError.failureReasonRequired(step: .bomConsumption)) {
            try workflow.apply(.setStatus(.failed, failureReason: nil), to: .bomConsumption, now: t1)
        }
        #expect(throws: WorkflowError.failureReasonRequired(step: .bomConsumption)) {
            try workflow.apply(.setStatus(.failed, failureReason: ""), to: .bomConsumption, now: t1)
        }
    }

    @Test func reasonsOver4096BytesAreRefusedNotCut() throws {
        var workflow = try Workflow.make()
        let limit = String(repeating: "é", count: 2048)  // 4,096 bytes
        try workflow.apply(.setStatus(.failed, failureReason: limit), to: .bomConsumption, now: t1)
        #expect(workflow.step(.bomConsumption)?.failureReason == limit)
        var other = try Workflow.make()
        #expect(throws: WorkflowError.failureReasonTooLong(bytes: 4097)) {
            try other.apply(.setStatus(.failed, failureReason: limit + "x"), to: .bomConsumption, now: t1)
        }
    }

    @Test func reasonOnlyWithFailed() throws {
        var workflow = try Workflow.make()
        #expect(throws: WorkflowError.failureReasonNotAllowed(step: .bomConsumption, status: .completed)) {
            try workflow.apply(.setStatus(.completed, failureReason: "why"), to: .bomConsumption, now: t1)
        }
    }

    @Test func unknownStep() throws {
        var workflow = try Workflow.make(.reanalysis)
        #expect(throws: WorkflowError.unknownStep(.bomConsumption)) {
            try workflow.apply(.start, to: .bomConsumption, now: t1)
        }
    }

    @Test func startSetsStartedAtOnceAndBumpsUpdatedAt() throws {
        var workflow = try Workflow.make()
        try workflow.apply(.start, to: .bomConsumption, now: t1)
        try workflow.apply(.start, to: .bomConsumption, now: t2)
        #expect(workflow.step(.bomConsumption)?.startedAt == t1)
        #expect(workflow.step(.bomConsumption)?.updatedAt == t2)
        try workflow.apply(.setStatus(.completed, failureReason: nil), to: .bomConsumption, now: t2)
        #expect(throws: WorkflowError.stepFinished(step: .bomConsumption, status: .completed)) {
            try workflow.apply(.start, to: .bomConsumption, now: t2)
        }
    }
}

struct RestartTests {
    @Test func refusedWhileAnyStepIsActive() throws {
        var workflow = try Workflow.make(.projectClone, extra: [StepSpec(.make("NOTIFY"))])
        try workflow.apply(.setStatus(.failed, failureReason: "clone failed"), to: .projectClone, now: t1)
        #expect(throws: WorkflowError.restartWhileProcessing(step: .make("NOTIFY"))) {
            try workflow.restart(from: .projectClone, now: t2)
        }
    }

    @Test func restartsTheSubtree() throws {
        var workflow = try Workflow.make()
        try workflow.apply(.setStatus(.completed, failureReason: nil), to: .bomConsumption, now: t1)
        try workflow.apply(.start, to: .bomProcessing, now: t1)
        try workflow.apply(.setStatus(.failed, failureReason: "db down"), to: .bomProcessing, now: t1)
        try workflow.restart(from: .bomProcessing, now: t2)
        #expect(workflow.status(.bomConsumption) == .completed)
        #expect(workflow.step(.bomConsumption)?.updatedAt == t1)
        for name in [StepName.bomProcessing, .vulnAnalysis, .policyEvaluation, .metricsUpdate] {
            let step = try #require(workflow.step(name))
            #expect(step.status == .pending)
            #expect(step.startedAt == nil)
            #expect(step.failureReason == nil)
            #expect(step.updatedAt == t2)
        }
        #expect(workflow.readySteps == [.bomProcessing])
    }
}

struct AddStepsTests {
    @Test func parentsMayComeLaterInTheRequest() throws {
        var workflow = try Workflow.make(.reanalysis)
        try workflow.addSteps(
            [StepSpec(.make("B"), parent: .make("A")), StepSpec(.make("A"), parent: .vulnAnalysis)], now: t1)
        #expect(workflow.step(.make("B"))?.parent == .make("A"))
        #expect(workflow.stepsInTreeOrder.map(\.name.rawValue) == ["VULN_ANALYSIS", "POLICY_EVALUATION", "A", "B"])
    }

    @Test func unknownParentCycleAndDuplicatesAreRefused() throws {
        var workflow = try Workflow.make(.reanalysis)
        let before = workflow
        #expect(throws: WorkflowError.unknownParent(step: .make("A"), parent: .make("NOPE"))) {
            try workflow.addSteps([StepSpec(.make("A"), parent: .make("NOPE"))], now: t1)
        }
        #expect(throws: WorkflowError.cycle(.make("A"))) {
            try workflow.addSteps(
                [StepSpec(.make("A"), parent: .make("B")), StepSpec(.make("B"), parent: .make("A"))], now: t1)
        }
        #expect(throws: WorkflowError.cycle(.make("A"))) {
            try workflow.addSteps([StepSpec(.make("A"), parent: .make("A"))], now: t1)
        }
        // The first step (in request order) whose chain of parents comes round is named, also
        // when it only leads into the cycle.
        #expect(throws: WorkflowError.cycle(.make("T"))) {
            try workflow.addSteps(
                [
                    StepSpec(.make("OK"), parent: .vulnAnalysis), StepSpec(.make("T"), parent: .make("C1")),
                    StepSpec(.make("C1"), parent: .make("C3")), StepSpec(.make("C2"), parent: .make("C1")),
                    StepSpec(.make("C3"), parent: .make("C2")),
                ], now: t1)
        }
        // A long chain of new steps is no cycle.
        let chain = (0..<62).map { StepSpec(.make("S\($0)"), parent: $0 == 0 ? .vulnAnalysis : .make("S\($0 - 1)")) }
        var chained = workflow
        try chained.addSteps(chain.reversed(), now: t1)
        #expect(chained.steps.count == 64)
        #expect(throws: WorkflowError.duplicateStep(.make("B"))) {
            try workflow.addSteps([StepSpec(.make("A")), StepSpec(.make("B")), StepSpec(.make("B"))], now: t1)
        }
        #expect(throws: WorkflowError.duplicateStep(.vulnAnalysis)) {
            try workflow.addSteps([StepSpec(.vulnAnalysis)], now: t1)
        }
        #expect(throws: WorkflowError.duplicateStep(.make("A"))) {
            try workflow.addSteps([StepSpec(.make("A")), StepSpec(.make("A"))], now: t1)
        }
        #expect(throws: WorkflowError.invalidInitialStatus(step: .make("A"), status: .completed)) {
            try workflow.addSteps([StepSpec(.make("A"), status: .completed)], now: t1)
        }
        #expect(workflow == before)
    }

    @Test func atMost64Steps() throws {
        var workflow = try Workflow.make(.reanalysis)
        let specs = (0..<62).map { StepSpec(.make("S\($0)")) }
        try workflow.addSteps(specs, now: t1)
        #expect(workflow.steps.count == 64)
        #expect(throws: WorkflowError.tooManySteps(count: 65)) {
            try workflow.addSteps([StepSpec(.make("ONE_MORE"))], now: t1)
        }
    }

    @Test func pendingStepsCannotGoUnderAFailedParent() throws {
        var workflow = try Workflow.make(.reanalysis)
        try workflow.apply(.setStatus(.failed, failureReason: "x"), to: .vulnAnalysis, now: t1)
        #expect(throws: WorkflowError.parentFinished(step: .make("A"), parent: .vulnAnalysis, status: .failed)) {
            try workflow.addSteps([StepSpec(.make("A"), parent: .vulnAnalysis)], now: t1)
        }
        try workflow.addSteps([StepSpec(.make("A"), parent: .vulnAnalysis, status: .notApplicable)], now: t1)
    }

    @Test func addingToAFinishedWorkflowMakesItProcessingAgain() throws {
        var workflow = try Workflow.make(.projectClone)
        try workflow.apply(.setStatus(.completed, failureReason: nil), to: .projectClone, now: t1)
        #expect(!workflow.isProcessing)
        try workflow.addSteps([StepSpec(.make("NOTIFY"), parent: .projectClone)], now: t2)
        #expect(workflow.isProcessing)
        #expect(workflow.readySteps == [.make("NOTIFY")])
    }
}

struct ProgressTests {
    @Test func finishesAsFailedWithHyadesReasonWhenOverThreshold() throws {
        var workflow = try Workflow.make(.reanalysis)
        try workflow.apply(.progress(ProgressUpdate(expected: 120, failureThreshold: 0.05)), to: .vulnAnalysis, now: t1)
        try workflow.apply(.progress(ProgressUpdate(addCompleted: 100, addFailed: 5)), to: .vulnAnalysis, now: t1)
        #expect(workflow.status(.vulnAnalysis) == .pending)
        try workflow.apply(.progress(ProgressUpdate(addCompleted: 13, addFailed: 2)), to: .vulnAnalysis, now: t2)
        #expect(workflow.status(.vulnAnalysis) == .failed)
        #expect(workflow.step(.vulnAnalysis)?.failureReason == "Failure threshold of 5% exceeded: 7/120 failed")
        #expect(workflow.status(.policyEvaluation) == .cancelled)
        #expect(
            workflow.step(.vulnAnalysis)?.progress
                == Progress(expected: 120, completed: 113, failed: 7, failureThreshold: 0.05))
    }

    @Test func completesWhenUnderThreshold() throws {
        var workflow = try Workflow.make(.reanalysis)
        try workflow.apply(
            .progress(ProgressUpdate(expected: 100, addCompleted: 95, addFailed: 5)), to: .vulnAnalysis, now: t1)
        #expect(workflow.status(.vulnAnalysis) == .completed, "5/100 is not more than 5%")
        #expect(workflow.readySteps == [.policyEvaluation])
    }

    @Test func zeroExpectedCompletesAtOnce() throws {
        var workflow = try Workflow.make(.reanalysis)
        try workflow.apply(.progress(ProgressUpdate(expected: 0)), to: .vulnAnalysis, now: t1)
        #expect(workflow.status(.vulnAnalysis) == .completed)
    }

    @Test(arguments: [
        ProgressUpdate(expected: -1), ProgressUpdate(addCompleted: -1), ProgressUpdate(failureThreshold: 1.5),
        ProgressUpdate(failureThreshold: .nan), ProgressUpdate(),
    ])
    func malformedUpdatesAreRefused(update: ProgressUpdate) throws {
        var workflow = try Workflow.make(.reanalysis)
        let before = workflow
        #expect(throws: WorkflowError.self) { try workflow.apply(.progress(update), to: .vulnAnalysis, now: t1) }
        #expect(workflow == before)
    }

    @Test func finishedStepsTakeNoProgress() throws {
        var workflow = try Workflow.make(.reanalysis)
        try workflow.apply(.setStatus(.completed, failureReason: nil), to: .vulnAnalysis, now: t1)
        #expect(throws: WorkflowError.stepFinished(step: .vulnAnalysis, status: .completed)) {
            try workflow.apply(.progress(ProgressUpdate(addCompleted: 1)), to: .vulnAnalysis, now: t1)
        }
    }
}

struct MaintenanceModelTests {
    @Test func onlyReadyPendingStepsTimeOut() throws {
        var workflow = try Workflow.make()
        let notReady = workflow.timeOut(.bomProcessing, now: t1)
        #expect(!notReady, "not ready: its parent is pending")
        let ready = workflow.timeOut(.bomConsumption, now: t1)
        #expect(ready)
        #expect(workflow.status(.bomConsumption) == .timedOut)
        #expect(workflow.isProcessing)
        let again = workflow.timeOut(.bomConsumption, now: t2)
        #expect(!again)
    }

    @Test func expiringATimedOutStepFailsItAndCascades() throws {
        var workflow = try Workflow.make()
        workflow.timeOut(.bomConsumption, now: t1)
        let expired = workflow.expire(.bomConsumption, now: t2)
        #expect(expired)
        #expect(workflow.step(.bomConsumption)?.failureReason == "Timed out")
        #expect(workflow.steps.dropFirst().allSatisfy { $0.status == .cancelled && $0.updatedAt == t2 })
    }

    @Test func lateResultsStillCount() throws {
        var workflow = try Workflow.make()
        workflow.timeOut(.bomConsumption, now: t1)
        try workflow.apply(.setStatus(.completed, failureReason: nil), to: .bomConsumption, now: t2)
        #expect(workflow.readySteps == [.bomProcessing])
    }
}

struct LabelsTests {
    @Test func limits() throws {
        let long = String(repeating: "v", count: 256)
        _ = try Labels(["k": long, String(repeating: "k", count: 256): ""])
        #expect(throws: WorkflowError.self) { try Labels(["": "x"]) }
        #expect(throws: WorkflowError.self) { try Labels(["k": long + "v"]) }
        #expect(throws: WorkflowError.self) {
            try Labels(Dictionary(uniqueKeysWithValues: (0..<33).map { ("k\($0)", "") }))
        }
        #expect(try Labels(["b": "2", "a": "1"]).map(\.key) == ["a", "b"])
    }

    @Test func idempotencyComparesDefinitionAndLabels() throws {
        let labels = try Labels(["project": "acme"])
        let workflow = try Workflow.make(labels: labels)
        #expect(workflow.hasDefinition(WorkflowDefinition(template: .bomUpload), labels: labels))
        #expect(!workflow.hasDefinition(WorkflowDefinition(template: .bomUpload), labels: Labels()))
        #expect(!workflow.hasDefinition(WorkflowDefinition(template: .reanalysis), labels: labels))
        #expect(
            !workflow.hasDefinition(
                WorkflowDefinition(template: .bomUpload, steps: [StepSpec(.repoMetaAnalysis, parent: .bomProcessing)]),
                labels: labels))
    }
}

extension RestartTests {
    /// Found by the property test: restarting below a failed ancestor would leave pending steps
    /// that can never run.
    @Test func refusedBelowAFailedAncestor() throws {
        var workflow = try Workflow.make()
        try workflow.apply(.setStatus(.notApplicable, failureReason: nil), to: .vulnAnalysis, now: t1)
        try workflow.apply(.setStatus(.failed, failureReason: "bad BOM"), to: .bomConsumption, now: t1)
        let before = workflow
        #expect(throws: WorkflowError.parentFinished(step: .vulnAnalysis, parent: .bomProcessing, status: .cancelled)) {
            try workflow.restart(from: .vulnAnalysis, now: t2)
        }
        // VULN_ANALYSIS itself is NOT_APPLICABLE; the cancelled step is further up.
        #expect(throws: WorkflowError.parentFinished(step: .make("EXTRA"), parent: .bomProcessing, status: .cancelled))
        {
            try workflow.addSteps([StepSpec(.make("EXTRA"), parent: .vulnAnalysis)], now: t2)
        }
        #expect(workflow == before)
        try workflow.restart(from: .bomConsumption, now: t2)
        #expect(workflow.steps.allSatisfy { $0.status == .pending })
    }
}
