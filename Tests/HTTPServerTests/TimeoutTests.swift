import Foundation
import HTTP1
import HTTPServer
import TestSupport
import Testing

/// H29-H32 with short timeouts configured; each waits a bounded time for the server's verdict.
@Suite(.timeLimit(.minutes(2)))
struct TimeoutTests {
    func fixture() throws -> ServerFixture {
        try ServerFixture { configuration in
            configuration.headerTimeout = .milliseconds(300)
            configuration.bodyTimeout = .milliseconds(300)
            configuration.keepAliveTimeout = .milliseconds(300)
            configuration.sendTimeout = .milliseconds(300)
        }
    }

    /// Slowloris: header bytes trickle in; 408 once the header timeout passes, other clients unaffected.
    @Test func slowHeadersGet408() throws {
        let fixture = try fixture()
        let slow = try fixture.client()
        slow.send("GET / HTTP/1.1\r\nHost: t\r\n")
        Thread.sleep(forTimeInterval: 0.15)
        slow.send("X-A: 1\r\n")
        let other = try fixture.client()
        other.send(get("/other"))
        #expect(other.readResponse()?.text == "/other")
        let response = try #require(slow.readResponse(timeout: 3))
        #expect(response.status == 408)
        #expect(slow.isClosed(within: 3))
    }

    @Test func slowBodyGets408() throws {
        let fixture = try fixture()
        let client = try fixture.client()
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab")
        let response = try #require(client.readResponse(timeout: 3))
        #expect(response.status == 408)
        #expect(client.isClosed(within: 3))
    }

    /// H32: an idle keep-alive connection is closed without a response.
    @Test func idleKeepAliveIsClosedSilently() throws {
        let fixture = try fixture()
        let client = try fixture.client()
        client.send(get("/a"))
        #expect(client.readResponse()?.status == 200)
        let rest = client.readUntilClosed(timeout: 3)
        #expect(rest.closed)
        #expect(rest.bytes.isEmpty, "no 408 when no request bytes arrived")
    }

    /// H31: a client that never reads a large response is dropped after the send timeout.
    @Test func clientThatStopsReadingIsDropped() throws {
        let fixture = try fixture()
        let client = try fixture.client()
        client.send(get("/big?bytes=64000000"))
        withExtendedLifetime(client) {
            #expect(fixture.waitForOpenConnections(1, seconds: 5), "accepted and sending")
            #expect(fixture.waitForOpenConnections(0, seconds: 5))
            #expect(fixture.server.statistics.timeouts >= 1, "closed by the send timeout, not by the client")
        }
    }
}

