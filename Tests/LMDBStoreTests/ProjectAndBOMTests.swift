import LMDBStore
import PropertyBased
import Storage
import TestSupport
import Testing
import WorkflowModel

/// Uploads, the project registry, stored BOMs and concurrency keys on a real LMDB file.
struct ProjectAndBOMTests {
    static let json = BomDocument(
        format: .cycloneDXJSON, specVersion: "1.5", bytes: Array(#"{"bomFormat":"CycloneDX","specVersion":"1.5"}"#.utf8)
    )

    func upload(
        _ fixture: StoreFixture, _ token: Token, project: ProjectReference = .name("acme", version: "1.0"),
        autoCreate: Bool = true, parent: ProjectReference? = nil, isLatest: Bool = false,
        document: BomDocument = json
    ) throws -> (Workflow, Project) {
        let outcome = try fixture.store!.perform(
            .upload(
                BomUpload(
                    token: token, project: project, autoCreate: autoCreate, parent: parent, tags: ["ci", "ci", "prod"],
                    isLatest: isLatest, document: document, createdBy: "ci")))
        guard case .uploaded(let workflow, let project) = outcome else {
            Issue.record("not an upload: \(outcome)")
            throw WorkflowError.emptyDefinition
        }
        return (workflow, project)
    }

    @Test(arguments: Backend.all) func anUploadCreatesTheProjectWorkflowAndBOM(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        let (workflow, project) = try upload(fixture, .make(1))
        #expect(workflow.template == .bomUpload)
        #expect(workflow.concurrencyKey == project.uuid.description)
        #expect(!workflow.isHeld)
        #expect(workflow.labels["project"] == project.uuid.description)
        #expect(workflow.labels["projectName"] == "acme" && workflow.labels["projectVersion"] == "1.0")
        #expect(project.tags == ["ci", "prod"], "tags once each, in order")
        #expect(project.lastBomImport == fixture.clock.time)
        #expect(project.lastBomImportFormat == "CycloneDX 1.5")
        #expect(try fixture.store!.project(.uuid(project.uuid)) == project)
        #expect(try fixture.store!.project(.name("acme", version: "1.0")) == project)
        #expect(try fixture.store!.project(.name("acme", version: nil)) == nil)
        #expect(try fixture.store!.bom(.make(1)) == Self.json)
        #expect(try fixture.store!.tokenStatus(.make(1)) == .pending)
        let figures = try fixture.store!.cheapFigures()
        #expect(figures.boms == 1 && figures.bomBytes == Self.json.bytes.count && figures.projects == 1)
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func refusalsChangeNothing(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        #expect(throws: WorkflowStoreError.refused(.unknownProject("acme 1.0"))) {
            _ = try fixture.store!.perform(
                .upload(
                    BomUpload(
                        token: .make(1), project: .name("acme", version: "1.0"), autoCreate: false,
                        document: Self.json, createdBy: nil)))
        }
        #expect(throws: WorkflowStoreError.refused(.unknownParentProject("parent"))) {
            _ = try upload(fixture, .make(1), parent: .name("parent", version: nil))
        }
        #expect(throws: WorkflowStoreError.refused(.unknownProject(Token.make(9).description))) {
            _ = try upload(fixture, .make(1), project: .uuid(.make(9)))
        }
        #expect(try fixture.store!.workflow(.make(1)) == nil)
        #expect(try fixture.store!.projects(named: nil, offset: 0, limit: 10).total == 0)
        #expect(try fixture.store!.cheapFigures().bomBytes == 0)
        _ = try upload(fixture, .make(1))
        #expect(throws: WorkflowStoreError.refused(.conflictingDefinition(.make(1)))) {
            _ = try upload(fixture, .make(1))
        }
        #expect(throws: WorkflowStoreError.refused(.projectExists(name: "acme", version: "1.0"))) {
            try fixture.store!.perform(.createProject(ProjectDraft(name: "acme", version: "1.0")))
        }
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func isLatestMovesAndParentsResolve(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        let (_, first) = try upload(fixture, .make(1), project: .name("acme", version: "1"), isLatest: true)
        #expect(first.isLatest)
        let (_, second) = try upload(
            fixture, .make(2), project: .name("acme", version: "2"), parent: .uuid(first.uuid), isLatest: true)
        #expect(second.isLatest && second.parent == first.uuid)
        #expect(try fixture.store!.project(.uuid(first.uuid))?.isLatest == false)
        let page = try fixture.store!.projects(named: "acme", offset: 0, limit: 1)
        #expect(page.total == 2 && page.projects.map(\.version) == ["1"])
        #expect(try fixture.store!.projects(named: "acme", offset: 1, limit: 5).projects.map(\.version) == ["2"])
        #expect(try fixture.store!.projects(named: "acm", offset: 0, limit: 5).total == 0, "names match exactly")
        try fixture.store!.perform(.deleteProject(first.uuid))
        #expect(try fixture.store!.project(.uuid(first.uuid)) == nil)
        #expect(try fixture.store!.bom(.make(1)) != nil, "the workflow and its BOM stay")
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func retentionAndDeleteRemoveTheBOM(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        let big = BomDocument(
            format: .cycloneDXXML, specVersion: "1.4", bytes: [UInt8](repeating: 0x20, count: 3 << 20))
        _ = try upload(fixture, .make(1), document: big)
        _ = try upload(fixture, .make(2), project: .name("other", version: nil))
        #expect(try fixture.store!.cheapFigures().bomBytes == big.bytes.count + Self.json.bytes.count)
        try fixture.store!.perform(.delete(token: .make(2)))
        #expect(try fixture.store!.bom(.make(2)) == nil)
        #expect(try fixture.store!.cheapFigures().bomBytes == big.bytes.count)
        for step in [StepName.bomConsumption, .bomProcessing, .vulnAnalysis, .policyEvaluation, .metricsUpdate] {
            try fixture.set(.make(1), step, .completed)
        }
        fixture.clock.advance(minutes: 73 * 60)
        #expect(try fixture.store!.runMaintenance().deleted == 1)
        #expect(try fixture.store!.bom(.make(1)) == nil)
        let figures = try fixture.store!.cheapFigures()
        #expect(figures.boms == 0 && figures.bomBytes == 0)
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func aClaimSaysTheBOMExists(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        _ = try upload(fixture, .make(1))
        try fixture.create(.make(2), .bomUpload)
        let outcome = try fixture.store!.perform(
            .claim(steps: [.bomConsumption], worker: "w", leaseMilliseconds: 60_000, max: 5))
        guard case .claimed(let claims) = outcome else { throw WorkflowError.emptyDefinition }
        let byToken = Dictionary(uniqueKeysWithValues: claims.map { ($0.token, $0.bom) })
        #expect(byToken[.make(1)] == BomSummary(format: .cycloneDXJSON, size: Self.json.bytes.count))
        #expect(byToken[.make(2)] == .some(nil))
        #expect(try fixture.store!.tokenStatus(.make(1)) == .running)
    }

    // MARK: Concurrency keys

    func create(_ fixture: StoreFixture, _ token: Token, key: String = "k") throws -> Workflow {
        let outcome = try fixture.store!.perform(
            .create(
                token: token, definition: WorkflowDefinition(template: .reanalysis), labels: Labels(), createdBy: nil,
                concurrencyKey: key))
        return try #require(outcome.workflow)
    }

    @Test(arguments: Backend.all) func laterWorkflowsWaitForEarlierOnesWithTheirKey(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        #expect(try !create(fixture, .make(1)).isHeld)
        #expect(try create(fixture, .make(2)).isHeld)
        #expect(try create(fixture, .make(3)).isHeld)
        #expect(try !create(fixture, .make(4), key: "other").isHeld)
        #expect(try fixture.store!.hasClaimable([.vulnAnalysis]))
        let claimed = try fixture.store!.perform(
            .claim(steps: [.vulnAnalysis], worker: "w", leaseMilliseconds: 60_000, max: 10))
        guard case .claimed(let claims) = claimed else { throw WorkflowError.emptyDefinition }
        #expect(Set(claims.map(\.token)) == [.make(1), .make(4)], "held workflows are not claimable")
        fixture.clock.advance(minutes: 5)
        let releasedAt = fixture.clock.time
        try fixture.store!.perform(
            .update(
                token: .make(1), step: .vulnAnalysis, command: .setStatus(.failed, failureReason: "scanner down"),
                actor: .worker("w")))
        let second = try #require(try fixture.store!.workflow(.make(2)))
        #expect(!second.isHeld, "a failed workflow releases the next as well")
        #expect(second.step(.vulnAnalysis)?.updatedAt == releasedAt)
        #expect(try fixture.store!.workflow(.make(3))?.isHeld == true)
        try fixture.store!.perform(.delete(token: .make(2)))
        #expect(try fixture.store!.workflow(.make(3))?.isHeld == false, "deleting the running one releases the next")
        try fixture.expectIntact()
    }

    /// The shrunk counterexample the property test found: a held workflow that leaves (deleted)
    /// must not release another while the runner still runs.
    @Test(arguments: Backend.all) func aHeldWorkflowLeavingReleasesNothing(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        _ = try create(fixture, .make(2))
        _ = try create(fixture, .make(4))
        _ = try create(fixture, .make(6))
        try fixture.set(.make(2), .vulnAnalysis, .failed, reason: "x")  // 4 runs now
        try fixture.store!.perform(.restart(token: .make(2), step: .vulnAnalysis))  // 2 queues again, held
        #expect(try fixture.store!.workflow(.make(2))?.isHeld == true)
        try fixture.store!.perform(.delete(token: .make(6)))
        #expect(try fixture.store!.workflow(.make(2))?.isHeld == true, "the runner (4) still runs")
        try fixture.expectIntact()
        try fixture.set(.make(2), .vulnAnalysis, .completed)  // an admin finishes held 2
        try fixture.set(.make(2), .policyEvaluation, .completed)
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func aRestartedWorkflowQueuesBehindTheRunningOne(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        _ = try create(fixture, .make(1))
        try fixture.set(.make(1), .vulnAnalysis, .completed)
        try fixture.set(.make(1), .policyEvaluation, .completed)
        _ = try create(fixture, .make(2))
        try fixture.store!.perform(.restart(token: .make(1), step: .vulnAnalysis))
        #expect(try fixture.store!.workflow(.make(1))?.isHeld == true)
        try fixture.expectIntact()
        try fixture.set(.make(2), .vulnAnalysis, .completed)
        try fixture.set(.make(2), .policyEvaluation, .completed)
        #expect(try fixture.store!.workflow(.make(1))?.isHeld == false)
        try fixture.expectIntact()
    }

    /// Random creates, finishes, failures, deletes and restarts under two keys: after every step
    /// each non-empty queue has exactly one workflow running, and it is the earliest created
    /// unless a restart put an older one behind it.
    @Test(arguments: Backend.all) func queuesKeepOneRunnerUnderRandomOperations(backend: Backend) async throws {
        await propertyCheck(count: backend == .lmdb ? 100 : 30, input: Gen.int(in: 0...1_000_000).array(of: 1...50)) {
            values in
            let fixture = try! StoreFixture(backend)
            for value in values {
                let slot = UInt64(value % 6 + 1)
                let key = slot % 2 == 0 ? "even" : "odd"
                switch value / 6 % 5 {
                case 0:
                    _ = try? fixture.store!.perform(
                        .create(
                            token: .make(slot), definition: WorkflowDefinition(template: .reanalysis), labels: Labels(),
                            createdBy: nil, concurrencyKey: key))
                case 1: _ = try? fixture.set(.make(slot), .vulnAnalysis, .completed)
                case 2: _ = try? fixture.set(.make(slot), .vulnAnalysis, .failed, reason: "x")
                case 3: _ = try? fixture.store!.perform(.delete(token: .make(slot)))
                default:
                    _ = try? fixture.set(.make(slot), .policyEvaluation, .completed)
                    _ = try? fixture.store!.perform(.restart(token: .make(slot), step: .vulnAnalysis))
                }
                fixture.clock.advance(milliseconds: 10)
                let problems = (try? fixture.integrityProblems()) ?? ["integrity check failed"]
                #expect(problems == [], "after \(value)")
            }
        }
    }

    @Test func exportAndImportCarryTheKey() throws {
        let fixture = try StoreFixture()
        _ = try create(fixture, .make(1))
        let held = try create(fixture, .make(2))
        let other = try StoreFixture()
        for workflow in [try #require(try fixture.db.workflow(.make(1))), held] {
            var copy = workflow
            copy.isHeld = false
            try other.db.perform(.importWorkflow(copy))
        }
        #expect(try other.db.workflow(.make(2))?.concurrencyKey == "k")
        #expect(try other.db.workflow(.make(2))?.isHeld == true, "the importing store decides holding")
        try other.expectIntact()
    }
}
