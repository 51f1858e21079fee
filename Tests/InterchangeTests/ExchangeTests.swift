import Foundation
import TestSupport
import Testing
import WorkflowModel

@testable import Interchange

/// The export line format and the Hyades CSV reader, without a store.
struct WorkflowExchangeTests {
    let now = Timestamp(milliseconds: 1_767_225_600_000)

    func sampleWorkflows() throws -> [Workflow] {
        var upload = try Workflow.make(
            token: Token.make(1), definition: WorkflowDefinition(template: .bomUpload),
            labels: try Labels(["project": "ácme \"quoted\"", "branch": "main"]), createdBy: "ci-key", now: now)
        _ = try upload.apply(.setStatus(.completed, failureReason: nil), to: .bomConsumption, now: now)
        _ = try upload.apply(.start, to: .bomProcessing, now: Timestamp(milliseconds: now.milliseconds + 5))
        var failed = try Workflow.make(
            token: Token.make(2), definition: WorkflowDefinition(template: .reanalysis), now: now)
        _ = try failed.apply(
            .setStatus(.failed, failureReason: "scanner: \"timeout\",\nretry later ✓"), to: .vulnAnalysis, now: now)
        var custom = try Workflow.make(
            token: Token.make(3),
            definition: WorkflowDefinition(steps: [
                StepSpec(.vulnAnalysis), StepSpec(.policyEvaluation, parent: .vulnAnalysis),
                StepSpec(.metricsUpdate, status: .notApplicable),
            ]), now: now)
        _ = try custom.apply(
            .progress(ProgressUpdate(expected: 120, failureThreshold: 0.05, addCompleted: 7, addFailed: 1)),
            to: .vulnAnalysis, now: now)
        try custom.addSteps([StepSpec(StepName("REPO_META_ANALYSIS")!)], now: now)
        return [upload, failed, custom]
    }

    @Test func linesRoundTripExactly() throws {
        for workflow in try sampleWorkflows() {
            let line = WorkflowExchange.encode(workflow)
            #expect(!line.contains(0x0A), "one line per workflow")
            let decoded = try WorkflowExchange.decode(line)
            #expect(decoded == workflow)
            #expect(WorkflowExchange.encode(decoded) == line)
        }
    }

