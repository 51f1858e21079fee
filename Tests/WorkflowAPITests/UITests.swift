import Foundation
import HTTP1
import Notifications
import Storage
import Testing
import WorkflowAPI
import WorkflowModel

/// The operator page's handlers (issue 14): sign-in and sessions, CSRF, READ vs ADMIN, escaping,
/// security headers, every page and action, on the backend the test run uses.
struct UITests {
    let token = "3c4d5e6f-7081-4293-a4b5-c6d7e8f90a1b"

    /// A browser's cookie jar, reduced to what these pages set.
    final class Browser {
        let api: ServiceFixture
        var cookies: [String: String] = [:]

        init(_ api: ServiceFixture) { self.api = api }

        @discardableResult
        func request(_ method: HTTPMethod, _ target: String, form: [(String, String)]? = nil) -> HTTPResponse {
            var headers: [(String, String)] = []
            if !cookies.isEmpty {
                headers.append(
                    (
                        "Cookie",
                        cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
                    ))
            }
            var body = ""
            if let form {
                headers.append(("Content-Type", "application/x-www-form-urlencoded"))
                body = form.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
            }
            let response = api.call(method, target, body, headers: headers)
            for header in response.headers.values("Set-Cookie") {
                let pair = header.split(separator: ";")[0].split(
                    separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pair.count == 2 else { continue }
                if header.contains("Max-Age=0") {
                    cookies[String(pair[0])] = nil
                } else {
                    cookies[String(pair[0])] = String(pair[1])
                }
            }
            return response
        }

        static func encode(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        }

        /// The CSRF token the last page's forms carry.
        func csrf(in response: HTTPResponse) -> String? {
            let text = response.text
            guard let range = text.range(of: #"name="csrf" value=""#) else { return nil }
            return String(text[range.upperBound...].prefix { $0 != "\"" })
        }

        /// Signs in with `key`; the overview's CSRF token.
        func signIn(_ key: String) throws -> String {
            let form = request(.get, "/ui/signin")
            let token = try #require(self.csrf(in: form))
            let signedIn = request(.post, "/ui/signin", form: [("key", key), ("csrf", token)])
            #expect(signedIn.status.code == 303 && signedIn.headers["Location"] == "/ui", "\(signedIn.text)")
            return try #require(self.csrf(in: request(.get, "/ui")))
        }
    }

    func key(_ api: ServiceFixture, _ name: String, _ permission: Permission) throws -> String {
        let key = Authenticator.generateKey()
        #expect(
            try api.store.addAPIKey(digest: Authenticator.digest(of: key), name: name, permissions: permission.rawValue)
        )
        return key
    }

    func expectPageHeaders(_ response: HTTPResponse, _ what: String) {
        let policy = response.headers["Content-Security-Policy"] ?? ""
        #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "\(what)")
        #expect(!policy.contains("unsafe-inline"), "\(what)")
        #expect(response.headers["X-Content-Type-Options"] == "nosniff", "\(what)")
        #expect(response.headers["X-Frame-Options"] == "DENY", "\(what)")
        #expect(
            response.headers["Referrer-Policy"] != nil && response.headers["Cache-Control"] == "no-store", "\(what)")
    }

