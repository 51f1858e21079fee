import BomflowClient
import Foundation
import HTTP1
import TestSupport
import Testing

/// Issue 16 §2: a process stopped (SIGSTOP) while it holds LMDB's write lock. Before, every
/// other writer of the host hung silently (47 s until SIGCONT), readiness stayed UP, and the
/// read-only commands and a starting server hung too. Now a waiting write is answered 503 after
/// --write-timeout and never applied, readiness names the stall and the PID holding the lock,
/// /metrics counts it, and reads, read-only commands and a new server go on.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct StalledWriterTests {
    func serve(_ data: String) throws -> (ChildProcess, Int) {
        let child = try ChildProcess(
            "bomflow",
            [
                "serve", "--data-dir", data, "--port", "0", "--insecure-no-auth", "--sync", "full", "--write-timeout",
                "2s", "--log-level", "warning",
            ], quiet: true)
        let deadline = Date().addingTimeInterval(20)
        while child.outputLines.isEmpty && Date() < deadline && child.process.isRunning {
            Thread.sleep(forTimeInterval: 0.01)
        }
        return (child, try #require(child.outputLines.first.flatMap { Int($0) }))
    }

    func request(_ port: Int, _ method: String, _ path: String, _ body: String = "", timeout: Double = 30)
        -> HTTPClient.Response?
    {
        try? HTTPClient(host: "127.0.0.1", port: port).request(
            method, path, headers: [("Content-Type", "application/json")], body: Array(body.utf8), timeout: timeout)
    }

    /// The PID recorded in the shared writer slot, 0 when nobody holds the lock.
    func holder(_ data: String) -> Int32 {
        guard let bytes = FileManager.default.contents(atPath: data + "/bomflow.writer"), bytes.count >= 4 else {
            return 0
        }
        return bytes.prefix(4).enumerated().reduce(Int32(0)) { $0 | Int32($1.element) << (8 * $1.offset) }
    }

    func token(_ number: Int) -> String { String(format: "5ea1ed00-0000-4000-8000-%012x", number) }

    /// Runs a bomflow command; nil when it did not finish within `seconds`.
    func command(_ arguments: [String], seconds: Double = 10) throws -> Int32? {
        let process = SpawnedProcess()
        process.executableURL = RepositoryPaths.products.appendingPathComponent("bomflow")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    @Test func aStoppedLockHolderStallsNobodySilently() throws {
        let directory = try TemporaryDirectory("stalled")
        defer { directory.remove() }
        let data = directory.appending("data")
        let (a, portA) = try serve(data)
        defer { a.kill() }
        let (b, portB) = try serve(data)
        defer {
            kill(b.process.processIdentifier, SIGCONT)
            b.kill()
        }
        #expect(
            request(portA, "POST", "/api/v1/workflow", #"{"token":"\#(token(1))","template":"BOM_UPLOAD"}"#)?.status
                == 201)

        // Write load on B, and B stopped while its writer holds the lock.
        final class Flag: @unchecked Sendable {
            let lock = NSLock()
            var stop = false
        }
        let flag = Flag()
        let load = DispatchGroup()
        for worker in 0..<2 {
            DispatchQueue.global().async(group: load) {
                var number = 0
                while !flag.lock.withLock({ flag.stop }) {
                    number += 1
                    _ = request(
                        portB, "POST", "/api/v1/workflow",
                        #"{"token":"\#(token(100_000 * (worker + 1) + number))","template":"BOM_UPLOAD"}"#)
                }
            }
        }
        let pidB = b.process.processIdentifier
        var stopped = false
        for _ in 0..<2000 {
            kill(pidB, SIGSTOP)
            Thread.sleep(forTimeInterval: 0.001)
            if holder(data) == pidB {
                stopped = true
                break
            }
            kill(pidB, SIGCONT)
            Thread.sleep(forTimeInterval: 0.002)
        }
        #expect(stopped, "B was stopped while holding the write lock")
        guard stopped else { return }

        // A write to A is answered 503 with Retry-After after the write timeout, naming B.
        let started = Date()
        let refused = try #require(
            request(portA, "POST", "/api/v1/workflow", #"{"token":"\#(token(2))","template":"BOM_UPLOAD"}"#))
        let waited = Date().timeIntervalSince(started)
        #expect(refused.status == 503)
        #expect(refused.headers["Retry-After"] != nil)
        #expect(waited >= 1.5 && waited < 8, "answered after \(waited) s")
        let text = String(decoding: refused.body, as: UTF8.self)
        #expect(text.contains("held by process \(pidB)"), "\(text)")

        // Readiness says so, with the PID; /metrics counts it; reads go on.
        let ready = try #require(request(portA, "GET", "/health/ready"))
        let readyText = String(decoding: ready.body, as: UTF8.self)
        #expect(ready.status == 503)
        #expect(readyText.contains(#""name":"writer","status":"DOWN""#), "\(readyText)")
        #expect(readyText.contains(#""lockHolderPid":\#(pidB)"#), "\(readyText)")
        let metrics = String(decoding: request(portA, "GET", "/metrics")?.body ?? [], as: UTF8.self)
        #expect(metrics.contains("bomflow_write_stalled 1\n"))
        #expect(!metrics.contains("bomflow_write_timeouts_total 0\n"))
        #expect(request(portA, "GET", "/api/v1/event/token/\(token(1))")?.status == 200)

        // The read-only commands and a new server work during the stall.
        #expect(try command(["stats", "--data-dir", data]) == 0)
        #expect(try command(["status", token(1), "--data-dir", data]) == 0)
        #expect(try command(["workflows", "list", "--data-dir", data]) == 0)
        #expect(try command(["export", "--data-dir", data, "-o", directory.appending("export.jsonl")]) == 0)
        #expect(try command(["backup", directory.appending("backup"), "--data-dir", data]) == 0)
        let (c, portC) = try serve(data)
        defer { c.kill() }
        #expect(request(portC, "GET", "/api/v1/event/token/\(token(1))")?.status == 200)

        // B resumes: the refused write was never applied; writes and readiness recover.
        kill(pidB, SIGCONT)
        flag.lock.withLock { flag.stop = true }
        load.wait()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(request(portA, "GET", "/api/v1/workflow/token/\(token(2))")?.status == 404, "no ghost write")
        #expect(
            request(portA, "POST", "/api/v1/workflow", #"{"token":"\#(token(3))","template":"BOM_UPLOAD"}"#)?.status
                == 201)
        #expect(request(portA, "GET", "/health/ready")?.status == 200)
        for child in [a, b, c] { kill(child.process.processIdentifier, SIGTERM) }
        for child in [a, b, c] { #expect(child.wait() == 0) }
    }
}
