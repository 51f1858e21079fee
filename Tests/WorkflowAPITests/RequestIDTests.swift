import HTTP1
import Testing

@testable import WorkflowAPI

/// Every response carries a request id; problems name it in `instance`; a client's own id is
/// kept when it is usable and replaced when it is not.
struct RequestIDTests {
    @Test func everyErrorCarriesOne() throws {
        let api = try ServiceFixture()
        let missing = api.call(.get, "/nowhere")
        let invalid = api.call(.post, "/api/v1/workflow", #"{"template":"NOPE"}"#)
        let refused = api.call(.get, "/api/v1/workflow/token/3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab")
        let ids = [missing, invalid, refused].compactMap { $0.headers["X-Request-Id"] }
        #expect(ids.count == 3)
        #expect(Set(ids).count == 3, "each request gets its own id")
        for (response, id) in zip([missing, invalid, refused], ids) {
            #expect(response.text.contains(#""instance":"urn:bomflow:request:\#(id)""#), "\(response.text)")
        }
    }

    /// A success carries the client's id when it sent one, and no id otherwise: the poll, the
    /// hottest path, makes no id for nobody.
    @Test func successesEchoOnlyTheClientsId() throws {
        let api = try ServiceFixture()
        let poll = "/api/v1/event/token/3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab"
        #expect(api.call(.get, poll).headers["X-Request-Id"] == nil)
        #expect(api.call(.get, poll, headers: [("X-Request-Id", "abc")]).headers["X-Request-Id"] == "abc")
        let created = api.call(
            .post, "/api/v1/workflow", #"{"template":"BOM_UPLOAD"}"#, headers: [("x-request-id", "c1")])
        #expect(created.status == .created)
        #expect(created.headers.values("X-Request-Id") == ["c1"], "after the commit too, and once")
    }

    @Test func aClientsIdIsEchoed() throws {
        let api = try ServiceFixture()
        let answer = api.call(.post, "/api/v1/workflow", "{", headers: [("X-Request-Id", "ci-job-42")])
        #expect(answer.status == .badRequest)
        #expect(answer.headers["X-Request-Id"] == "ci-job-42")
        #expect(answer.text.contains("urn:bomflow:request:ci-job-42"))
    }

    @Test(arguments: ["", String(repeating: "x", count: 129), "has space", "quote\"d"])
    func anUnusableIdIsReplaced(incoming: String) throws {
        let api = try ServiceFixture()
        let answer = api.call(.get, "/nowhere", headers: [("X-Request-Id", incoming)])
        let id = try #require(answer.headers["X-Request-Id"])
        #expect(id != incoming)
        #expect(!id.isEmpty && id.utf8.count <= 128)
    }

    /// A 5xx never shows its cause; the client gets the generic text and the id to quote.
    @Test func internalErrorsHideTheirCause() {
        let problem = Problem.internalError("secret detail: /var/lib/x")
        let response = problem.response(requestID: "r-1")
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(response.status == .internalServerError)
        #expect(!text.contains("secret detail"))
        #expect(text.contains("urn:bomflow:request:r-1"))
    }
}
