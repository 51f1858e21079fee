import Codecs
import Foundation
import TestSupport
import Testing

/// Webhook delivery by the real `bomflow serve` to a real receiver over loopback
/// (scripts/webhook-receiver: http, and https with a CA made here), on the test run's backend.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct WebhookDeliveryTests {
    static let secret = "a-webhook-secret-of-some-length"

    /// A receiver process; its log is one JSON object per request.
    final class Receiver {
        let child: ChildProcess
        let port: Int
        let log: String

        init(_ directory: TemporaryDirectory, name: String, _ arguments: [String] = []) throws {
            log = directory.appending("\(name).jsonl")
            let script = RepositoryPaths.root.appendingPathComponent("scripts/webhook-receiver").path
            let child = try ChildProcess(
                executable: URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, "--log", log] + arguments)
            self.child = child
            _ = waitFor(10) { !child.outputLines.isEmpty }
            guard let port = child.outputLines.first.flatMap({ Int($0) }) else {
                child.kill()
                throw ReceiverFailure()
            }
            self.port = port
        }

        /// Every request so far.
        var records: [[String: Any]] {
            guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }

        /// The notifications accepted (answered 200), as (token or "", group, id).
        var accepted: [(token: String, group: String, id: String)] {
            records.filter { $0["outcome"] as? String == "ok" }.compactMap { record in
                guard let body = record["body"] as? String,
                    let payload = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                    let notification = payload["notification"] as? [String: Any],
                    let group = notification["group"] as? String, let id = notification["id"] as? String
                else { return nil }
                let subject = notification["subject"] as? [String: Any]
                let token =
                    (subject?["workflow"] as? [String: Any])?["token"] as? String ?? subject?["token"] as? String ?? ""
                return (token, group, id)
            }
        }

        func stop() { child.kill() }
    }

    struct ReceiverFailure: Error {}

    struct Server {
        let child: ChildProcess
        let port: Int

        init(_ data: String, _ extra: [String]) throws {
            let child = try ChildProcess(
                "bomflow",
                ["serve", "--data-dir", data, "--port", "0", "--insecure-no-auth", "--sync", "none", "--loops", "1"]
                    + extra, quiet: true)
            self.child = child
            _ = waitFor(20) { !child.outputLines.isEmpty || !child.process.isRunning }
            port = try #require(child.outputLines.first.flatMap { Int($0) })
        }

        func call(_ method: String, _ path: String, _ body: String = "") throws -> TCPClient.Response? {
            let client = try TCPClient(port: port)
            client.send(
                "\(method) \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                    + body)
            return client.readResponse()
        }

        func json(_ method: String, _ path: String, _ body: String = "") throws -> Any? {
            guard let response = try call(method, path, body) else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(response.text.utf8))
        }

        func deliveries(_ query: String) throws -> [[String: Any]] {
            (try json("GET", "/api/v1/notification/delivery" + query) as? [String: Any])?["deliveries"]
                as? [[String: Any]] ?? []
        }

        func addWebhook(_ body: String) throws -> String {
            let created = try call("POST", "/api/v1/notification/webhook", body)
            #expect(created?.status == 201, "\(created?.text ?? "no answer")")
            let object = try JSONSerialization.jsonObject(with: Data((created?.text ?? "{}").utf8)) as? [String: Any]
            return try #require(object?["uuid"] as? String)
        }

        /// Creates a workflow of steps A and B (B under A) and completes it, or fails B.
        func run(_ token: String, fail: Bool) throws {
            #expect(
                try call(
                    "POST", "/api/v1/workflow",
                    #"{"token":"\#(token)","steps":[{"step":"A"},{"step":"B","parent":"A"}]}"#)?
                    .status == 201)
            #expect(
                try call("PATCH", "/api/v1/workflow/token/\(token)/step/A", #"{"status":"COMPLETED"}"#)?.status == 200)
            let last = fail ? #"{"status":"FAILED","failureReason":"B broke"}"# : #"{"status":"COMPLETED"}"#
            #expect(try call("PATCH", "/api/v1/workflow/token/\(token)/step/B", last)?.status == 200)
        }

        func stop() {
            kill(child.process.processIdentifier, SIGTERM)
            _ = child.wait()
        }
    }

    static func token(_ index: Int) -> String { String(format: "%08x-1d2e-4f3a-9b4c-5d6e7f8a9b0c", index) }

    /// A CA and a server certificate for localhost and 127.0.0.1, made with openssl.
    static func makeCertificates(in directory: TemporaryDirectory) throws -> (ca: String, cert: String, key: String) {
        let ca = directory.appending("ca.pem")
        let caKey = directory.appending("ca.key")
        let cert = directory.appending("server.pem")
        let key = directory.appending("server.key")
        let csr = directory.appending("server.csr")
        let ext = directory.appending("ext.cnf")
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: ext, atomically: true, encoding: .utf8)
        for arguments in [
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2", "-subj",
                "/CN=bomflow test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
            [
                "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "2",
                "-extfile", ext,
            ],
        ] {
            let process = SpawnedProcess()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl"] + arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "openssl \(arguments[0])")
        }
        return (ca, cert, key)
    }

    /// A redirect, 500, 429 with Retry-After, a timeout and a dropped connection, then 200: each notification
    /// arrives, retries carry the same id and body, each workflow's notifications arrive in order,
    /// signatures verify; and the same over https with a private CA.
    @Test func everyNotificationArrivesThroughFailuresInOrderAndSigned() throws {
        let directory = try TemporaryDirectory("webhooks")
        defer { directory.remove() }
        let certificates = try Self.makeCertificates(in: directory)
        let plain = try Receiver(directory, name: "plain", ["--fail", "302,500,429,timeout,drop", "--hang", "3"])
        defer { plain.stop() }
        let secure = try Receiver(
            directory, name: "secure",
            ["--fail", "500", "--tls-cert", certificates.cert, "--tls-key", certificates.key])
        defer { secure.stop() }
        let server = try Server(
            directory.appending("data"),
            [
                "--webhook-retry-base", "100ms", "--webhook-timeout", "1s", "--webhook-ca-file", certificates.ca,
            ])
        defer { server.stop() }
        _ = try server.addWebhook(
            #"{"url":"http://127.0.0.1:\#(plain.port)/hook?x=1","groups":["WORKFLOW_COMPLETED","WORKFLOW_FAILED","STEP_FAILED"],"secret":"\#(Self.secret)","headers":{"Authorization":"Bearer receiver-token"}}"#
        )
        _ = try server.addWebhook(
            #"{"url":"https://localhost:\#(secure.port)/","groups":["WORKFLOW_COMPLETED","WORKFLOW_FAILED"]}"#)
        var expectedPlain: Set<String> = []
        var expectedSecure: Set<String> = []
        for index in 0..<6 {
            let token = Self.token(index)
            let fail = index % 2 == 1
            try server.run(token, fail: fail)
            if fail {
                expectedPlain.formUnion(["\(token) STEP_FAILED", "\(token) WORKFLOW_FAILED"])
                expectedSecure.insert("\(token) WORKFLOW_FAILED")
            } else {
                expectedPlain.insert("\(token) WORKFLOW_COMPLETED")
                expectedSecure.insert("\(token) WORKFLOW_COMPLETED")
            }
        }
        #expect(waitFor(90) { (try? server.deliveries("?state=PENDING").isEmpty) == true }, "everything is delivered")
        #expect(try server.deliveries("?state=DEAD").isEmpty)
        #expect(Set(plain.accepted.map { "\($0.token) \($0.group)" }) == expectedPlain)
        #expect(!plain.records.contains { $0["path"] as? String == "/redirected" }, "redirects are not followed")
        #expect(Set(secure.accepted.map { "\($0.token) \($0.group)" }) == expectedSecure)

        // Retries: the same id and body each time, the attempt counted, the signature valid.
        var byID: [String: [[String: Any]]] = [:]
        for record in plain.records { byID[record["id"] as? String ?? "", default: []].append(record) }
        #expect(byID.count == expectedPlain.count)
        for (id, attempts) in byID {
            #expect(
                attempts.map { $0["outcome"] as? String ?? "" } == ["302", "500", "429", "timeout", "drop", "ok"],
                "notification \(id)")
            #expect(Set(attempts.compactMap { $0["body"] as? String }).count == 1, "one body for all attempts of \(id)")
            #expect(
                attempts.compactMap { ($0["headers"] as? [String: String])?["X-Bomflow-Attempt"] } == [
                    "1", "2", "3", "4", "5", "6",
                ])
            let retryAfter = try #require(attempts[2]["t"] as? Double)
            let next = try #require(attempts[3]["t"] as? Double)
            #expect(next - retryAfter >= 0.9, "Retry-After: 1 is honoured")
            for attempt in attempts {
                let headers = try #require(attempt["headers"] as? [String: String])
                #expect(headers["Authorization"] == "Bearer receiver-token")
                #expect(attempt["path"] as? String == "/hook?x=1")
                let signature = try #require(headers["X-Bomflow-Signature"])
                let parts = signature.split(separator: ",")
                let time = String(parts[0].dropFirst(2))
                let body = Array((attempt["body"] as? String ?? "").utf8)
                let expected = Hex.encode(
                    HMAC.sha256(key: Array(Self.secret.utf8), message: Array("\(time).".utf8) + body))
                #expect(parts[1] == "v1=" + expected, "the signature verifies")
                #expect(abs((Double(time) ?? 0) - (attempt["t"] as? Double ?? 0)) < 5, "signed at sending time")
            }
        }
        // Order per workflow: a failed workflow's WORKFLOW_FAILED is first tried only after its
        // STEP_FAILED was accepted.
        for index in stride(from: 1, to: 6, by: 2) {
            let token = Self.token(index)
            let mine = plain.records.filter { ($0["body"] as? String ?? "").contains(token) }
            let stepAccepted = mine.first {
                ($0["body"] as? String ?? "").contains("STEP_FAILED") && $0["outcome"] as? String == "ok"
            }
            let endFirstTried = mine.first { ($0["body"] as? String ?? "").contains(#""group":"WORKFLOW_FAILED""#) }
            let accepted = try #require(stepAccepted?["t"] as? Double)
            let tried = try #require(endFirstTried?["t"] as? Double)
            #expect(accepted <= tried, "\(token): STEP_FAILED before WORKFLOW_FAILED")
        }
        let metrics = try server.call("GET", "/metrics")?.text ?? ""
        #expect(
            metrics.contains(
                #"bomflow_webhook_deliveries_total{outcome="delivered"} \#(expectedPlain.count + expectedSecure.count)"#
            ))
        #expect(metrics.contains(#"bomflow_webhook_outbox{state="pending"} 0"#))
    }

    /// What is sent is what docs/notification.schema.json says, for every group (Dependency-Track's
    /// with the BOM included) and for a test notification.
    @Test func sentPayloadsMatchTheSchema() throws {
        let directory = try TemporaryDirectory("webhooks-schema")
        defer { directory.remove() }
        let receiver = try Receiver(directory, name: "schema")
        defer { receiver.stop() }
        let server = try Server(directory.appending("data"), [])
        defer { server.stop() }
        let groups = [
            "BOM_CONSUMED", "BOM_PROCESSED", "BOM_PROCESSING_FAILED", "WORKFLOW_COMPLETED", "WORKFLOW_FAILED",
            "STEP_FAILED",
        ]
        let webhook = try server.addWebhook(
            #"{"url":"http://127.0.0.1:\#(receiver.port)/","groups":[\#(groups.map { "\"\($0)\"" }.joined(separator: ","))],"includeBom":true}"#
        )
        let bom = Base64.encode(Array(#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}"#.utf8))
        var tokens: [String] = []
        for _ in 0..<2 {
            let upload = try server.json(
                "PUT", "/api/v1/bom", #"{"projectName":"shop","projectVersion":"1","autoCreate":true,"bom":"\#(bom)"}"#)
            tokens.append(try #require((upload as? [String: Any])?["token"] as? String))
        }
        for step in ["BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE"] {
            #expect(
                try server.call(
                    "PATCH", "/api/v1/workflow/token/\(tokens[0])/step/\(step)", #"{"status":"COMPLETED"}"#)?.status
                    == 200)
        }
        #expect(
            try server.call(
                "PATCH", "/api/v1/workflow/token/\(tokens[1])/step/BOM_CONSUMPTION",
                #"{"status":"FAILED","failureReason":"not a BOM"}"#)?.status == 200)
        #expect(try server.call("POST", "/api/v1/notification/webhook/\(webhook)/test")?.status == 202)
        #expect(waitFor(20) { receiver.accepted.count == 7 }, "\(receiver.accepted.map(\.group))")
        #expect(Set(receiver.accepted.map(\.group)) == Set(groups))
        let bodies = directory.appending("bodies.jsonl")
        try receiver.records.compactMap { $0["body"] as? String }.joined(separator: "\n")
            .write(toFile: bodies, atomically: true, encoding: .utf8)
        let validated = try ProgramRun.run(
            RepositoryPaths.root.appendingPathComponent("scripts/validate-json"),
            [RepositoryPaths.root.appendingPathComponent("docs/notification.schema.json").path, bodies],
            standardError: .inherited)
        #expect(validated.status == 0, "\(validated.output)")
        let processed = try #require(
            receiver.records.compactMap { $0["body"] as? String }.first { $0.contains(#""group":"BOM_PROCESSED""#) })
        #expect(processed.contains(#""content":"\#(bom)""#), "includeBom sends the BOM as uploaded, in base64")
    }

    /// `bomflow webhooks …` on the store directly: add (the secret from a file), list, update,
    /// test, deliveries, redeliver's refusal while pending, delete; bad input exits 64 or 1.
    @Test func theCommandLineManagesWebhooks() throws {
        let directory = try TemporaryDirectory("webhooks-cli")
        defer { directory.remove() }
        let data = directory.appending("data")
        func bomflow(_ arguments: [String]) throws -> (status: Int32, lines: [String]) {
            let child = try ChildProcess("bomflow", ["webhooks"] + arguments + ["--data-dir", data], quiet: true)
            let status = child.wait()
            return (status, child.outputLines)
        }
        let secret = directory.appending("secret")
        try "a-secret-from-a-file\n".write(toFile: secret, atomically: true, encoding: .utf8)
        let added = try bomflow([
            "add", "--url", "https://hooks.example.com/bomflow", "--group", "BOM_PROCESSED", "--group",
            "WORKFLOW_FAILED",
            "--secret-file", secret, "--header", "Authorization: Bearer x", "--label", "team:blue",
        ])
        #expect(added.status == 0)
        let webhook = try #require(
            (try? JSONSerialization.jsonObject(with: Data((added.lines.first ?? "").utf8))) as? [String: Any])
        let id = try #require(webhook["uuid"] as? String)
        #expect(
            webhook["signed"] as? Bool == true
                && (webhook["headers"] as? [String: String])?["Authorization"] == "Bearer x")
        #expect(!(added.lines.first ?? "").contains("a-secret-from-a-file"))
        #expect(try bomflow(["list"]).lines.count == 1)
        let updated = try bomflow(["update", id, "--enabled", "false", "--remove-secret"])
        #expect(updated.status == 0 && updated.lines.first?.contains(#""enabled":false"#) == true)
        #expect(updated.lines.first?.contains(#""signed":false"#) == true)
        let test = try bomflow(["test", id])
        #expect(test.status == 0 && test.lines.first?.contains(#""state":"PENDING""#) == true)
        let sequence = try #require(
            ((try? JSONSerialization.jsonObject(with: Data((test.lines.first ?? "").utf8))) as? [String: Any])?[
                "sequence"]
                as? Int)
        #expect(
            try bomflow(["deliveries", "--state", "PENDING"]).lines.first?.contains(#""sequence":\#(sequence)"#) == true
        )
        #expect(try bomflow(["redeliver", String(sequence)]).status == 1, "still pending")
        #expect(try bomflow(["add", "--url", "ftp://x/", "--group", "BOM_PROCESSED"]).status == 64)
        #expect(try bomflow(["add", "--url", "http://x/", "--group", "NOPE"]).status == 64)
        #expect(try bomflow(["delete", "99999999-9999-4999-8999-999999999999"]).status == 1)
        #expect(try bomflow(["delete", id]).status == 0)
        #expect(try bomflow(["list"]).lines.isEmpty)
        #expect(try bomflow(["deliveries", "--state", "PENDING"]).lines.first == #"{"deliveries":[]}"#)
    }

    /// The only delivering process is killed with SIGKILL again and again while workflows finish
    /// through another process of the same store: after each restart the rest is delivered, and
    /// nothing is lost.
    @Test func killingTheDeliveringProcessLosesNothing() throws {
        let directory = try TemporaryDirectory("webhooks-kill")
        defer { directory.remove() }
        let receiver = try Receiver(directory, name: "kill", ["--delay", "0.2"])
        defer { receiver.stop() }
        let data = directory.appending("data")
        let writer = try Server(data, ["--no-webhook-delivery"])
        defer { writer.stop() }
        _ = try writer.addWebhook(#"{"url":"http://127.0.0.1:\#(receiver.port)/","groups":["WORKFLOW_COMPLETED"]}"#)
        let deliveryArguments = [
            "--webhook-timeout", "1s", "--webhook-retry-base", "100ms", "--webhook-concurrency", "2",
        ]
        var deliverer = try Server(data, deliveryArguments)
        var tokens: [String] = []
        var pendingAtKills = 0
        for round in 0..<6 {
            for index in 0..<15 {
                let token = Self.token(round * 100 + index)
                tokens.append(token)
                try writer.run(token, fail: false)
            }
            Thread.sleep(forTimeInterval: 0.1 + 0.05 * Double(round))
            pendingAtKills += try writer.deliveries("?state=PENDING&limit=1000").count
            deliverer.child.kill()  // SIGKILL, mid-delivery
            deliverer = try Server(data, deliveryArguments)
        }
        defer { deliverer.stop() }
        #expect(pendingAtKills > 0, "the kills came while deliveries were pending")
        // A lease of a killed process ends after the attempt's timeout and its margin (6 s).
        #expect(waitFor(60) { (try? writer.deliveries("?state=PENDING").isEmpty) == true }, "the rest is delivered")
        let arrived = receiver.accepted
        #expect(Set(arrived.map(\.token)) == Set(tokens), "every workflow's notification arrived")
        var idByToken: [String: String] = [:]
        for delivery in arrived {
            if let id = idByToken[delivery.token] { #expect(id == delivery.id, "a redelivery carries the same id") }
            idByToken[delivery.token] = delivery.id
        }
        #expect(try writer.deliveries("?state=DELIVERED&limit=1000").count == tokens.count)
    }

    /// A receiver down for longer than the retry budget: the deliveries go dead with the last
    /// error, are listed, and are delivered again on request; a webhook back to bomflow's own
    /// port is refused.
    @Test func deadDeliveriesAreListedAndRedelivered() throws {
        let directory = try TemporaryDirectory("webhooks-dead")
        defer { directory.remove() }
        let down = try Receiver(directory, name: "down", ["--down"])
        let server = try Server(
            directory.appending("data"), ["--webhook-max-attempts", "3", "--webhook-retry-base", "50ms"])
        defer { server.stop() }
        let loop = try server.call(
            "POST", "/api/v1/notification/webhook",
            #"{"url":"http://localhost:\#(server.port)/api/v1/workflow","groups":["WORKFLOW_FAILED"]}"#)
        #expect(loop?.status == 400 && loop?.text.contains("this bomflow server itself") == true, "\(loop?.text ?? "")")
        let webhook = try server.addWebhook(
            #"{"url":"http://127.0.0.1:\#(down.port)/","groups":["WORKFLOW_COMPLETED"]}"#)
        try server.run(Self.token(1), fail: false)
        try server.run(Self.token(2), fail: false)
        #expect(waitFor(30) { (try? server.deliveries("?state=DEAD").count) == 2 }, "both go dead")
        let dead = try server.deliveries("?state=DEAD")
        #expect(
            dead.allSatisfy { $0["attempts"] as? Int == 3 && ($0["lastError"] as? String ?? "").hasPrefix("HTTP 503") })
        #expect(down.records.count == 6, "three attempts each, then no more")
        let metrics = try server.call("GET", "/metrics")?.text ?? ""
        #expect(metrics.contains(#"bomflow_webhook_deliveries_total{outcome="dead"} 2"#))
        #expect(metrics.contains(#"bomflow_webhook_outbox{state="dead"} 2"#))
        down.stop()

        let up = try Receiver(directory, name: "up")
        defer { up.stop() }
        #expect(
            try server.call(
                "PATCH", "/api/v1/notification/webhook/\(webhook)", #"{"url":"http://127.0.0.1:\#(up.port)/"}"#)?
                .status == 200)
        for delivery in dead {
            let sequence = try #require(delivery["sequence"] as? Int)
            #expect(try server.call("POST", "/api/v1/notification/delivery/\(sequence)/redeliver")?.status == 202)
        }
        #expect(waitFor(20) { up.accepted.count == 2 })
        #expect(Set(up.accepted.map(\.id)) == Set(dead.compactMap { $0["id"] as? String }), "the same notifications")
        #expect(try server.deliveries("?state=DEAD").isEmpty)
    }
}

/// Polls `condition` every 50 ms for up to `seconds`.
func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return condition()
}
