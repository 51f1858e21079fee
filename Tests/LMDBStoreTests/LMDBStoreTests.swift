import LMDB
import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

struct WorkflowStoreTests {
    @Test func createReadAndPoll() throws {
        let fixture = try StoreFixture()
        let created = try fixture.create(.make(1), labels: ["project": "acme"])
        #expect(created.version == 1)
        #expect(try fixture.db.workflow(.make(1)) == created)
        #expect(try fixture.db.isProcessing(.make(1)))
        #expect(try fixture.db.isProcessing(.make(2)) == false, "an unknown token is not processing")
        #expect(try fixture.db.workflow(.make(2)) == nil)
        try fixture.expectIntact()
    }

    @Test func stateSurvivesReopening() throws {
        let fixture = try StoreFixture()
        try fixture.create(.make(1))
        try fixture.set(.make(1), .bomConsumption, .failed, reason: "boom")
        let before = try fixture.db.workflow(.make(1))
        try fixture.reopen()
        #expect(try fixture.db.workflow(.make(1)) == before)
        #expect(try fixture.db.isProcessing(.make(1)) == false)
    }

    @Test func createIsIdempotentForTheSameDefinition() throws {
        let fixture = try StoreFixture()
        let first = try fixture.create(.make(1), labels: ["p": "x"])
        let again = try fixture.db.perform(
            .create(
                token: .make(1), definition: WorkflowDefinition(template: .bomUpload), labels: try Labels(["p": "x"]),
                createdBy: "other"))
        #expect(again == .alreadyExists(first))
        #expect(throws: WorkflowStoreError.refused(.conflictingDefinition(.make(1)))) {
            try fixture.db.perform(
                .create(
                    token: .make(1), definition: WorkflowDefinition(template: .reanalysis), labels: Labels(),
                    createdBy: nil))
        }
        try fixture.expectIntact()
    }

    @Test func updatesCascadeBumpVersionsAndRepeatIdempotently() throws {
        let fixture = try StoreFixture()
        try fixture.create(.make(1))
        fixture.clock.advance(milliseconds: 500)
        let failed = try fixture.set(.make(1), .bomConsumption, .failed, reason: "unparseable")
        #expect(failed.version == 2)
        #expect(failed.steps.dropFirst().allSatisfy { $0.status == .cancelled && $0.updatedAt == fixture.clock.time })
        let repeated = try fixture.db.perform(
            .update(token: .make(1), step: .bomConsumption, command: .setStatus(.failed, failureReason: "other")))
        #expect(repeated == .updated(failed, changed: false))
        #expect(
            throws: WorkflowStoreError.refused(.invalidTransition(step: .bomConsumption, from: .failed, to: .completed))
        ) {
            try fixture.set(.make(1), .bomConsumption, .completed)
        }
        #expect(try fixture.db.workflow(.make(1)) == failed)
        try fixture.expectIntact()
    }

    @Test func unknownWorkflowIsRefused() throws {
        let fixture = try StoreFixture()
        #expect(throws: WorkflowStoreError.refused(.unknownWorkflow(.make(9)))) {
            try fixture.set(.make(9), .bomConsumption, .completed)
        }
        #expect(throws: WorkflowStoreError.refused(.unknownWorkflow(.make(9)))) {
            try fixture.db.perform(.delete(token: .make(9)))
        }
    }

    /// One bad item of a batch fails alone; the others commit in the same transaction.
    @Test func batchIsolatesRefusals() throws {
        let fixture = try StoreFixture()
        try fixture.create(.make(1))
        try fixture.create(.make(2))
        let results = try fixture.db.perform([
            .update(token: .make(1), step: .bomConsumption, command: .setStatus(.completed, failureReason: nil)),
            .update(token: .make(2), step: .bomConsumption, command: .setStatus(.failed, failureReason: nil)),
            .update(token: .make(3), step: .bomConsumption, command: .start),
            .update(token: .make(1), step: .bomProcessing, command: .start),
        ])
        #expect(results.count == 4)
        #expect((try? results[0].get()) != nil)
        #expect(throws: WorkflowError.failureReasonRequired(step: .bomConsumption)) { try results[1].get() }
        #expect(throws: WorkflowError.unknownWorkflow(.make(3))) { try results[2].get() }
        let last = try results[3].get().workflow
        #expect(last?.step(.bomProcessing)?.startedAt == fixture.clock.time, "later items see earlier ones")
        #expect(try fixture.db.workflow(.make(2))?.step(.bomConsumption)?.status == .pending)
        try fixture.expectIntact()
    }

    @Test func deleteRemovesRowsAndIndexEntries() throws {
        let fixture = try StoreFixture()
        try fixture.create(.make(1), labels: ["k": "v"])
        try fixture.create(.make(2), labels: ["k": "v"])
        try fixture.db.perform(.delete(token: .make(1)))
        #expect(try fixture.db.workflow(.make(1)) == nil)
        #expect(try fixture.db.isProcessing(.make(1)) == false)
        #expect(
            try fixture.db.list(WorkflowQuery(label: .init(key: "k", value: "v"))).workflows.map(\.token) == [.make(2)])
        try fixture.expectIntact()
        // The token can be used again afterwards.
        try fixture.create(.make(1), .reanalysis)
        try fixture.expectIntact()
    }

    @Test func addStepsAndRestart() throws {
        let fixture = try StoreFixture()
        try fixture.create(.make(1), .projectClone)
        try fixture.db.perform(.addSteps(token: .make(1), steps: [StepSpec(.make("NOTIFY"), parent: .projectClone)]))
        try fixture.set(.make(1), .projectClone, .failed, reason: "git unreachable")
        #expect(try fixture.db.isProcessing(.make(1)) == false)
        let restarted = try fixture.db.perform(.restart(token: .make(1), step: .projectClone)).workflow
        #expect(restarted?.steps.map(\.status) == [.pending, .pending])
        #expect(try fixture.db.isProcessing(.make(1)))
        try fixture.expectIntact()
    }

    @Test func progressFinishesTheStepInTheStore() throws {
        let fixture = try StoreFixture()
        try fixture.create(.make(1), .reanalysis)
        try fixture.db.perform(
            .update(token: .make(1), step: .vulnAnalysis, command: .progress(ProgressUpdate(expected: 120))))
        let done = try fixture.db.perform(
            .update(
                token: .make(1), step: .vulnAnalysis,
                command: .progress(ProgressUpdate(addCompleted: 113, addFailed: 7)))
        ).workflow
        #expect(done?.step(.vulnAnalysis)?.failureReason == "Failure threshold of 5% exceeded: 7/120 failed")
        #expect(try fixture.db.workflow(.make(1)) == done)
        try fixture.expectIntact()
    }

    @Test func newerFormatIsRefused() throws {
        let fixture = try StoreFixture()
        let path = fixture.directory.path
        let environment = try Environment.open(path: path)
        let meta = try environment.openDatabase(named: "meta")
        let newer = LMDBStore.formatVersion + 1
        try environment.write { txn in
            try txn.put([0, 0, 0, UInt8(newer)], forKey: Array("format-version".utf8), in: meta)
        }
        #expect(throws: StoreError.newerFormat(found: newer, supported: LMDBStore.formatVersion)) {
            _ = try LMDBStore(path: path, options: fixture.db.options)
        }
    }
}

