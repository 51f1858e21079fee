import Testing
import WorkflowModel

/// Dependency-Track 5's token status and the concurrency hold, on the pure model.
struct TokenStatusTests {
    let token = Token(high: 1, low: 2)
    let start = Timestamp(milliseconds: 1_000)

    func upload() throws -> Workflow {
        try Workflow.make(token: token, definition: WorkflowDefinition(template: .bomUpload), now: start)
    }

    @Test func pendingUntilAStepStartsIsClaimedOrMoves() throws {
        var workflow = try upload()
        #expect(workflow.tokenStatus == .pending)
        var started = workflow
        try started.apply(.start, to: .bomConsumption, now: start)
        #expect(started.tokenStatus == .running)
        var claimed = workflow
        _ = try claimed.claim(.bomConsumption, worker: "w", leaseMilliseconds: 1000, now: start)
        #expect(claimed.tokenStatus == .running)
        try workflow.apply(.setStatus(.completed, failureReason: nil), to: .bomConsumption, now: start)
        #expect(workflow.tokenStatus == .running, "a finished step is activity even without a start")
    }

    @Test func stepsCreatedNotApplicableAreNoActivity() throws {
        let workflow = try Workflow.make(
            token: token,
            definition: WorkflowDefinition(steps: [
                StepSpec(.vulnAnalysis, status: .notApplicable), StepSpec(.metricsUpdate),
            ]), now: start)
        #expect(workflow.tokenStatus == .pending)
    }

    @Test func completedWhenAllCompletedOrNotApplicable() throws {
        var workflow = try upload()
        for step in [StepName.bomConsumption, .bomProcessing, .metricsUpdate] {
            try workflow.apply(.setStatus(.completed, failureReason: nil), to: step, now: start)
            if step == .bomProcessing {
                try workflow.apply(.setStatus(.notApplicable, failureReason: nil), to: .vulnAnalysis, now: start)
                try workflow.apply(.setStatus(.notApplicable, failureReason: nil), to: .policyEvaluation, now: start)
            }
        }
        #expect(!workflow.isProcessing)
        #expect(workflow.tokenStatus == .completed)
    }

    @Test func failedWhenAStepFailedOrWasCancelled() throws {
        var failed = try upload()
        try failed.apply(.setStatus(.failed, failureReason: "bad BOM"), to: .bomConsumption, now: start)
        #expect(failed.tokenStatus == .failed)
        var cancelled = try upload()
        try cancelled.apply(.setStatus(.cancelled, failureReason: nil), to: .bomConsumption, now: start)
        #expect(cancelled.tokenStatus == .failed)
    }

    @Test func aHeldWorkflowHasNoReadyStepUntilReleased() throws {
        var workflow = try upload()
        #expect(workflow.readySteps == [.bomConsumption])
        workflow.hold(now: start)
        #expect(workflow.readySteps.isEmpty)
        #expect(workflow.steps.allSatisfy { $0.readyAt == nil })
        #expect(workflow.tokenStatus == .pending)
        let later = Timestamp(milliseconds: 5_000)
        let released = workflow.release(now: later)
        #expect(released)
        #expect(workflow.readySteps == [.bomConsumption])
        #expect(workflow.step(.bomConsumption)?.updatedAt == later, "its timeout counts from the release")
        #expect(workflow.step(.bomConsumption)?.readyAt == later)
        let again = workflow.release(now: later)
        #expect(!again, "releasing twice changes nothing")
    }

    @Test(arguments: ["", String(repeating: "k", count: 257), "a\nb", "tab\there"])
    func badConcurrencyKeysAreRefused(key: String) {
        #expect(throws: WorkflowError.self) {
            _ = try Workflow.make(
                token: Token(high: 1, low: 1), definition: WorkflowDefinition(template: .projectClone),
                concurrencyKey: key, now: Timestamp(milliseconds: 0))
        }
    }

    @Test func projectLimits() {
        let now = Timestamp(milliseconds: 0)
        #expect(throws: Never.self) {
            try Project(uuid: Token(high: 0, low: 1), name: "acme", version: "", createdAt: now).validate()
        }
        for bad in [
            Project(uuid: Token(high: 0, low: 1), name: "", version: nil, createdAt: now),
            Project(
                uuid: Token(high: 0, low: 1), name: String(repeating: "n", count: 201), version: nil, createdAt: now),
            Project(uuid: Token(high: 0, low: 1), name: "a", version: "1\n2", createdAt: now),
            Project(uuid: Token(high: 0, low: 1), name: "a", version: nil, tags: [""], createdAt: now),
            Project(
                uuid: Token(high: 0, low: 1), name: "a", version: nil, tags: Array(repeating: "t", count: 33),
                createdAt: now),
        ] {
            #expect(throws: WorkflowError.self) { try bad.validate() }
        }
    }
}
