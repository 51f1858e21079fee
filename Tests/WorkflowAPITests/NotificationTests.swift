import Codecs
import Foundation
import HTTP1
import Notifications
import Storage
import Testing
import WorkflowAPI
import WorkflowModel

/// Codecs behind signing and BOM content: RFC 4231's HMAC-SHA-256 vectors, RFC 4648's base64.
struct CodecTests {
    @Test(arguments: [
        (
            [UInt8](repeating: 0x0b, count: 20), "Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        (
            Array("Jefe".utf8), "what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        (
            [UInt8](repeating: 0xaa, count: 131), "Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
    ])
    func hmacMatchesRFC4231(key: [UInt8], message: String, expected: String) {
        #expect(Hex.encode(HMAC.sha256(key: key, message: Array(message.utf8))) == expected)
    }

    @Test func base64MatchesRFC4648AndRoundTrips() {
        let vectors = [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
    }

    @Test func isoTimestamps() {
        #expect(ISOTime.string(Timestamp(milliseconds: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(ISOTime.string(Timestamp(milliseconds: 1_796_188_332_792)) == "2026-12-02T05:12:12.792Z")
        #expect(ISOTime.string(Timestamp(milliseconds: 951_782_400_001)) == "2000-02-29T00:00:00.001Z")
        #expect(ISOTime.string(Timestamp(milliseconds: -1)) == "1969-12-31T23:59:59.999Z")
    }
}

/// Webhooks through the API and the outbox the writes fill, on the backend of the test run
/// (`BOMFLOW_TEST_BACKEND`). Nothing here sends: the delivering process has its own tests
/// (bomflowTests/WebhookDeliveryTests).
struct NotificationAPITests {
    let token = "0c3b8a52-1d2e-4f3a-9b4c-5d6e7f8a9b0c"

    func createWebhook(_ api: ServiceFixture, _ body: String) throws -> String {
        let created = api.call(.post, "/api/v1/notification/webhook", body)
        #expect(created.status == .created, "\(created.text)")
        return try #require((api.json(created) as? [String: Any])?["uuid"] as? String)
    }

    func deliveries(_ api: ServiceFixture, _ query: String = "") throws -> [[String: Any]] {
        let listed = api.call(.get, "/api/v1/notification/delivery" + query)
        #expect(listed.status == .ok, "\(listed.text)")
        return try #require((api.json(listed) as? [String: Any])?["deliveries"] as? [[String: Any]])
    }

    @Test func aBomUploadsLifeIsNotifiedInOrderInDependencyTracksShape() throws {
        let api = try ServiceFixture()
        let everything = NotificationGroup.allCases.map { #""\#($0.rawValue)""# }.joined(separator: ",")
        _ = try createWebhook(api, #"{"url":"http://127.0.0.1:9/hook","groups":[\#(everything)]}"#)
        let bom = Array(#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}"#.utf8)
        let upload = api.call(
            .put, "/api/v1/bom",
            #"{"projectName":"shop","projectVersion":"2.0","autoCreate":true,"bom":"\#(Base64.encode(bom))"}"#)
        #expect(upload.status == .ok, "\(upload.text)")
        let token = try #require((api.json(upload) as? [String: Any])?["token"] as? String)
        #expect(try deliveries(api).isEmpty, "creating a workflow notifies nothing")
        for step in ["BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE"] {
            let done = api.call(.patch, "/api/v1/workflow/token/\(token)/step/\(step)", #"{"status":"COMPLETED"}"#)
            #expect(done.status == .ok, "\(step): \(done.text)")
        }
        let all = try deliveries(api).reversed()
        #expect(all.map { $0["group"] as? String } == ["BOM_CONSUMED", "BOM_PROCESSED", "WORKFLOW_COMPLETED"])
        #expect(all.allSatisfy { $0["state"] as? String == "PENDING" && $0["token"] as? String == token })
        let sequences = all.compactMap { $0["sequence"] as? Int }
        #expect(sequences == sequences.sorted() && Set(sequences).count == 3, "one order per workflow")
        let processed = try #require(all.first { $0["group"] as? String == "BOM_PROCESSED" })
        let notification = try #require((processed["payload"] as? [String: Any])?["notification"] as? [String: Any])
        #expect(notification["level"] as? String == "INFORMATIONAL")
        #expect(notification["scope"] as? String == "PORTFOLIO")
        #expect(notification["title"] as? String == "Bill of Materials Processed")
        #expect(notification["content"] as? String == "A CycloneDX BOM was processed")
        #expect(notification["id"] as? String == processed["id"] as? String)
        let subject = try #require(notification["subject"] as? [String: Any])
        #expect(subject["token"] as? String == token)
        let project = try #require(subject["project"] as? [String: Any])
        #expect(project["name"] as? String == "shop" && project["version"] as? String == "2.0")
        let bomSubject = try #require(subject["bom"] as? [String: Any])
        #expect(bomSubject["content"] as? String == "(Omitted)", "the BOM only when the webhook asks for it")
        #expect(bomSubject["specVersion"] as? String == "1.5" && bomSubject["format"] as? String == "CycloneDX")
        #expect(try api.integrityProblems() == [])
    }

    @Test func aFailureNotifiesTheStepTheUploadAndTheEndOnce() throws {
        let api = try ServiceFixture()
        _ = try createWebhook(
            api,
            #"{"url":"http://127.0.0.1:9/","groups":["STEP_FAILED","BOM_PROCESSING_FAILED","WORKFLOW_FAILED","WORKFLOW_COMPLETED"],"includeBom":true}"#
        )
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#).status == .created)
        #expect(
            api.call(.patch, "/api/v1/workflow/token/\(token)/step/BOM_CONSUMPTION", #"{"status":"COMPLETED"}"#)
                .status == .ok)
        let failed = api.call(
            .patch, "/api/v1/workflow/token/\(token)/step/BOM_PROCESSING",
            #"{"status":"FAILED","failureReason":"unparseable <BOM>"}"#)
        #expect(failed.status == .ok)
        let all = try deliveries(api).reversed()
        #expect(all.map { $0["group"] as? String } == ["STEP_FAILED", "BOM_PROCESSING_FAILED", "WORKFLOW_FAILED"])
        let payloads = all.compactMap { ($0["payload"] as? [String: Any])?["notification"] as? [String: Any] }
        #expect(payloads.allSatisfy { $0["level"] as? String == "ERROR" })
        let dependencyTrack = try #require(payloads.first { $0["group"] as? String == "BOM_PROCESSING_FAILED" })
        let subject = try #require(dependencyTrack["subject"] as? [String: Any])
        #expect(subject["cause"] as? String == "unparseable <BOM>")
        #expect(
            (subject["bom"] as? [String: Any])?["content"] as? String == "",
            "includeBom with no stored BOM (a workflow made by the API): empty content")
        let step = try #require(payloads.first { $0["group"] as? String == "STEP_FAILED" })
        let stepSubject = try #require(step["subject"] as? [String: Any])
        #expect(stepSubject["step"] as? String == "BOM_PROCESSING")
        let steps = try #require((stepSubject["workflow"] as? [String: Any])?["steps"] as? [[String: Any]])
        #expect(steps.count == 5 && steps.filter { $0["status"] as? String == "CANCELLED" }.count == 3)
        // A repeat of the same state notifies nothing more.
        _ = api.call(
            .patch, "/api/v1/workflow/token/\(token)/step/BOM_PROCESSING",
            #"{"status":"FAILED","failureReason":"unparseable <BOM>"}"#)
        #expect(try deliveries(api).count == 3)
    }

    @Test func filtersByProjectLabelsGroupAndEnabled() throws {
        let api = try ServiceFixture()
        let project = "11111111-2222-4333-8444-555555555555"
        let byLabel = try createWebhook(
            api, #"{"url":"http://127.0.0.1:9/a","groups":["WORKFLOW_COMPLETED"],"labels":{"team":"blue"}}"#)
        let byProject = try createWebhook(
            api, #"{"url":"http://127.0.0.1:9/b","groups":["WORKFLOW_COMPLETED"],"project":"\#(project)"}"#)
        let disabled = try createWebhook(
            api, #"{"url":"http://127.0.0.1:9/c","groups":["WORKFLOW_COMPLETED"],"enabled":false}"#)
        let otherGroup = try createWebhook(api, #"{"url":"http://127.0.0.1:9/d","groups":["WORKFLOW_FAILED"]}"#)
        func finish(_ token: String, labels: String) {
            #expect(
                api.call(
                    .post, "/api/v1/workflow", #"{"token":"\#(token)","steps":[{"step":"A"}],"labels":\#(labels)}"#
                )
                .status == .created)
            #expect(
                api.call(.patch, "/api/v1/workflow/token/\(token)/step/A", #"{"status":"COMPLETED"}"#).status == .ok)
        }
        finish("00000000-0000-4000-8000-000000000001", labels: #"{"team":"blue"}"#)
        finish("00000000-0000-4000-8000-000000000002", labels: #"{"team":"red","project":"\#(project)"}"#)
        finish("00000000-0000-4000-8000-000000000003", labels: #"{}"#)
        let all = try deliveries(api)
        #expect(
            all.filter { $0["webhook"] as? String == byLabel }.map { $0["token"] as? String } == [
                "00000000-0000-4000-8000-000000000001"
            ])
        #expect(
            all.filter { $0["webhook"] as? String == byProject }.map { $0["token"] as? String } == [
                "00000000-0000-4000-8000-000000000002"
            ])
        #expect(!all.contains { $0["webhook"] as? String == disabled || $0["webhook"] as? String == otherGroup })
        #expect(try deliveries(api, "?webhook=\(byLabel)").count == 1)
        #expect(try deliveries(api, "?state=DELIVERED").isEmpty)
    }

    @Test func hostileConfigurationsAreRefusedAndChangeNothing() throws {
        let api = try ServiceFixture()
        let many = (0..<17).map { #""X-H\#($0)":"v""# }.joined(separator: ",")
        let refused: [(String, String)] = [
            (#"{"url":"ftp://example.com/","groups":["WORKFLOW_FAILED"]}"#, "only http:// and https://"),
            (#"{"url":"file:///etc/passwd","groups":["WORKFLOW_FAILED"]}"#, "only http:// and https://"),
            (#"{"url":"http://user:secret@example.com/","groups":["WORKFLOW_FAILED"]}"#, "credentials"),
            (#"{"url":"http://example.com:0/","groups":["WORKFLOW_FAILED"]}"#, "port"),
            (#"{"url":"http://exa mple.com/","groups":["WORKFLOW_FAILED"]}"#, "spaces"),
            (#"{"url":"http:///x","groups":["WORKFLOW_FAILED"]}"#, "host"),
            (#"{"url":"http://example.com/#frag","groups":["WORKFLOW_FAILED"]}"#, "fragment"),
            (
                #"{"url":"http://example.com/\#(String(repeating: "a", count: 2100))","groups":["WORKFLOW_FAILED"]}"#,
                "longer than"
            ),
            (#"{"url":"http://example.com/","groups":[]}"#, "at least one group"),
            (#"{"url":"http://example.com/","groups":["NEW_VULNERABILITY"]}"#, "groups[0] is not a notification group"),
            (#"{"url":"http://example.com/"}"#, "needs its groups"),
            (#"{"groups":["WORKFLOW_FAILED"]}"#, "needs a url"),
            (#"{"url":"http://example.com/","groups":["WORKFLOW_FAILED"],"headers":{\#(many)}}"#, "at most 16 headers"),
            (
                #"{"url":"http://example.com/","groups":["WORKFLOW_FAILED"],"headers":{"X-A":"\#(String(repeating: "v", count: 1025))"}}"#,
                "over 1024 bytes"
            ),
            (
                #"{"url":"http://example.com/","groups":["WORKFLOW_FAILED"],"headers":{"X-A":"a\r\nHost: evil"}}"#,
                "control"
            ),
            (#"{"url":"http://example.com/","groups":["WORKFLOW_FAILED"],"headers":{"Bad Name":"v"}}"#, "header name"),
            (
                #"{"url":"http://example.com/","groups":["WORKFLOW_FAILED"],"headers":{"Host":"evil"}}"#,
                "set by bomflow"
            ),
            (
                #"{"url":"http://example.com/","groups":["WORKFLOW_FAILED"],"headers":{"X-Bomflow-Signature":"forged"}}"#,
                "set by bomflow"
            ),
            (#"{"url":"http://example.com/","groups":["WORKFLOW_FAILED"],"secret":""}"#, "secret"),
            (#"{"url":"http://example.com/","groups":["WORKFLOW_FAILED"],"surprise":1}"#, "surprise"),
            (#"{"url":"http://example.com/","groups":"WORKFLOW_FAILED"}"#, "array"),
            ("not json", "not valid JSON"),
        ]
        for (body, message) in refused {
            let response = api.call(.post, "/api/v1/notification/webhook", body)
            #expect(response.status == .badRequest, "\(body.prefix(120)): \(response.status.code) \(response.text)")
            #expect(response.text.contains(message), "\(body.prefix(120)): \(response.text)")
        }
        #expect(api.call(.get, "/api/v1/notification/webhook").text == "[]", "nothing was stored")

        let id = try createWebhook(api, #"{"url":"https://hooks.example.com/x?y=1","groups":["WORKFLOW_FAILED"]}"#)
        let unchanged = api.call(.get, "/api/v1/notification/webhook/\(id)").text
        let badPatch = api.call(.patch, "/api/v1/notification/webhook/\(id)", #"{"url":"gopher://x/"}"#)
        #expect(badPatch.status == .badRequest)
        let badHeaders = api.call(.patch, "/api/v1/notification/webhook/\(id)", #"{"headers":{"Content-Length":"1"}}"#)
        #expect(badHeaders.status == .badRequest, "\(badHeaders.text)")
        #expect(api.call(.get, "/api/v1/notification/webhook/\(id)").text == unchanged)
        let missing = "99999999-9999-4999-8999-999999999999"
        #expect(api.call(.patch, "/api/v1/notification/webhook/\(missing)", #"{"enabled":false}"#).status == .notFound)
        #expect(api.call(.delete, "/api/v1/notification/webhook/\(missing)").status == .notFound)
        #expect(api.call(.post, "/api/v1/notification/webhook/\(missing)/test").status == .notFound)
        #expect(api.call(.post, "/api/v1/notification/delivery/12345/redeliver").status == .notFound)
        #expect(api.call(.post, "/api/v1/notification/delivery/x/redeliver").status == .badRequest)
        #expect(api.call(.get, "/api/v1/notification/delivery?state=LOST").status == .badRequest)
        #expect(api.call(.get, "/api/v1/notification/delivery?limit=0").status == .badRequest)
        #expect(try api.integrityProblems() == [])
    }

    @Test func updateTestSendRedeliverAndDelete() throws {
        let api = try ServiceFixture()
        let id = try createWebhook(
            api, #"{"url":"http://127.0.0.1:9/","groups":["WORKFLOW_COMPLETED"],"secret":"top-secret-value"}"#)
        let shown = api.call(.get, "/api/v1/notification/webhook/\(id)").text
        #expect(shown.contains(#""signed":true"#) && !shown.contains("top-secret-value"), "the secret is never shown")
        let patched = api.call(
            .patch, "/api/v1/notification/webhook/\(id)",
            #"{"url":"http://127.0.0.1:10/new","headers":{"Authorization":"Bearer abc"},"secret":null}"#)
        #expect(patched.status == .ok, "\(patched.text)")
        #expect(patched.text.contains(#""url":"http://127.0.0.1:10/new""#) && patched.text.contains(#""signed":false"#))
        #expect(patched.text.contains(#""groups":["WORKFLOW_COMPLETED"]"#), "what the patch does not name stays")

        let test = api.call(.post, "/api/v1/notification/webhook/\(id)/test")
        #expect(test.status == .accepted, "\(test.text)")
        let queued = try #require(((api.json(test) as? [String: Any])?["deliveries"] as? [[String: Any]])?.first)
        let sequence = try #require(queued["sequence"] as? Int)
        #expect(queued["state"] as? String == "PENDING")
        #expect(
            ((queued["payload"] as? [String: Any])?["notification"] as? [String: Any])?["test"] as? Bool == true)
        #expect(
            api.call(.post, "/api/v1/notification/delivery/\(sequence)/redeliver").status == .conflict,
            "a pending delivery is not queued twice")

        // The delivering side's calls: claim it, fail it for good, then redeliver by the API.
        let tasks = try api.store.claimDeliveries(holder: "test", max: 10, leaseMilliseconds: 60_000)
        #expect(tasks.map(\.delivery.sequence) == [UInt64(sequence)])
        #expect(tasks.first?.webhook.headers == [Webhook.Header(name: "Authorization", value: "Bearer abc")])
        #expect(try api.store.claimDeliveries(holder: "other", max: 10, leaseMilliseconds: 60_000).isEmpty)
        let stale = try api.store.finishDeliveries(
            [DeliveryReport(sequence: UInt64(sequence), holder: "other", outcome: .delivered)],
            policy: RetryPolicy(maxAttempts: 1))
        #expect(stale.isEmpty, "a report from a process that holds no lease is ignored")
        let dead = try api.store.finishDeliveries(
            [
                DeliveryReport(
                    sequence: UInt64(sequence), holder: "test", outcome: .failed("HTTP 500: boom", retryAfter: nil))
            ],
            policy: RetryPolicy(maxAttempts: 1))
        #expect(dead.map(\.state) == [.dead])
        let listed = try deliveries(api, "?state=DEAD")
        #expect(listed.count == 1 && listed.first?["lastError"] as? String == "HTTP 500: boom")
        #expect(try api.store.outboxFigures().dead == 1)
        let again = api.call(.post, "/api/v1/notification/delivery/\(sequence)/redeliver")
        #expect(again.status == .accepted, "\(again.text)")
        #expect(try deliveries(api, "?state=PENDING").first?["attempts"] as? Int == 0)
        #expect(try api.store.outboxFigures().pending == 1)
        #expect(try api.store.outboxFigures().dead == 0)

        // Deleting the webhook drops what is pending for it.
        #expect(api.call(.delete, "/api/v1/notification/webhook/\(id)").status == .noContent)
        #expect(try api.store.outboxFigures().pending == 0)
        #expect(api.call(.get, "/api/v1/notification/webhook").text == "[]")
        #expect(try api.integrityProblems() == [])
    }

    @Test func onlyAdminKeysReachWebhooks() throws {
        let api = try ServiceFixture(authenticated: true)
        let writer = try #require(try Authenticator.issueKey(in: api.store, name: "ci", permissions: [.read, .write]))
        let admin = try #require(try Authenticator.issueKey(in: api.store, name: "root", permissions: .admin))
        let body = #"{"url":"http://127.0.0.1:9/","groups":["WORKFLOW_FAILED"]}"#
        #expect(api.call(.get, "/api/v1/notification/webhook").status == .unauthorized)
        #expect(
            api.call(.post, "/api/v1/notification/webhook", body, headers: [("X-Api-Key", writer)]).status == .forbidden
        )
        #expect(
            api.call(.get, "/api/v1/notification/delivery", headers: [("X-Api-Key", writer)]).status == .forbidden)
        #expect(
            api.call(.post, "/api/v1/notification/webhook", body, headers: [("X-Api-Key", admin)]).status == .created)
    }
}
