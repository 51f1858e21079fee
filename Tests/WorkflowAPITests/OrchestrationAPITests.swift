import Foundation
import HTTP1
import Storage
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

    /// `POST …/release`: the holder gives the step up, another worker may not, an ADMIN key may
    /// take it from anyone; the step is ready again and the attempt stays counted.
    @Test func aClaimIsReleasedByItsHolderOrAnAdmin() throws {
        let api = try ServiceFixture(authenticated: true)
        func key(_ name: String, _ permission: Permission) throws -> [(String, String)] {
            let key = Authenticator.generateKey()
            #expect(
                try api.store.addAPIKey(
                    digest: Authenticator.digest(of: key), name: name, permissions: permission.rawValue))
            return [("X-Api-Key", key)]
        }
        let worker = try key("worker", [.read, .write])
        let admin = try key("root", .admin)
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","steps":[{"step":"SCAN"}]}"#, headers: worker)
                .status
                == .created)
        let claim = #"{"steps":["SCAN"],"worker":"w1","leaseSeconds":300}"#
        #expect(api.call(.post, "/api/v1/workflow/claim", claim, headers: worker).text.contains(#""attempt":1"#))
        let release = "/api/v1/workflow/token/\(token)/step/SCAN/release"
        #expect(api.call(.post, release, #"{"worker":"w2"}"#, headers: worker).status == .conflict, "not the holder")
        #expect(api.call(.post, release, "", headers: worker).status == .conflict, "no worker named")
        for bad in [#"{"worker":""}"#, #"{"worker":7}"#, #"{"other":1}"#, "[]", "nope"] {
            #expect(api.call(.post, release, bad, headers: worker).status == .badRequest, "\(bad)")
        }
        let released = api.call(.post, release, #"{"worker":"w1"}"#, headers: worker)
        #expect(released.status == .ok && !released.text.contains(#""claim""#), "\(released.text)")
        #expect(released.text.contains(#""ready":true"#) && released.text.contains(#""attempts":1"#))
        let again = api.call(
            .post, "/api/v1/workflow/claim", #"{"steps":["SCAN"],"worker":"w2","leaseSeconds":300}"#, headers: worker)
        #expect(again.text.contains(#""attempt":2"#))
        // An ADMIN key takes it from anyone; releasing what nobody holds changes nothing.
        #expect(api.call(.post, release, "", headers: admin).status == .ok)
        let version = (api.json(api.call(.get, "/api/v1/workflow/token/\(token)", headers: admin)) as? [String: Any])?[
            "version"]
        let idle = api.call(.post, release, "", headers: admin)
        #expect(idle.status == .ok && (api.json(idle) as? [String: Any])?["version"] as? Int == version as? Int)
        #expect(
            api.call(
                .post, "/api/v1/workflow/token/00000000-0000-4000-8000-000000000000/step/SCAN/release", "",
                headers: admin
            ).status == .notFound)
        #expect(
            api.call(.post, "/api/v1/workflow/token/\(token)/step/NOPE/release", "", headers: admin).status == .notFound
        )
        let events = api.call(.get, "/api/v1/workflow/token/\(token)/events", headers: admin).text
        #expect(events.components(separatedBy: "LEASE_RELEASED").count == 3, "two releases recorded: \(events)")
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
