import Foundation
import TestSupport
import Testing

/// `bomflow serve` as a real process over loopback.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ServeEndToEndTests {
    func serve(_ data: String, port: Int = 0) throws -> (ChildProcess, Int) {
        let child = try ChildProcess(
            "bomflow",
            [
                "serve", "--data-dir", data, "--port", String(port), "--insecure-no-auth", "--sync", "none", "--loops",
                "1",
            ], quiet: true)
        let deadline = Date().addingTimeInterval(20)
        while child.outputLines.isEmpty && Date() < deadline && child.process.isRunning {
            Thread.sleep(forTimeInterval: 0.01)
        }
        return (child, try #require(child.outputLines.first.flatMap { Int($0) }))
    }

    func request(_ port: Int, _ method: String, _ path: String, _ body: String = "") throws -> TCPClient.Response? {
        let client = try TCPClient(port: port)
        let head =
            "\(method) \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        client.send(head + body)
        return client.readResponse()
    }

    @Test func dependencyTrackClientFlowOverHTTP() throws {
        let directory = try TemporaryDirectory("serve")
        defer { directory.remove() }
        let (server, port) = try serve(directory.appending("data"))
        defer { server.kill() }
        let token = "4c7b8c9e-7d4b-4a5e-9c1f-0123456789ab"
        #expect(try request(port, "GET", "/api/v1/event/token/\(token)")?.text == #"{"processing":false}"#)
        #expect(
            try request(port, "POST", "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#)?.status
                == 201)
        #expect(
            try request(port, "GET", "/api/v1/bom/token/\(token)")?.text == #"{"processing":true,"status":"PENDING"}"#)
        let failed = try request(
            port, "PATCH", "/api/v1/workflow/token/\(token)/step/BOM_CONSUMPTION",
            #"{"status":"FAILED","failureReason":"bad"}"#)
        #expect(failed?.status == 200)
        #expect(
            try request(port, "GET", "/api/v1/event/token/\(token)")?.text
                == #"{"processing":false,"status":"FAILED"}"#)
        let status = try #require(try request(port, "GET", "/api/v1/workflow/token/\(token)/status"))
        #expect(status.text.contains(#""status":"CANCELLED""#))
        #expect(try request(port, "GET", "/api/v1/event/token/nope")?.status == 400)
        kill(server.process.processIdentifier, SIGTERM)
        #expect(server.wait() == 0)
    }

    /// Two processes on one data directory and one port: a write answered by either is visible
    /// to the next read on both.
    @Test func twoProcessesServeOneConsistentState() throws {
        let directory = try TemporaryDirectory("serve-two")
        defer { directory.remove() }
        let data = directory.appending("data")
        let (first, port) = try serve(data)
        defer { first.kill() }
        let (second, secondPort) = try serve(data, port: port)
        defer { second.kill() }
        #expect(secondPort == port)
        for index in 0..<40 {
            let token = String(format: "%08x-7d4b-4a5e-9c1f-0123456789ab", index)
            #expect(
                try request(port, "POST", "/api/v1/workflow", #"{"token":"\#(token)","template":"PROJECT_CLONE"}"#)?
                    .status == 201)
            #expect(
                try request(port, "GET", "/api/v1/event/token/\(token)")?.text
                    == #"{"processing":true,"status":"PENDING"}"#)
            #expect(
                try request(
                    port, "PATCH", "/api/v1/workflow/token/\(token)/step/PROJECT_CLONE", #"{"status":"COMPLETED"}"#)?
                    .status == 200)
            #expect(
                try request(port, "GET", "/api/v1/event/token/\(token)")?.text
                    == #"{"processing":false,"status":"COMPLETED"}"#)
        }
        kill(first.process.processIdentifier, SIGTERM)
        kill(second.process.processIdentifier, SIGTERM)
        #expect(first.wait() == 0)
        #expect(second.wait() == 0)
    }

    /// A process of another data directory is refused a port that a bomflow already serves (the
    /// kernel would spread the connections over both stores); the same directory by another
    /// path (a symlink) still joins, and the health answers carry the store's tag.
    @Test func anotherStoreIsRefusedTheSharedPort() throws {
        let directory = try TemporaryDirectory("serve-other")
        defer { directory.remove() }
        let data = directory.appending("data")
        let (first, port) = try serve(data)
        defer { first.kill() }
        let token = "6c7b8c9e-7d4b-4a5e-9c1f-0123456789ab"
        #expect(
            try request(port, "POST", "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#)?.status
                == 201)
        let tag = try #require(try request(port, "GET", "/health/live")?.header("bomflow-store"))
        #expect(tag.count == 16)

        // A process that serves instead of refusing never exits: give it 20 s, then stop it.
        let other = try ProgramRun.product(
            "bomflow",
            try TestBackend.adapt([
                "serve", "--data-dir", directory.appending("other"), "--port", String(port), "--insecure-no-auth",
                "--sync", "none", "--loops", "1",
            ]), seconds: 20)
        #expect(!other.timedOut, "a serve of another store joined the port")
        #expect(other.status == 78)
        #expect(
            other.output.contains("already served by a bomflow process of another store (tag \(tag)"),
            "\(other.output)")
        // The first process still answers alone, from its own store.
        for _ in 0..<20 {
            #expect(
                try request(port, "GET", "/api/v1/event/token/\(token)")?.text
                    == #"{"processing":true,"status":"PENDING"}"#)
        }

        let link = directory.appending("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: data)
        if TestBackend.current == .lmdb {
            let (second, secondPort) = try serve(link, port: port)
            defer { second.kill() }
            #expect(secondPort == port, "the same data directory by another path joins the port")
            kill(second.process.processIdentifier, SIGTERM)
            #expect(second.wait() == 0)
        }
        kill(first.process.processIdentifier, SIGTERM)
        #expect(first.wait() == 0)
    }

    /// Without --insecure-no-auth the first start creates an ADMIN key in <data-dir>/admin.key
    /// (mode 0600); requests need a key; `bomflow keys create` adds one while the server runs.
    @Test func apiKeysProtectTheServer() throws {
        let directory = try TemporaryDirectory("serve-keys")
        defer { directory.remove() }
        let data = directory.appending("data")
        let child = try ChildProcess(
            "bomflow", ["serve", "--data-dir", data, "--port", "0", "--sync", "none", "--loops", "1"], quiet: true)
        defer { child.kill() }
        let deadline = Date().addingTimeInterval(20)
        while child.outputLines.isEmpty && Date() < deadline && child.process.isRunning {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let port = try #require(child.outputLines.first.flatMap { Int($0) })
        let keyFile = data + "/admin.key"
        let admin = try #require(try? String(contentsOfFile: keyFile, encoding: .utf8)).trimmingCharacters(
            in: .whitespacesAndNewlines)
        let mode = (try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o600)
        let token = "5c7b8c9e-7d4b-4a5e-9c1f-0123456789ab"
        func call(_ key: String?, _ method: String, _ path: String, _ body: String = "") throws -> TCPClient.Response? {
            let client = try TCPClient(port: port)
            let auth = key.map { "X-Api-Key: \($0)\r\n" } ?? ""
            client.send(
                "\(method) \(path) HTTP/1.1\r\nHost: t\r\n\(auth)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            return client.readResponse()
        }
        #expect(try call(nil, "GET", "/api/v1/event/token/\(token)")?.status == 401)
        #expect(try call(nil, "GET", "/api/version")?.status == 200)
        #expect(
            try call(admin, "POST", "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#)?.status
                == 201)
        // The server writes with --sync none; a writer beside it must use the same (issue 16 §5).
        let created = try ProgramRun.product(
            "bomflow",
            try TestBackend.adapt([
                "keys", "create", "--name", "ci", "--permission", "read", "--data-dir", data, "--sync", "none",
            ]), standardError: .inherited)
        let ciKey = created.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(created.status == 0)
        #expect(
            try call(ciKey, "GET", "/api/v1/event/token/\(token)")?.text == #"{"processing":true,"status":"PENDING"}"#)
        #expect(try call(ciKey, "DELETE", "/api/v1/workflow/token/\(token)")?.status == 403)
        kill(child.process.processIdentifier, SIGTERM)
        #expect(child.wait() == 0)
        #expect(!child.outputLines.joined().contains(admin), "the key is never printed on stdout")
    }

    @Test func insecureModeIsRefusedOffLoopback() throws {
        let directory = try TemporaryDirectory("serve-refused")
        defer { directory.remove() }
        let child = try ChildProcess(
            "bomflow", ["serve", "--data-dir", directory.path, "--host", "0.0.0.0", "--insecure-no-auth"], quiet: true)
        #expect(child.wait() != 0)
    }
}
