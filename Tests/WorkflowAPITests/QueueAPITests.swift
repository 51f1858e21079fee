import Foundation
import HTTP1
import Storage
import Testing
import WorkflowAPI

/// `GET /api/v1/queue` and `PATCH /api/v1/queue/{step}`, on the test run's backend.
struct QueueAPITests {
    @Test func queuesAreListedPausedAndResumed() throws {
        let api = try ServiceFixture(authenticated: true)
        let reader = try #require(try Authenticator.issueKey(in: api.store, name: "r", permissions: .read))
        let admin = try #require(try Authenticator.issueKey(in: api.store, name: "a", permissions: .admin))
        let asAdmin = [("X-Api-Key", admin)]
        #expect(api.call(.get, "/api/v1/queue", headers: [("X-Api-Key", reader)]).text == #"{"queues":[]}"#)
        for index in 0..<3 {
            let body = #"{"token":"00000000-0000-4000-8000-00000000000\#(index)","steps":[{"step":"SCAN"}]}"#
            #expect(api.call(.post, "/api/v1/workflow", body, headers: asAdmin).status == .created)
        }
        let listed = api.call(.get, "/api/v1/queue", headers: [("X-Api-Key", reader)])
        let queue = try #require(((api.json(listed) as? [String: Any])?["queues"] as? [[String: Any]])?.first)
        #expect(queue["step"] as? String == "SCAN" && queue["ready"] as? Int == 3 && queue["claimed"] as? Int == 0)
        #expect(
            queue["paused"] as? Bool == false && queue["oldestReadyAt"] is Int && queue["oldestReadySeconds"] is Double)

        #expect(
            api.call(.patch, "/api/v1/queue/SCAN", #"{"paused":true}"#, headers: [("X-Api-Key", reader)]).status
                == .forbidden, "pausing is for ADMIN keys")
        for (body, status) in [
            (#"{"paused":"yes"}"#, HTTPStatus.badRequest), (#"{}"#, .badRequest),
            (#"{"paused":true,"x":1}"#, .badRequest),
        ] {
            #expect(api.call(.patch, "/api/v1/queue/SCAN", body, headers: asAdmin).status == status, "\(body)")
        }
        #expect(
            api.call(.patch, "/api/v1/queue/not-a-step", #"{"paused":true}"#, headers: asAdmin).status == .badRequest)
        let paused = api.call(.patch, "/api/v1/queue/SCAN", #"{"paused":true}"#, headers: asAdmin)
        #expect(paused.text == #"{"step":"SCAN","paused":true,"changed":true}"#)
        #expect(
            api.call(.patch, "/api/v1/queue/SCAN", #"{"paused":true}"#, headers: asAdmin).text
                == #"{"step":"SCAN","paused":true,"changed":false}"#, "idempotent")
        #expect(api.call(.get, "/api/v1/queue", headers: asAdmin).text.contains(#""ready":3,"claimed":0"#))
        let none = api.call(
            .post, "/api/v1/workflow/claim", #"{"steps":["SCAN"],"worker":"w","leaseSeconds":60}"#, headers: asAdmin)
        #expect(none.text == #"{"claims":[]}"#)
        // A queue with nothing in it can be paused ahead of time, and shows while paused.
        #expect(api.call(.patch, "/api/v1/queue/LATER", #"{"paused":true}"#, headers: asAdmin).status == .ok)
        #expect(
            api.call(.get, "/api/v1/queue", headers: asAdmin).text.contains(
                #"{"step":"LATER","ready":0,"claimed":0,"paused":true}"#))
        #expect(api.call(.patch, "/api/v1/queue/SCAN", #"{"paused":false}"#, headers: asAdmin).status == .ok)
        let claimed = api.call(
            .post, "/api/v1/workflow/claim", #"{"steps":["SCAN"],"worker":"w","leaseSeconds":60,"max":2}"#,
            headers: asAdmin)
        #expect(((api.json(claimed) as? [String: Any])?["claims"] as? [Any])?.count == 2)
        #expect(api.call(.get, "/api/v1/queue", headers: asAdmin).text.contains(#""ready":1,"claimed":2"#))
        #expect(api.call(.get, "/api/v1/queue?x=1", headers: asAdmin).status == .badRequest)
        #expect(try api.integrityProblems() == [])
    }
}