struct WorkflowListTests {
    @Test func newestFirstWithCursorPagination() throws {
        let fixture = try StoreFixture()
        for number in 1...25 { try fixture.create(.make(UInt64(number))) }
        var seen: [Token] = []
        var cursor: UInt64?
        repeat {
            let page = try fixture.db.list(WorkflowQuery(limit: 10, cursor: cursor))
            #expect(page.workflows.count <= 10)
            seen += page.workflows.map(\.token)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(seen == (1...25).reversed().map { Token.make(UInt64($0)) })
    }

    @Test func filtersByLabelAndState() throws {
        let fixture = try StoreFixture()
        for number in 1...12 {
            try fixture.create(.make(UInt64(number)), .projectClone, labels: ["team": number % 2 == 0 ? "even" : "odd"])
            if number % 3 == 0 { try fixture.set(.make(UInt64(number)), .projectClone, .completed) }
        }
        let even = try fixture.db.list(WorkflowQuery(label: .init(key: "team", value: "even")))
        #expect(even.workflows.map(\.token) == [12, 10, 8, 6, 4, 2].map { Token.make($0) })
        #expect(even.nextCursor == nil)
        let done = try fixture.db.list(WorkflowQuery(state: .done))
        #expect(done.workflows.map(\.token) == [12, 9, 6, 3].map { Token.make($0) })
        let processing = try fixture.db.list(WorkflowQuery(state: .processing, limit: 3))
        #expect(processing.workflows.map(\.token) == [11, 10, 8].map { Token.make($0) })
        let evenDone = try fixture.db.list(WorkflowQuery(label: .init(key: "team", value: "even"), state: .done))
        #expect(evenDone.workflows.map(\.token) == [12, 6].map { Token.make($0) })
        #expect(try fixture.db.list(WorkflowQuery(label: .init(key: "team", value: "none"))).workflows.isEmpty)
    }

    /// Values longer than the indexed prefix share index keys; the list still tells them apart.
    @Test func longLabelValuesAreMatchedExactly() throws {
        let fixture = try StoreFixture()
        let base = String(repeating: "v", count: 240)
        try fixture.create(.make(1), labels: ["k": base + "A"])
        try fixture.create(.make(2), labels: ["k": base + "B"])
        let page = try fixture.db.list(WorkflowQuery(label: .init(key: "k", value: base + "A")))
        #expect(page.workflows.map(\.token) == [.make(1)])
        try fixture.expectIntact()
    }
}
