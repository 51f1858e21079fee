import Foundation
import HTTP1
import TestSupport
import Testing
import WorkflowAPI

/// The claim and heartbeat endpoints without sockets: validation and the lease holder rule.
struct OrchestrationAPITests {
    let token = "3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab"

    @Test(arguments: [
        #"{}"#, #"{"steps":[],"worker":"w","leaseSeconds":5}"#, #"{"steps":["bad"],"worker":"w","leaseSeconds":5}"#,
        #"{"steps":["A"],"leaseSeconds":5}"#, #"{"steps":["A"],"worker":"","leaseSeconds":5}"#,
        #"{"steps":["A"],"worker":"w","leaseSeconds":0}"#, #"{"steps":["A"],"worker":"w","leaseSeconds":3601}"#,
        #"{"steps":["A"],"worker":"w","leaseSeconds":5,"max":0}"#,
        #"{"steps":["A"],"worker":"w","leaseSeconds":5,"waitSeconds":61}"#,
        #"{"steps":["A"],"worker":"w","leaseSeconds":5,"colour":1}"#, #"{"steps":[1],"worker":"w","leaseSeconds":5}"#,
    ])
    func badClaimsAre400(body: String) throws {
        let api = try ServiceFixture()
        #expect(api.call(.post, "/api/v1/workflow/claim", body).status == .badRequest)
    }

    @Test func claimHeartbeatAndTheHolderRule() throws {
        let api = try ServiceFixture()
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"PROJECT_CLONE"}"#).status == .created
        )
        let claim = api.call(
            .post, "/api/v1/workflow/claim", #"{"steps":["PROJECT_CLONE"],"worker":"w1","leaseSeconds":30}"#)
        #expect(claim.status == .ok)
        #expect(claim.text.contains(#""attempt":1"#))
        #expect(
            api.call(.post, "/api/v1/workflow/claim", #"{"steps":["PROJECT_CLONE"],"worker":"w2","leaseSeconds":30}"#)
                .text
                == #"{"claims":[]}"#)
        let step = "/api/v1/workflow/token/\(token)/step/PROJECT_CLONE"
        #expect(api.call(.patch, step, #"{"status":"COMPLETED"}"#).status == .conflict, "no worker named")
        #expect(api.call(.patch, step, #"{"status":"COMPLETED","worker":"w2"}"#).status == .conflict)
        #expect(api.call(.post, step + "/heartbeat", #"{"leaseSeconds":30}"#).status == .badRequest)
        #expect(api.call(.post, step + "/heartbeat", #"{"worker":"w2","leaseSeconds":30}"#).status == .conflict)
        #expect(api.call(.post, step + "/heartbeat", #"{"worker":"w1","leaseSeconds":30}"#).status == .ok)
        #expect(api.call(.post, step + "/progress", #"{"expected":2,"completed":1,"worker":"w1"}"#).status == .ok)
        let done = api.call(.patch, step, #"{"status":"COMPLETED","worker":"w1"}"#)
        #expect(done.status == .ok)
        #expect(done.text.contains(#""attempts":1"#))
        #expect(!done.text.contains(#""claim""#), "a finished step holds no claim")
        #expect(api.call(.post, step + "/heartbeat", #"{"worker":"w1","leaseSeconds":30}"#).status == .conflict)
    }
}