/// The HTTP layer as its own process (bomflow-http-fixture), so that its descriptors and memory
/// are measured alone and signals reach it as they would reach the server.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ProcessTests {
    func start(_ arguments: [String] = [], descriptorLimit: Int? = nil) throws -> (ChildProcess, Int) {
        let fixture = RepositoryPaths.products.appendingPathComponent("bomflow-http-fixture")
        let child =
            if let descriptorLimit {
                try ChildProcess(
                    executable: URL(fileURLWithPath: "/usr/bin/prlimit"),
                    ["--nofile=\(descriptorLimit):\(descriptorLimit)", fixture.path, "--loops", "1"] + arguments)
            } else {
                try ChildProcess(executable: fixture, ["--loops", "2"] + arguments)
            }
        let deadline = Date().addingTimeInterval(10)
        while child.outputLines.isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let port = try #require(child.outputLines.first.flatMap { Int($0) })
        return (child, port)
    }

    func descriptors(of child: ChildProcess) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.process.processIdentifier)/fd").count)
            ?? -1
    }

    func residentBytes(of child: ChildProcess) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(child.process.processIdentifier)/statm", encoding: .utf8)
        else { return -1 }
        return (Int(text.split(separator: " ")[1]) ?? 0) * 4096
    }

    /// 10,000 connections opened, used or not, and closed: descriptors back to the baseline,
    /// memory not growing with the count.
    @Test func tenThousandConnectionsLeaveNoDescriptorsOrMemoryBehind() throws {
        let (child, port) = try start()
        defer { child.kill() }
        for _ in 0..<500 {
            let client = try TCPClient(port: port)
            client.send(get("/fixed"))
            _ = client.readResponse()
        }
        Thread.sleep(forTimeInterval: 0.2)
        let baseline = descriptors(of: child)
        let resident = residentBytes(of: child)
        for index in 0..<10_000 {
            let client = try TCPClient(port: port)
            if index % 2 == 0 {
                client.send(get("/fixed"))
                #expect(client.readResponse()?.status == 200)
            }
            client.closeOnce()
        }
        var settled = false
        for _ in 0..<100 where !settled {
            settled = descriptors(of: child) == baseline
            if !settled { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(descriptors(of: child) == baseline)
        let growth = residentBytes(of: child) - resident
        #expect(growth < 8 << 20, "RSS grew by \(growth) bytes over 10,000 connections")
    }

    /// H45/T16: SIGTERM under load: every response a client started receiving is complete,
    /// in-flight requests are answered, and the process exits 0.
    @Test func sigtermUnderLoadTruncatesNothingAndExitsZero() throws {
        let (child, port) = try start()
        let truncated = Counter()
        let completed = Counter()
        let group = DispatchGroup()
        for worker in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                while let client = try? TCPClient(port: port) {
                    var open = true
                    while open {
                        guard client.send(get(worker % 2 == 0 ? "/delay?ms=30" : "/big?bytes=200000")) else { break }
                        let (response, end) = client.readUntilResponseOrClose()
                        if let response {
                            completed.add()
                            open = response.header("Connection") != "close"
                        } else {
                            if end == .truncated { truncated.add() }
                            open = false
                        }
                    }
                }
            }.start()
        }
        Thread.sleep(forTimeInterval: 0.5)
        kill(child.process.processIdentifier, SIGTERM)
        #expect(child.wait() == 0)
        #expect(child.outputLines.last == "stopped")
        #expect(group.wait(timeout: .now() + 20) == .success)
        #expect(truncated.value == 0)
        #expect(completed.value > 50)
    }

    /// CPU seconds the process has used (utime + stime from /proc/PID/stat).
    func cpuSeconds(of child: ChildProcess) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(child.process.processIdentifier)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return -1 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return Double((Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)) / 100
    }

    /// H43/T15: out of file descriptors, accepting backs off instead of spinning, and the server
    /// recovers as soon as descriptors are free again.
    @Test func outOfDescriptorsDoesNotSpinAndRecovers() throws {
        let (child, port) = try start(descriptorLimit: 48)
        defer { child.kill() }
        var flood: [TCPClient] = []
        for _ in 0..<120 { if let client = try? TCPClient(port: port) { flood.append(client) } }
        let before = cpuSeconds(of: child)
        Thread.sleep(forTimeInterval: 1.5)
        let used = cpuSeconds(of: child) - before
        #expect(used < 0.5, "the accept loop must back off, used \(used) s of CPU in 1.5 s")
        for client in flood { client.closeOnce() }
        var recovered = false
        let deadline = Date().addingTimeInterval(5)
        while !recovered && Date() < deadline {
            if let client = try? TCPClient(port: port) {
                client.send(get("/fixed"))
                recovered = client.readResponse(timeout: 1)?.status == 200
            }
            if !recovered { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(recovered)
    }

    /// Several processes serve one port (SO_REUSEPORT); when one stops, the other keeps serving.
    @Test func twoProcessesShareOnePort() throws {
        let (first, port) = try start()
        defer { first.kill() }
        let second = try ChildProcess("bomflow-http-fixture", ["--loops", "1", "--port", String(port)])
        defer { second.kill() }
        let deadline = Date().addingTimeInterval(10)
        while second.outputLines.isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(second.outputLines.first == String(port), "the second process binds the same port")
        for _ in 0..<20 {
            let client = try TCPClient(port: port)
            client.send(get("/fixed"))
            #expect(client.readResponse()?.status == 200)
        }
        kill(first.process.processIdentifier, SIGTERM)
        #expect(first.wait() == 0)
        for _ in 0..<20 {
            let client = try TCPClient(port: port)
            client.send(get("/fixed"))
            #expect(client.readResponse()?.status == 200)
        }
    }

    /// A negative `--poll-cpu-ns` is refused (status 64) before a port is bound and announced.
    @Test func negativePollWorkIsRefused() throws {
        let child = try ChildProcess("bomflow-http-fixture", ["--poll-cpu-ns", "-5", "--port", "0"])
        #expect(child.wait() == 64)
        #expect(child.outputLines.isEmpty)
    }

    /// SIGINT stops an idle server at once.
    @Test func sigintStopsAnIdleServer() throws {
        let (child, port) = try start()
        let client = try TCPClient(port: port)
        client.send(get("/fixed"))
        #expect(client.readResponse()?.status == 200)
        kill(child.process.processIdentifier, SIGINT)
        #expect(child.wait() == 0)
        #expect(client.isClosed(within: 3), "idle keep-alive connections are closed on shutdown")
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

enum ReadEnd { case clean, truncated, timeout }

extension TCPClient {
    /// A whole response, or why none came: the connection closed before any byte of one
    /// (clean), in the middle of one (truncated), or nothing arrived in time.
    func readUntilResponseOrClose() -> (TCPClient.Response?, ReadEnd) {
        if let response = readResponse(timeout: 5) { return (response, .clean) }
        let rest = readUntilClosed(timeout: 1)
        if !rest.bytes.isEmpty { return (nil, .truncated) }
        return (nil, rest.closed ? .clean : .timeout)
    }
}