    @Test(arguments: [
        (#"{"token":"#, "The line is not valid JSON"),
        (#"[]"#, "the line must be a JSON object"),
        (
            #"{"token":"00000000-0000-4000-8000-000000000001","createdAt":1,"version":1,"steps":[],"x":1}"#,
            "Unknown field in the line: x"
        ),
        (#"{"token":"nope","createdAt":1,"version":1,"steps":[]}"#, "token must be a UUID"),
        (#"{"token":"00000000-0000-4000-8000-000000000001","version":1,"steps":[]}"#, "createdAt is required"),
        (
            #"{"token":"00000000-0000-4000-8000-000000000001","createdAt":1,"version":1,"steps":[]}"#,
            "A workflow needs a template or at least one step"
        ),
        (
            #"{"token":"00000000-0000-4000-8000-000000000001","createdAt":1,"version":1,"steps":[{"step":"A","status":"DONE","updatedAt":1}]}"#,
            "unknown status DONE"
        ),
        (
            #"{"token":"00000000-0000-4000-8000-000000000001","createdAt":1,"version":1,"steps":[{"step":"A","status":"COMPLETED","updatedAt":1,"failureReason":"x"}]}"#,
            "a failureReason is only allowed with FAILED"
        ),
        (
            #"{"token":"00000000-0000-4000-8000-000000000001","createdAt":1,"version":1,"steps":[{"step":"A","status":"PENDING","updatedAt":1,"parent":"B"},{"step":"B","status":"PENDING","updatedAt":1,"parent":"A"}]}"#,
            "cycle"
        ),
        (
            #"{"token":"00000000-0000-4000-8000-000000000001","createdAt":1,"version":1,"definitionSteps":2,"steps":[{"step":"A","status":"PENDING","updatedAt":1}]}"#,
            "definitionSteps must be 1 to 1"
        ),
        (
            #"{"token":"00000000-0000-4000-8000-000000000001","createdAt":1,"version":0,"steps":[{"step":"A","status":"PENDING","updatedAt":1}]}"#,
            "version must be at least 1"
        ),
    ])
    func malformedLinesSayWhy(line: String, message: String) {
        #expect {
            _ = try WorkflowExchange.decode(Array(line.utf8))
        } throws: { error in
            (error as? WorkflowExchangeError)?.description.contains(message) == true
        }
    }
}

struct HyadesImportTests {
    @Test(arguments: [
        ("2026-11-28 10:00:00+00", "2026-11-28T10:00:00.000Z"),
        ("2026-11-28 10:00:00.5+00", "2026-11-28T10:00:00.500Z"),
        ("2026-11-28 10:00:00.123456+00", "2026-11-28T10:00:00.123Z"),
        ("2026-11-28 12:30:00+05:30", "2026-11-28T07:00:00.000Z"),
        ("2026-11-28 09:00:00-07", "2026-11-28T16:00:00.000Z"),
        ("2026-11-28T10:00:00Z", "2026-11-28T10:00:00.000Z"),
        ("2026-11-28 10:00:00", "2026-11-28T10:00:00.000Z"),
        ("2024-02-29 23:59:59.999+0100", "2024-02-29T22:59:59.999Z"),
        ("1970-01-01 00:00:00+00", "1970-01-01T00:00:00.000Z"),
    ])
    func timestampsAsPostgreSQLWritesThem(text: String, iso: String) throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let expected = try #require(formatter.date(from: iso))
        let parsed = try #require(HyadesImport.parseTimestamp(text))
        #expect(parsed.milliseconds == Int64((expected.timeIntervalSince1970 * 1000).rounded()))
    }

    @Test(arguments: [
        "", "yesterday", "2026-13-01 00:00:00", "2026-11-28 10:00", "2026-11-28 10:00:00+", "2026-11-28 10:00:00.+00",
        "2026-11-28 10:00:00 +00",
    ])
    func malformedTimestamps(text: String) {
        #expect(HyadesImport.parseTimestamp(text) == nil)
    }

    @Test func quotedFieldsNullsAndLineNumbers() {
        var records = CSVRecords(Array("a,b,c\r\n1,,\"\"\n\"x\"\"y\",\"two\nlines\",z\n\"open".utf8))
        let header = records.next()
        #expect(header?.fields == ["a", "b", "c"])
        let second = records.next()
        #expect(second?.line == 2)
        #expect(second?.fields == ["1", nil, ""], "unquoted empty is NULL, quoted empty is an empty string")
        let third = records.next()
        #expect(third?.line == 3)
        #expect(third?.fields == ["x\"y", "two\nlines", "z"])
        let fourth = records.next()
        #expect(fourth?.line == 5)
        #expect(fourth?.error != nil)
        #expect(records.next() == nil)
    }

    @Test func theFixtureBecomesWorkflows() throws {
        let bytes = try Array(
            Data(contentsOf: RepositoryPaths.root.appendingPathComponent("fixtures/exchange/hyades_workflow_state.csv"))
        )
        let outcome = HyadesImport.read(bytes)
        #expect(outcome.problems.map(\.line) == [12, 15, 16, 17, 19])
        #expect(outcome.problems[0].message.contains("STATUS DONE"))
        #expect(outcome.problems[4].message.contains("cannot become PENDING under BOM_CONSUMPTION"))
        let workflows = Dictionary(uniqueKeysWithValues: outcome.workflows.map { ($0.workflow.token.description, $0) })
        #expect(workflows.count == 4)
        let upload = try #require(workflows["aaaaaaaa-0000-4000-8000-000000000001"]?.workflow)
        #expect(
            upload.steps.map(\.name.rawValue) == [
                "BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE",
            ])
        #expect(
            upload.steps.map(\.parent?.rawValue) == [
                nil, "BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION",
            ])
        #expect(upload.createdAt.milliseconds == 1_795_860_000_123)
        #expect(upload.steps[0].startedAt?.milliseconds == 1_795_860_000_123)
        #expect(upload.steps[0].updatedAt.milliseconds == 1_795_860_001_500)
        #expect(upload.isProcessing)
        let failed = try #require(workflows["aaaaaaaa-0000-4000-8000-000000000002"])
        #expect(failed.line == 8)
        #expect(failed.workflow.steps[0].failureReason == "Failed to parse BOM: \"bomFormat\" missing,\nat line 2")
        #expect(!failed.workflow.isProcessing)
        let interleaved = try #require(workflows["aaaaaaaa-0000-4000-8000-000000000003"]?.workflow)
        #expect(interleaved.steps.map(\.name.rawValue) == ["VULN_ANALYSIS", "POLICY_EVALUATION"])
        let noReason = try #require(workflows["aaaaaaaa-0000-4000-8000-000000000007"]?.workflow)
        #expect(noReason.steps[0].failureReason == "Failed (no reason recorded in Hyades)")
    }

    @Test func headersAreCheckedByName() {
        let missing = HyadesImport.read(Array("ID,TOKEN\n1,x\n".utf8))
        #expect(missing.workflows.isEmpty)
        #expect(missing.problems.first?.message.contains("no PARENT_STEP_ID column") == true)
        let reordered = HyadesImport.read(
            Array(
                "status,step,token,id,parent_step_id,updated_at,started_at,failure_reason,extra\nCOMPLETED,PROJECT_CLONE,aaaaaaaa-0000-4000-8000-000000000001,1,,2026-01-01 00:00:00+00,,,ignored\n"
                    .utf8))
        #expect(reordered.problems.isEmpty)
        #expect(reordered.workflows.first?.workflow.steps.first?.status == .completed)
        #expect(HyadesImport.read([]).problems.first?.message.contains("empty") == true)
    }

    /// Import files are untrusted input: mutated fixtures (and a timestamp with more than three
    /// fraction digits, which once crashed the reader) must give problems, never a crash.
    @Test func mutatedFilesNeverCrash() throws {
        var generator = SeededGenerator(seed: 20_261_129)
        let csv = try Array(
            Data(contentsOf: RepositoryPaths.root.appendingPathComponent("fixtures/exchange/hyades_workflow_state.csv"))
        )
        let jsonl = try Array(
            Data(contentsOf: RepositoryPaths.root.appendingPathComponent("fixtures/exchange/workflows.jsonl")))
        let interesting: [UInt8] = Array(",\"\n\r:.+-Z0123456789{}[]\\".utf8) + [0x00, 0xFF, 0xC3]
        for round in 0..<2_000 {
            var bytes = round % 2 == 0 ? csv : jsonl
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                let byte = interesting.randomElement(using: &generator)!
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[position] = byte
                case 1: bytes.insert(byte, at: position)
                default: bytes.remove(at: position)
                }
            }
            if round % 2 == 0 {
                let outcome = HyadesImport.read(bytes)
                #expect(outcome.workflows.count <= 8)
            } else {
                for line in bytes.split(separator: 0x0A) { _ = try? WorkflowExchange.decode(Array(line)) }
            }
        }
    }
}
