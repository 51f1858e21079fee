import Foundation
import HTTP1
import Storage
import Testing
import WorkflowAPI

/// `POST /api/v1/workflow/token/{uuid}/cancel`, on the backend the test run uses.
struct CancelTests {
    let token = "6f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"

    @Test func cancelStopsEveryStepReleasesClaimsAndEndsThePoll() throws {
        let api = try ServiceFixture()
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#).status == .created)
        #expect(
            api.call(.patch, "/api/v1/workflow/token/\(token)/step/BOM_CONSUMPTION", #"{"status":"COMPLETED"}"#)
                .status == .ok)
        let claimed = api.call(
            .post, "/api/v1/workflow/claim", #"{"steps":["BOM_PROCESSING"],"worker":"w1","leaseSeconds":300}"#)
        #expect(claimed.text.contains(#""step":"BOM_PROCESSING""#), "\(claimed.text)")

        let cancelled = api.call(
            .post, "/api/v1/workflow/token/\(token)/cancel", #"{"reason":"superseded by a newer BOM"}"#)
        #expect(cancelled.status == .ok, "\(cancelled.text)")
        let workflow = try #require(api.json(cancelled) as? [String: Any])
        let steps = try #require(workflow["steps"] as? [[String: Any]])
        #expect(steps.first?["status"] as? String == "COMPLETED", "a finished step stays as it was")
        #expect(steps.first?["failureReason"] == nil)
        for step in steps.dropFirst() {
            #expect(step["status"] as? String == "CANCELLED", "\(step)")
            #expect(step["failureReason"] as? String == "superseded by a newer BOM")
            #expect(step["claim"] == nil, "the claim is released: \(step)")
        }
        #expect(api.call(.get, "/api/v1/event/token/\(token)").text == #"{"processing":false,"status":"FAILED"}"#)
        // The worker that held BOM_PROCESSING finds it finished; nothing is claimable any more.
        let late = api.call(
            .patch, "/api/v1/workflow/token/\(token)/step/BOM_PROCESSING", #"{"status":"COMPLETED","worker":"w1"}"#)
        #expect(late.status == .conflict, "\(late.text)")
        let none = api.call(
            .post, "/api/v1/workflow/claim",
            #"{"steps":["BOM_PROCESSING","VULN_ANALYSIS","POLICY_EVALUATION","METRICS_UPDATE"],"worker":"w2","leaseSeconds":300}"#
        )
        #expect(none.text == #"{"claims":[]}"#, "\(none.text)")

        // Idempotent: again (with another reason or none) changes nothing.
        let version = workflow["version"] as? Int
        for body in [#"{"reason":"again"}"#, ""] {
            let again = api.call(.post, "/api/v1/workflow/token/\(token)/cancel", body)
            #expect(again.status == .ok)
            #expect(again.text == cancelled.text, "a second cancel changes nothing")
            #expect((api.json(again) as? [String: Any])?["version"] as? Int == version)
        }
    }

    @Test func aCancelWithoutReasonSaysCancelled() throws {
        let api = try ServiceFixture()
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#).status == .created)
        let cancelled = api.call(.post, "/api/v1/workflow/token/\(token)/cancel")
        #expect(cancelled.status == .ok, "\(cancelled.text)")
        let steps = try #require((api.json(cancelled) as? [String: Any])?["steps"] as? [[String: Any]])
        #expect(steps.count == 5)
        #expect(
            steps.allSatisfy { $0["status"] as? String == "CANCELLED" && $0["failureReason"] as? String == "Cancelled" }
        )
    }

    /// A cancel takes claimed steps from their workers, which only an ADMIN key may do.
    @Test func onlyAnAdminKeyMayCancel() throws {
        let api = try ServiceFixture(authenticated: true)
        func key(_ name: String, _ permission: Permission) throws -> String {
            let key = Authenticator.generateKey()
            #expect(
                try api.store.addAPIKey(
                    digest: Authenticator.digest(of: key), name: name, permissions: permission.rawValue))
            return key
        }
        let writer = try key("ci", [.read, .write])
        let admin = try key("root", .admin)
        let create = #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#
        #expect(api.call(.post, "/api/v1/workflow", create, headers: [("X-Api-Key", writer)]).status == .created)
        let path = "/api/v1/workflow/token/\(token)/cancel"
        #expect(api.call(.post, path, headers: [("X-Api-Key", writer)]).status == .forbidden)
        #expect(
            api.call(.get, "/api/v1/event/token/\(token)", headers: [("X-Api-Key", writer)]).text
                == #"{"processing":true,"status":"PENDING"}"#)
        #expect(api.call(.post, path, headers: [("X-Api-Key", admin)]).status == .ok)
    }

    @Test func refusalsChangeNothing() throws {
        let api = try ServiceFixture()
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#).status == .created)
        let before = api.call(.get, "/api/v1/workflow/token/\(token)").text
        let refused: [(String, String, HTTPStatus)] = [
            (token, #"{"reason":""}"#, .badRequest),
            (token, #"{"reason":"\#(String(repeating: "x", count: 4097))"}"#, .badRequest),
            (token, #"{"reason":"ok","force":true}"#, .badRequest),
            (token, #"{"reason":7}"#, .badRequest),
            (token, "not json", .badRequest),
            (token, "[]", .badRequest),
            ("not-a-uuid", #"{"reason":"x"}"#, .badRequest),
            ("00000000-0000-4000-8000-000000000000", #"{"reason":"x"}"#, .notFound),
        ]
        for (target, body, status) in refused {
            let response = api.call(.post, "/api/v1/workflow/token/\(target)/cancel", body)
            #expect(response.status == status, "\(body): \(response.text)")
            #expect(response.headers["Content-Type"] == "application/problem+json", "\(body)")
        }
        #expect(api.call(.get, "/api/v1/workflow/token/\(token)").text == before)
        #expect(api.call(.get, "/api/v1/event/token/\(token)").text == #"{"processing":true,"status":"PENDING"}"#)
    }
}