    @Test func signInMakesASessionThatOnlyThePageAcceptsAndSignOutEnds() throws {
        let api = try ServiceFixture(authenticated: true)
        let admin = try key(api, "ops", .admin)
        let browser = Browser(api)
        let away = browser.request(.get, "/ui")
        #expect(away.status.code == 303 && away.headers["Location"] == "/ui/signin")
        let form = browser.request(.get, "/ui/signin")
        #expect(form.status == .ok && form.text.contains(#"type="password""#))
        expectPageHeaders(form, "sign-in")
        let csrf = try #require(browser.csrf(in: form))
        // A wrong key, and a right key without the form's token, make no session.
        let wrong = browser.request(.post, "/ui/signin", form: [("key", "bomflow_nope"), ("csrf", csrf)])
        #expect(wrong.status == .unauthorized && wrong.text.contains("not valid"))
        let forged = browser.request(.post, "/ui/signin", form: [("key", admin), ("csrf", "x" + csrf.dropFirst())])
        #expect(forged.status == .forbidden)
        #expect(browser.cookies["bomflow_session"] == nil)

        let signedIn = browser.request(.post, "/ui/signin", form: [("key", admin), ("csrf", csrf)])
        #expect(signedIn.status.code == 303)
        let cookie = try #require(signedIn.headers.values("Set-Cookie").first { $0.hasPrefix("bomflow_session=") })
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=28800"] {
            #expect(cookie.contains(attribute), "\(cookie)")
        }
        #expect(!cookie.contains("Secure"), "not behind TLS")
        let overview = browser.request(.get, "/ui")
        #expect(
            overview.status == .ok && overview.text.contains("<h1>Overview</h1>")
                && overview.text.contains("ops · ADMIN"))
        expectPageHeaders(overview, "overview")
        // The session is no API key.
        let session = try #require(browser.cookies["bomflow_session"])
        #expect(api.call(.get, "/api/v1/workflow", headers: [("X-Api-Key", session)]).status == .unauthorized)
        #expect(try api.store.apiKeys().contains { $0.name.hasPrefix("ui-session:ops:") }, "stored as a session of ops")

        // Sign-out needs the page's token; then the session is gone everywhere.
        let pageCSRF = try #require(browser.csrf(in: overview))
        #expect(browser.request(.post, "/ui/signout", form: [("csrf", "forged")]).status == .forbidden)
        let out = browser.request(.post, "/ui/signout", form: [("csrf", pageCSRF)])
        #expect(out.status.code == 303 && out.headers["Location"] == "/ui/signin")
        #expect(browser.cookies["bomflow_session"] == nil)
        let replay = Browser(api)
        replay.cookies["bomflow_session"] = session
        #expect(replay.request(.get, "/ui").status.code == 303, "a signed-out session is refused")
        #expect(try api.store.apiKeys().allSatisfy { !$0.name.hasPrefix("ui-session:") })
    }

    @Test func revokingTheKeyEndsItsSessions() throws {
        let api = try ServiceFixture(authenticated: true)
        let reader = try key(api, "viewer", .read)
        let browser = Browser(api)
        _ = try browser.signIn(reader)
        #expect(try api.store.revokeAPIKey(name: "viewer"))
        #expect(browser.request(.get, "/ui").status.code == 303)
    }

    /// A session past its expiry is refused (and deleted); behind TLS the cookie is Secure.
    @Test func anEndedSessionIsRefusedAndSecureCookiesAreMarked() throws {
        let api = try ServiceFixture(authenticated: true)
        _ = try key(api, "ops", .admin)
        let secret = String(repeating: "ab", count: 32)
        #expect(
            try api.store.addAPIKey(
                digest: Authenticator.digest(of: secret), name: "ui-session:ops:1000:feed",
                permissions: Permission.admin.rawValue))
        let browser = Browser(api)
        browser.cookies["bomflow_session"] = secret
        #expect(browser.request(.get, "/ui").status.code == 303, "expired in 1970")
        #expect(try api.store.apiKeys().allSatisfy { !$0.name.hasPrefix("ui-session:") }, "and deleted")

        let secure = try ServiceFixture(authenticated: true, secureCookies: true)
        let admin = try key(secure, "ops", .admin)
        let tls = Browser(secure)
        let form = tls.request(.get, "/ui/signin")
        #expect(form.headers.values("Set-Cookie").allSatisfy { $0.contains("; Secure") })
        let csrf = try #require(tls.csrf(in: form))
        let signedIn = tls.request(.post, "/ui/signin", form: [("key", admin), ("csrf", csrf)])
        #expect(
            signedIn.headers.values("Set-Cookie").first { $0.hasPrefix("bomflow_session=") }?.contains("; Secure")
                == true)
    }

    @Test func userDataIsEscapedEverywhere() throws {
        let api = try ServiceFixture(authenticated: true)
        let admin = try key(api, "ops", .admin)
        let hostile = "<script>alert(1)</script>"
        let create = #"{"token":"\#(token)","steps":[{"step":"SCAN"}],"labels":{"note":"\#(hostile)","x\"><b>":"1"}}"#
        #expect(api.call(.post, "/api/v1/workflow", create, headers: [("X-Api-Key", admin)]).status == .created)
        let fail = #"{"status":"FAILED","failureReason":"\"><img src=x onerror=alert(2)>"}"#
        #expect(
            api.call(.patch, "/api/v1/workflow/token/\(token)/step/SCAN", fail, headers: [("X-Api-Key", admin)]).status
                == .ok)
        let browser = Browser(api)
        _ = try browser.signIn(admin)
        for page in [
            "/ui", "/ui/workflows", "/ui/workflow/\(token)", "/ui/workflows?label=note:\(Browser.encode(hostile))",
        ] {
            let text = browser.request(.get, page).text
            #expect(
                !text.contains("<script>alert") && !text.contains("<img src=x") && !text.contains(#""><b>"#), "\(page)")
        }
        let detail = browser.request(.get, "/ui/workflow/\(token)").text
        #expect(detail.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(detail.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"))
        // The only scripts are bomflow's own file; no inline script, no style attribute.
        #expect(
            detail.components(separatedBy: "<script").count == 2 && detail.contains(#"<script src="/ui/assets/app.js"#))
        #expect(!detail.contains("style=") && !detail.contains("onclick"))
    }

    @Test func readKeysSeeAndAdminKeysActWithTheirToken() throws {
        let api = try ServiceFixture(authenticated: true)
        let admin = try key(api, "ops", .admin)
        let reader = try key(api, "viewer", .read)
        #expect(
            api.call(
                .post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#,
                headers: [("X-Api-Key", admin)]
            )
            .status == .created)
        let viewer = Browser(api)
        let viewerCSRF = try viewer.signIn(reader)
        let seen = viewer.request(.get, "/ui/workflow/\(token)")
        #expect(seen.status == .ok && seen.text.contains("BOM_CONSUMPTION") && !seen.text.contains("Cancel workflow"))
        let refused = viewer.request(
            .post, "/ui/workflow/\(token)/cancel", form: [("csrf", viewerCSRF), ("reason", "no")])
        #expect(refused.status == .forbidden && refused.text.contains("ADMIN"))
        expectPageHeaders(refused, "refusal")

        let ops = Browser(api)
        let csrf = try ops.signIn(admin)
        let page = ops.request(.get, "/ui/workflow/\(token)")
        #expect(page.text.contains("Cancel workflow"))
        // No token, a wrong one, another session's: refused, nothing changed.
        for form in [[("reason", "x")], [("reason", "x"), ("csrf", "0")], [("reason", "x"), ("csrf", viewerCSRF)]] {
            #expect(ops.request(.post, "/ui/workflow/\(token)/cancel", form: form).status == .forbidden)
        }
        #expect(try api.store.workflow(Token(token)!)?.isProcessing == true)
        let cancelled = ops.request(
            .post, "/ui/workflow/\(token)/cancel", form: [("csrf", csrf), ("reason", "operator")])
        #expect(
            cancelled.status.code == 303 && cancelled.headers["Location"] == "/ui/workflow/\(token)?notice=cancelled")
        #expect(try api.store.workflow(Token(token)!)?.isProcessing == false)
        let after = ops.request(.get, "/ui/workflow/\(token)?notice=cancelled").text
        #expect(
            after.contains("The workflow was cancelled.") && after.contains("CANCELLED") && after.contains("key ops"))
        // A refused action (restart of an unknown step) shows the refusal.
        let bad = ops.request(.post, "/ui/workflow/\(token)/restart", form: [("csrf", csrf), ("step", "NOPE")])
        #expect(bad.status == .notFound && bad.text.contains("NOPE"))
        let restarted = ops.request(
            .post, "/ui/workflow/\(token)/restart", form: [("csrf", csrf), ("step", "BOM_CONSUMPTION")])
        #expect(restarted.status.code == 303)
        #expect(try api.store.workflow(Token(token)!)?.isProcessing == true)
        // An outside redirect target is ignored.
        let pause = ops.request(
            .post, "/ui/queue/BOM_CONSUMPTION", form: [("csrf", csrf), ("paused", "true"), ("back", "//evil.example/")])
        #expect(pause.headers["Location"] == "/ui?notice=paused")
        #expect(try api.store.queues().first { $0.step.rawValue == "BOM_CONSUMPTION" }?.paused == true)
        #expect(ops.request(.get, "/ui").text.contains("Resume"))
        #expect(
            ops.request(.post, "/ui/queue/BOM_CONSUMPTION", form: [("csrf", csrf), ("paused", "false")]).status.code
                == 303)
        #expect(try api.store.queues().first { $0.step.rawValue == "BOM_CONSUMPTION" }?.paused == false)
    }

    @Test func anAdminReleasesALeaseAndRedeliversANotification() throws {
        let api = try ServiceFixture()
        let hook = Token("7e57a0b1-0000-4000-8000-0000000000aa")!
        try api.store.perform(
            .createWebhook(
                Webhook(
                    id: hook, url: try WebhookURL.parse("http://127.0.0.1:9/"), groups: [.stepFailed],
                    createdAt: Timestamp(milliseconds: 0))))
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","steps":[{"step":"SCAN"},{"step":"REPORT"}]}"#)
                .status == .created)
        let claim = api.call(
            .post, "/api/v1/workflow/claim", #"{"steps":["SCAN"],"worker":"stuck","leaseSeconds":600}"#)
        #expect(claim.text.contains("SCAN"))
        #expect(
            api.call(.patch, "/api/v1/workflow/token/\(token)/step/REPORT", #"{"status":"FAILED","failureReason":"x"}"#)
                .status == .ok)
        let taken = try api.store.claimDeliveries(holder: "t", max: 1, leaseMilliseconds: 10_000)
        _ = try api.store.finishDeliveries(
            [
                DeliveryReport(
                    sequence: taken[0].delivery.sequence, holder: "t", outcome: .failed("HTTP 500", retryAfter: nil))
            ],
            policy: RetryPolicy(maxAttempts: 1))

        // Without keys the CSRF cookie is the session: the sign-in page sets it and goes on.
        let browser = Browser(api)
        let start = browser.request(.get, "/ui/signin")
        #expect(start.status.code == 303 && browser.cookies["bomflow_csrf"] != nil)
        let page = browser.request(.get, "/ui/workflow/\(token)")
        let csrf = try #require(browser.csrf(in: page))
        #expect(
            page.text.contains("Release lease") && page.text.contains("Redeliver")
                && page.text.contains("NOTIFICATION_DEAD"))
        let released = browser.request(.post, "/ui/workflow/\(token)/step/SCAN/release", form: [("csrf", csrf)])
        #expect(released.status.code == 303)
        let workflow = try #require(try api.store.workflow(Token(token)!))
        #expect(workflow.step(StepName("SCAN")!)?.claim == nil && workflow.readySteps.contains(StepName("SCAN")!))
        let history = try #require(try api.store.history(Token(token)!, after: 0, limit: 100)).events
        #expect(history.contains { $0.kind == .leaseReleased && $0.step == StepName("SCAN") })
        let redelivered = browser.request(
            .post, "/ui/delivery/\(taken[0].delivery.sequence)/redeliver",
            form: [("csrf", csrf), ("back", "/ui/workflow/\(token)")])
        #expect(redelivered.headers["Location"] == "/ui/workflow/\(token)?notice=redelivered")
        #expect(try api.store.deliveries(DeliveryQuery(state: .pending)).deliveries.count == 1)
        // Without the cookie's token: refused.
        #expect(browser.request(.post, "/ui/workflow/\(token)/cancel", form: [("csrf", "nope")]).status == .forbidden)
    }

    @Test func theListFiltersAndPages() throws {
        let api = try ServiceFixture()
        let project = "11111111-2222-4333-8444-555555555555"
        for number in 0..<60 {
            let body =
                number % 2 == 0
                ? #"{"token":"00000000-0000-4000-8000-0000000000\#(String(format: "%02d", number))","template":"BOM_UPLOAD","labels":{"team":"a"}}"#
                : #"{"token":"00000000-0000-4000-8000-0000000000\#(String(format: "%02d", number))","steps":[{"step":"SCAN"}],"labels":{"project":"\#(project)"}}"#
            #expect(api.call(.post, "/api/v1/workflow", body).status == .created)
        }
        let browser = Browser(api)
        _ = browser.request(.get, "/ui/signin")
        func rows(_ query: String) -> Int {
            browser.request(.get, "/ui/workflows" + query).text.components(
                separatedBy: #"<tr><td><a href="/ui/workflow/"#
            ).count - 1
        }
        #expect(rows("?template=BOM_UPLOAD") == 30)
        #expect(rows("?label=team:a") == 30)
        #expect(rows("?project=\(project)") == 30)
        #expect(rows("?state=done") == 0)
        #expect(rows("?createdAfter=2999-01-01") == 0)
        #expect(rows("?createdAfter=2000-01-01T00:00") == 50, "a page holds 50")
        let first = browser.request(.get, "/ui/workflows?state=processing").text
        #expect(first.contains(#"id="next""#), "a second page")
        for bad in ["?state=maybe", "?label=nocolon", "?project=nope", "?createdAfter=yesterday"] {
            let page = browser.request(.get, "/ui/workflows" + bad)
            #expect(page.status == .ok && page.text.contains(#"class="error""#), "\(bad)")
        }
        #expect(browser.request(.get, "/ui/workflow/00000000-0000-4000-8000-999999999999").status == .notFound)
        #expect(browser.request(.get, "/ui/workflow/not-a-token").status == .badRequest)
        let overview = browser.request(.get, "/ui").text
        #expect(overview.contains(#"<svg id="throughput""#) && overview.contains(#"id="queues""#))
        #expect(
            browser.request(.get, "/ui/assets/app.js").headers["Content-Type"]?.hasPrefix("text/javascript") == true)
    }
}
