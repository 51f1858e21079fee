import Foundation
import TestSupport
import Testing

/// Dependency-Track's upload flow against the real binary over loopback: the built-in
/// simulation, a real `bomflow worker` serialising two uploads of one project, and a 60 MB upload.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct UploadEndToEndTests {
    static let bom = #"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}"#

    func serve(_ data: String, _ extra: [String] = []) throws -> (ChildProcess, Int) {
        let child = try ChildProcess(
            "bomflow",
            [
                "serve", "--data-dir", data, "--port", "0", "--insecure-no-auth", "--sync", "none", "--log-level",
                "warning",
            ]
                + extra, quiet: true)
        let deadline = Date().addingTimeInterval(20)
        while child.outputLines.isEmpty && Date() < deadline && child.process.isRunning {
            Thread.sleep(forTimeInterval: 0.01)
        }
        return (child, try #require(child.outputLines.first.flatMap { Int($0) }))
    }

    func call(_ port: Int, _ method: String, _ path: String, _ body: [UInt8] = [], type: String = "application/json")
        -> TCPClient.Response?
    {
        guard let client = try? TCPClient(port: port) else { return nil }
        let head =
            "\(method) \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\n\r\n"
        guard client.send(Array(head.utf8) + body) else { return nil }
        return client.readResponse(timeout: 20)
    }

    func json(_ response: TCPClient.Response?) -> Any? {
        response.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body)) }
    }

    func upload(_ port: Int, project: String, bom: String = Self.bom) -> String? {
        let body = try! JSONSerialization.data(withJSONObject: [
            "bom": Data(bom.utf8).base64EncodedString(), "projectName": project, "projectVersion": "1",
            "autoCreate": true,
        ])
        return (json(call(port, "PUT", "/api/v1/bom", Array(body))) as? [String: String])?["token"]
    }

    func status(_ port: Int, _ token: String) -> String? {
        (json(call(port, "GET", "/api/v1/event/token/\(token)")) as? [String: Any])?["status"] as? String
    }

    func waitUntil(seconds: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition()
    }

    /// `serve --simulate default`: an upload goes PENDING → RUNNING → COMPLETED with no worker,
    /// each status seen in that order only, and the steps were claimed by worker `simulator`.
    @Test func theDefaultSimulationCompletesAnUpload() throws {
        let directory = try TemporaryDirectory("simulate")
        defer { directory.remove() }
        let (server, port) = try serve(directory.appending("data"), ["--simulate", "default", "--simulate-seed", "1"])
        defer { server.kill() }
        let token = try #require(upload(port, project: "acme"))
        var seen: [String] = []
        let done = waitUntil {
            guard let current = status(port, token) else { return false }
            if seen.last != current { seen.append(current) }
            return current == "COMPLETED" || current == "FAILED"
        }
        #expect(done)
        #expect(seen.last == "COMPLETED")
        #expect(["PENDING", "RUNNING", "COMPLETED"].filter(seen.contains) == seen, "in order, never back: \(seen)")
        #expect(seen.contains("RUNNING"))
        let workflow = try #require(json(call(port, "GET", "/api/v1/workflow/token/\(token)")) as? [String: Any])
        let steps = try #require(workflow["steps"] as? [[String: Any]])
        #expect(steps.count == 5)
        #expect(steps.allSatisfy { $0["attempts"] as? Int == 1 && $0["status"] as? String == "COMPLETED" })
        let metrics = String(decoding: call(port, "GET", "/metrics")?.body ?? [], as: UTF8.self)
        #expect(metrics.contains("bomflow_bom_bytes \(Self.bom.utf8.count)"))
    }

    /// A profile with failures and a fixed seed decides the same outcomes in two servers.
    @Test func aSeededProfileIsRepeatable() throws {
        var runs: [[String]] = []
        let profile = FileManager.default.currentDirectoryPath + "/fixtures/simulations/flaky.json"
        for run in 0..<2 {
            let directory = try TemporaryDirectory("simulate-seed-\(run)")
            defer { directory.remove() }
            let (server, port) = try serve(
                directory.appending("data"), ["--simulate", profile, "--simulate-seed", "42"])
            defer { server.kill() }
            var outcomes: [String] = []
            for index in 0..<12 {
                let token = try #require(upload(port, project: "p\(index)"))
                #expect(waitUntil { ["COMPLETED", "FAILED"].contains(status(port, token) ?? "") })
                let states = json(call(port, "GET", "/api/v1/workflow/token/\(token)/status")) as? [[String: Any]] ?? []
                outcomes.append(states.map { "\($0["step"] ?? ""):\($0["status"] ?? "")" }.joined(separator: ","))
            }
            runs.append(outcomes)
        }
        #expect(runs[0] == runs[1])
        #expect(runs[0].contains { $0.contains("VULN_ANALYSIS:FAILED") }, "the profile's failures happen")
        #expect(runs[0].contains { $0.contains("METRICS_UPDATE:COMPLETED") })
    }

    @Test func aBadProfileIsRefusedAtStart() throws {
        let directory = try TemporaryDirectory("simulate-bad")
        defer { directory.remove() }
        let profile = directory.appending("bad.json")
        try #"{"steps":{"VULN_ANALYSIS":{"failureProbability":1.5}}}"#.write(
            toFile: profile, atomically: true, encoding: .utf8)
        let child = try ChildProcess(
            "bomflow", ["serve", "--data-dir", directory.appending("data"), "--port", "0", "--simulate", profile],
            quiet: true)
        #expect(child.wait() == 64)
    }

    /// Two overlapping uploads to one project with a real `bomflow worker`: the second's
    /// BOM_CONSUMPTION starts only after the first workflow finished, and the worker fetched each
    /// upload's exact BOM.
    @Test func uploadsToOneProjectRunInOrder() throws {
        let directory = try TemporaryDirectory("overlap")
        defer { directory.remove() }
        let (server, port) = try serve(directory.appending("data"))
        defer { server.kill() }
        let fetch = """
            python3 -c 'import os, urllib.request; open("\(directory.path)/" + os.environ["BOMFLOW_TOKEN"], "wb").write(urllib.request.urlopen(os.environ["BOMFLOW_URL"] + "/api/v1/workflow/token/" + os.environ["BOMFLOW_TOKEN"] + "/bom").read())' && sleep 0.3
            """
        func worker(_ steps: [String], _ command: String) throws -> ChildProcess {
            try ChildProcess(
                "bomflow",
                [
                    "worker", "--url", "http://127.0.0.1:\(port)", "--wait", "1s", "--exec", command, "--log-level",
                    "warning",
                ]
                    + steps.flatMap { ["--step", $0] }, quiet: true)
        }
        let consumer = try worker(["BOM_CONSUMPTION"], fetch)
        defer { consumer.kill() }
        let rest = try worker(["BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE"], "sleep 0.1")
        defer { rest.kill() }
        let second = Self.bom.replacing("[]", with: #"[{"type":"library","name":"x"}]"#)
        let first = try #require(upload(port, project: "acme"))
        let next = try #require(upload(port, project: "acme", bom: second))
        #expect(status(port, next) == "PENDING")
        #expect(waitUntil(seconds: 60) { status(port, first) == "COMPLETED" && status(port, next) == "COMPLETED" })
        func steps(_ token: String) -> [String: [String: Any]] {
            let list = json(call(port, "GET", "/api/v1/workflow/token/\(token)/status")) as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: list.map { ($0["step"] as? String ?? "", $0) })
        }
        let firstDone = try #require(steps(first).values.compactMap { $0["updatedAt"] as? Int64 }.max())
        let secondStart = try #require(steps(next)["BOM_CONSUMPTION"]?["startedAt"] as? Int64)
        #expect(secondStart >= firstDone, "the second upload's consumption started after the first finished")
        #expect(try String(contentsOfFile: directory.appending(first), encoding: .utf8) == Self.bom)
        #expect(try String(contentsOfFile: directory.appending(next), encoding: .utf8) == second)
    }

    /// A 60 MB upload over the default 50 MiB limit: 413 from the head alone, nothing stored, and
    /// the server goes on serving.
    @Test func aSixtyMegabyteUploadIsRefused() throws {
        let directory = try TemporaryDirectory("big-upload")
        defer { directory.remove() }
        let (server, port) = try serve(directory.appending("data"))
        defer { server.kill() }
        let boundary = "b0undary"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"projectName\"\r\n\r\nbig\r\n".utf8)
        body += Array(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"bom\"; filename=\"bom.json\"\r\n\r\n".utf8)
        body += Array(#"{"bomFormat":"CycloneDX","pad":""#.utf8) + [UInt8](repeating: 0x61, count: 60_000_000)
        body += Array("\"}\r\n--\(boundary)--\r\n".utf8)
        // The body is sent from another thread while this one reads: the server answers from the
        // head and closes, so the send fails part way, as it does for a real client.
        let client = try TCPClient(port: port)
        let head =
            "POST /api/v1/bom HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=\(boundary)\r\n"
            + "Content-Length: \(body.count)\r\n\r\n"
        #expect(client.send(head))
        let sending = Upload(client: client, body: body)
        let sender = Thread { sending.send() }
        sender.start()
        let response = client.readResponse(timeout: 20)
        #expect(response?.status == 413)
        let detail = String(decoding: response?.body ?? [], as: UTF8.self)
        #expect(detail.contains("too large"), "\(detail)")
        let metrics = String(decoding: call(port, "GET", "/metrics")?.body ?? [], as: UTF8.self)
        #expect(metrics.contains("bomflow_bom_bytes 0"))
        #expect(metrics.contains("bomflow_projects 0"))
        #expect(upload(port, project: "small") != nil, "the server still serves")
    }
}

/// A body sent from another thread (the test reads the answer meanwhile).
private final class Upload: @unchecked Sendable {
    let client: TCPClient
    let body: [UInt8]
    init(client: TCPClient, body: [UInt8]) {
        self.client = client
        self.body = body
    }
    func send() { client.send(body) }
}
