import Foundation
import TestSupport
import Testing

/// `serve --ephemeral` and `--exit-with-parent`: what a test harness relies on.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct EphemeralTests {
    struct Announcement: Decodable {
        let url: String
        let apiKey: String?
        let dataDir: String
    }

    /// Waits for the first stdout line and decodes it.
    func announcement(of child: ChildProcess) throws -> Announcement {
        let deadline = Date().addingTimeInterval(20)
        while child.outputLines.isEmpty && Date() < deadline && child.process.isRunning {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let line = try #require(child.outputLines.first)
        return try JSONDecoder().decode(Announcement.self, from: Data(line.utf8))
    }

    func get(_ port: Int, _ path: String, key: String?) -> TCPClient.Response? {
        guard let client = try? TCPClient(port: port) else { return nil }
        let auth = key.map { "X-Api-Key: \($0)\r\n" } ?? ""
        client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\(auth)\r\n")
        return client.readResponse()
    }

    /// Alive and not a zombie waiting for whichever process adopted it.
    func isRunning(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
            return false
        }
        // Fields after the parenthesised command name: the first is the state.
        guard let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    func port(of url: String) throws -> Int {
        try #require(url.split(separator: ":").last.flatMap { Int($0) })
    }

    @Test func servesAFreshDirectoryAndRemovesItAtExit() throws {
        let child = try ChildProcess("bomflow", ["serve", "--ephemeral", "--log-level", "warning"], quiet: true)
        defer { child.kill() }
        let info = try announcement(of: child)
        #expect(info.url.hasPrefix("http://127.0.0.1:"))
        let key = try #require(info.apiKey)
        let port = try port(of: info.url)
        #expect(port != 8080, "ephemeral picks a free port")
        let attributes = try FileManager.default.attributesOfItem(atPath: info.dataDir)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        let token = "5e1f0c2a-7d4b-4a5e-9c1f-0123456789ab"
        #expect(get(port, "/api/v1/event/token/\(token)", key: key)?.text == #"{"processing":false}"#)
        #expect(get(port, "/api/v1/event/token/\(token)", key: nil)?.status == 401, "the printed key is required")
        #expect(get(port, "/api/v1/event/token/\(token)", key: key + "x")?.status == 401)
        kill(child.process.processIdentifier, SIGTERM)
        #expect(child.wait() == 0)
        #expect(!FileManager.default.fileExists(atPath: info.dataDir))
    }

    /// A harness may send SIGTERM the moment it has the URL: the signal must not be lost
    /// between binding and the wait for signals (it was, and the server then ran forever).
    /// The first line is read with a blocking read, as a harness does, to signal at once.
    @Test func stopsOnASignalRightAfterAnnouncing() throws {
        for _ in 0..<10 {
            let process = SpawnedProcess()
            process.executableURL = RepositoryPaths.products.appendingPathComponent("bomflow")
            process.arguments = ["serve", "--ephemeral", "--log-level", "warning"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            var line = Data()
            while !line.contains(0x0A) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                line.append(chunk)
            }
            kill(process.processIdentifier, SIGTERM)
            let info = try JSONDecoder().decode(Announcement.self, from: line.prefix { $0 != 0x0A })
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            let stopped = !process.isRunning
            if !stopped { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            #expect(stopped, "SIGTERM right after the announcement was lost")
            #expect(process.terminationStatus == 0)
            #expect(!FileManager.default.fileExists(atPath: info.dataDir))
            if !stopped { try? FileManager.default.removeItem(atPath: info.dataDir) }
        }
    }

    @Test func twoEphemeralServersShareNothing() throws {
        let first = try ChildProcess("bomflow", ["serve", "--ephemeral", "--log-level", "warning"], quiet: true)
        defer { first.kill() }
        let second = try ChildProcess("bomflow", ["serve", "--ephemeral", "--log-level", "warning"], quiet: true)
        defer { second.kill() }
        let (one, two) = (try announcement(of: first), try announcement(of: second))
        #expect(one.dataDir != two.dataDir)
        #expect(one.url != two.url)
        #expect(one.apiKey != two.apiKey)
        #expect(
            get(try port(of: one.url), "/api/v1/event/token/5e1f0c2a-7d4b-4a5e-9c1f-0123456789ab", key: two.apiKey)?
                .status == 401)
        // Stopped gracefully (the defers' SIGKILL would leave the directories behind).
        for server in [first, second] {
            kill(server.process.processIdentifier, SIGTERM)
            #expect(server.wait() == 0)
        }
        #expect(!FileManager.default.fileExists(atPath: one.dataDir))
        #expect(!FileManager.default.fileExists(atPath: two.dataDir))
    }

    @Test func insecureEphemeralAnnouncesNoKey() throws {
        let child = try ChildProcess(
            "bomflow", ["serve", "--ephemeral", "--insecure-no-auth", "--log-level", "warning"], quiet: true)
        defer { child.kill() }
        let info = try announcement(of: child)
        #expect(info.apiKey == nil)
        #expect(get(try port(of: info.url), "/api/version", key: nil)?.status == 200)
        kill(child.process.processIdentifier, SIGTERM)
        #expect(child.wait() == 0)
    }

    /// A shell starts the server in the background and exits: the server, re-parented, notices
    /// and shuts down cleanly (removing its directory) instead of leaking.
    @Test func exitsWithItsParent() throws {
        let binary = RepositoryPaths.products.appendingPathComponent("bomflow").path
        let shell = try ChildProcess(
            executable: URL(fileURLWithPath: "/bin/sh"),
            [
                "-c",
                "'\(binary)' serve --ephemeral --exit-with-parent --log-level warning 2>/dev/null & echo \"pid $!\"; sleep 3",
            ])
        defer { shell.kill() }
        let deadline = Date().addingTimeInterval(20)
        while shell.outputLines.count < 2 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let pidLine = try #require(shell.outputLines.first { $0.hasPrefix("pid ") })
        let pid = try #require(Int32(pidLine.dropFirst(4)))
        let json = try #require(shell.outputLines.first { $0.hasPrefix("{") })
        let info = try JSONDecoder().decode(Announcement.self, from: Data(json.utf8))
        #expect(isRunning(pid), "the server runs while its parent lives")
        #expect(shell.wait() == 0)
        var gone = false
        let stopDeadline = Date().addingTimeInterval(10)
        while Date() < stopDeadline {
            if !isRunning(pid) {
                gone = true
                break
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        if !gone { kill(pid, SIGKILL) }
        #expect(gone, "the server exited after its parent")
        #expect(!FileManager.default.fileExists(atPath: info.dataDir))
    }
}
