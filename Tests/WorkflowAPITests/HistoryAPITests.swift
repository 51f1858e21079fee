import Foundation
import HTTP1
import Storage
import Synchronization
import Testing
import WorkflowAPI

/// `GET /api/v1/workflow/token/{uuid}/events` (issue 14), on the backend the test run uses.
struct HistoryAPITests {
    let token = "0b1c2d3e-4f50-4617-8a9b-aabbccddeeff"

    func key(_ api: ServiceFixture, _ name: String, _ permission: Permission) throws -> [(String, String)] {
        let key = Authenticator.generateKey()
        #expect(
            try api.store.addAPIKey(digest: Authenticator.digest(of: key), name: name, permissions: permission.rawValue)
        )
        return [("X-Api-Key", key)]
    }

    func events(_ api: ServiceFixture, _ query: String = "", headers: [(String, String)]) throws -> [[String: Any]] {
        let response = api.call(.get, "/api/v1/workflow/token/\(token)/events\(query)", headers: headers)
        #expect(response.status == .ok, "\(response.text)")
        return try #require((api.json(response) as? [String: Any])?["events"] as? [[String: Any]])
    }

    @Test func theHistorySaysWhatEachKeyAndWorkerDid() throws {
        let api = try ServiceFixture(authenticated: true)
        let ci = try key(api, "ci", [.read, .write])
        let root = try key(api, "root", .admin)
        let reader = try key(api, "dashboard", .read)
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#, headers: ci).status
                == .created)
        #expect(
            api.call(
                .patch, "/api/v1/workflow/token/\(token)/step/BOM_CONSUMPTION", #"{"status":"COMPLETED"}"#, headers: ci
            )
            .status == .ok)
        let claim = #"{"steps":["BOM_PROCESSING"],"worker":"w1","leaseSeconds":300}"#
        #expect(api.call(.post, "/api/v1/workflow/claim", claim, headers: ci).text.contains("BOM_PROCESSING"))
        // An ADMIN key finishing the step for the worker it names: the worker is who acted.
        let done = #"{"status":"COMPLETED","worker":"w1"}"#
        #expect(
            api.call(.patch, "/api/v1/workflow/token/\(token)/step/BOM_PROCESSING", done, headers: root).status == .ok)
        #expect(
            api.call(.post, "/api/v1/workflow/token/\(token)/cancel", #"{"reason":"enough"}"#, headers: root).status
                == .ok)

        let all = try events(api, headers: reader)
        #expect(
            all.map { $0["type"] as? String } == [
                "CREATED", "STATUS", "CLAIMED", "STARTED", "STATUS", "CANCELLED",
            ], "\(all)")
        #expect(all.map { $0["sequence"] as? Int } == [1, 2, 3, 4, 5, 6])
        let by = all.map { $0["by"] as? [String: String] }
        #expect(by[0] == ["kind": "key", "name": "ci"] && by[1] == ["kind": "key", "name": "ci"])
        #expect(by[2] == ["kind": "worker", "name": "w1", "key": "ci"])
        #expect(by[4] == ["kind": "worker", "name": "w1", "key": "root"])
        #expect(by[5] == ["kind": "key", "name": "root"])
        #expect(all[4]["from"] as? String == "PENDING" && all[4]["to"] as? String == "COMPLETED")
        #expect(all[5]["reason"] as? String == "enough" && all[5]["count"] as? Int == 3)

        #expect(try events(api, "?after=4", headers: reader).map { $0["sequence"] as? Int } == [5, 6])
        #expect(try events(api, "?after=1&limit=2", headers: reader).map { $0["sequence"] as? Int } == [2, 3])
        #expect(try events(api, "?after=6", headers: reader).isEmpty)
        let page = api.json(api.call(.get, "/api/v1/workflow/token/\(token)/events?after=6", headers: reader))
        #expect((page as? [String: Any])?["first"] as? Int == 1 && (page as? [String: Any])?["last"] as? Int == 6)

        #expect(api.call(.get, "/api/v1/workflow/token/\(token)/events").status == .unauthorized)
    }

    @Test func badQueriesAreRefusedAndUnknownWorkflowsAreNotFound() throws {
        let api = try ServiceFixture()
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#).status == .created)
        for query in [
            "?after=-1", "?after=x", "?limit=0", "?limit=501", "?wait=61", "?wait=nan", "?since=1", "?after", "?%zz=1",
        ] {
            let response = api.call(.get, "/api/v1/workflow/token/\(token)/events\(query)")
            #expect(response.status == .badRequest, "\(query): \(response.text)")
            #expect(response.headers["Content-Type"] == "application/problem+json")
        }
        #expect(api.call(.get, "/api/v1/workflow/token/not-a-uuid/events").status == .badRequest)
        #expect(
            api.call(.get, "/api/v1/workflow/token/00000000-0000-4000-8000-000000000000/events").status == .notFound)
        #expect(
            api.call(.get, "/api/v1/workflow/token/00000000-0000-4000-8000-000000000000/events?wait=1").status
                == .notFound)
    }

    /// `wait`: answered as soon as an event comes after `after`; else, at the deadline, with none.
    @Test func aTailIsAnsweredByTheNextEvent() throws {
        let api = try ServiceFixture()
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#).status == .created)
        let started = Date()
        let quiet = api.call(.get, "/api/v1/workflow/token/\(token)/events?after=1&wait=0.3")
        #expect(quiet.status == .ok && (api.json(quiet) as? [String: Any])?["events"] as? [Any] != nil)
        #expect(try events(api, "?after=1&wait=0.3", headers: []).isEmpty)
        #expect(Date().timeIntervalSince(started) >= 0.5, "both waited")

        let answer = Mutex<HTTPResponse?>(nil)
        let done = DispatchSemaphore(value: 0)
        let request = HTTPRequest(method: .get, target: "/api/v1/workflow/token/\(token)/events?after=1&wait=9")
        api.service.handle(request) { response in
            answer.withLock { $0 = response }
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(answer.withLock { $0 } == nil, "still waiting")
        #expect(
            api.call(.patch, "/api/v1/workflow/token/\(token)/step/BOM_CONSUMPTION", #"{"status":"COMPLETED"}"#)
                .status == .ok)
        #expect(done.wait(timeout: .now() + 5) == .success)
        let response = try #require(answer.withLock { $0 })
        let tail = try #require((api.json(response) as? [String: Any])?["events"] as? [[String: Any]])
        #expect(tail.map { $0["sequence"] as? Int } == [2])
        #expect(tail.first?["step"] as? String == "BOM_CONSUMPTION")
    }
}
