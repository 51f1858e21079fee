import Foundation
import TestSupport
import Testing

/// `bomflow serve --insecure-no-auth --sync none` on a data directory (on the test run's backend),
/// and JSON calls to it over a fresh loopback connection each: the process-level suites of
/// orchestration and history share them.
enum LoopbackServer {
    /// Starts the server; returns it and the port it printed.
    static func start(_ data: String, port: Int = 0, extra: [String] = []) throws -> (ChildProcess, Int) {
        let child = try ChildProcess(
            "bomflow",
            [
                "serve", "--data-dir", data, "--port", String(port), "--insecure-no-auth", "--sync", "none",
                "--log-level", "warning",
            ] + extra, quiet: true)
        let deadline = Date().addingTimeInterval(20)
        while child.outputLines.isEmpty && Date() < deadline && child.process.isRunning {
            Thread.sleep(forTimeInterval: 0.01)
        }
        return (child, try #require(child.outputLines.first.flatMap { Int($0) }))
    }

    /// One request; the status and the JSON object answered (empty when the body is none), or
    /// nil when the connection failed.
    static func call(_ port: Int, _ method: String, _ path: String, _ body: String = "", timeout: Double = 10) -> (
        status: Int, json: [String: Any]
    )? {
        guard let client = try? TCPClient(port: port) else { return nil }
        client.send(
            "\(method) \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        )
        guard let response = client.readResponse(timeout: timeout) else { return nil }
        let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        return (response.status, json)
    }
}
