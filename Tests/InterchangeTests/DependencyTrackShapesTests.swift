import Interchange
import JSON
import TestSupport
import Testing
import WorkflowModel

struct DependencyTrackShapesTests {
    @Test func processingBodiesCarryDependencyTrack5Status() {
        func body(_ status: TokenStatus?) -> String {
            String(decoding: DependencyTrackShapes.processing(status), as: UTF8.self)
        }
        #expect(body(nil) == #"{"processing":false}"#)
        #expect(body(.pending) == #"{"processing":true,"status":"PENDING"}"#)
        #expect(body(.running) == #"{"processing":true,"status":"RUNNING"}"#)
        #expect(body(.completed) == #"{"processing":false,"status":"COMPLETED"}"#)
        #expect(body(.failed) == #"{"processing":false,"status":"FAILED"}"#)
    }

    @Test func statusArrayInTreeOrderWithNullsOmitted() throws {
        let token = try #require(Token("3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab"))
        var workflow = try Workflow.make(
            token: token,
            definition: WorkflowDefinition(
                template: .reanalysis, steps: [StepSpec(.make("NOTE"), parent: .vulnAnalysis)]),
            now: Timestamp(milliseconds: 1_700_000_000_000))
        try workflow.apply(.start, to: .vulnAnalysis, now: Timestamp(milliseconds: 1_700_000_000_500))
        try workflow.apply(
            .setStatus(.failed, failureReason: "quote \" and\nnewline"), to: .vulnAnalysis,
            now: Timestamp(milliseconds: 1_700_000_001_000))
        let text = String(decoding: DependencyTrackShapes.workflowStatus(workflow), as: UTF8.self)
        #expect(
            text == """
                [{"token":"3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab","step":"VULN_ANALYSIS","status":"FAILED","startedAt":1700000000500,"updatedAt":1700000001000,"failureReason":"quote \\" and\\nnewline"},\
                {"token":"3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab","step":"POLICY_EVALUATION","status":"CANCELLED","updatedAt":1700000001000},\
                {"token":"3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab","step":"NOTE","status":"CANCELLED","updatedAt":1700000001000}]
                """)
    }

    @Test func controlCharactersAreEscaped() {
        var json = JSONWriter()
        json.beginObject()
        json.member("k", "a\u{01}b\\c")
        json.member("n", 5)
        json.key("list")
        json.beginArray()
        json.bool(true)
        json.null()
        json.endArray()
        json.endObject()
        #expect(json.text == #"{"k":"a\u0001b\\c","n":5,"list":[true,null]}"#)
    }
}
