import BomflowClient
import Foundation
import HTTP1
import TestSupport
import Testing

/// Issue 16 §1: a full file system. With several clients a group commit's `writev` comes back
/// short near the end of the disk, which LMDB reports as EIO; that used to be taken as fatal
/// (exit 70, a crash loop after every restart). Now the group is refused with 507, nothing of it
/// is acknowledged, reads go on, readiness and /metrics say the disk is full, and writes succeed
/// again as soon as space is freed, without a restart. Needs root for the tmpfs mount (CI is root).
@Suite(.serialized, .timeLimit(.minutes(3)), .enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
struct DiskFullTests {
    func run(_ command: String, _ arguments: [String]) -> Int32 {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func serve(_ data: String) throws -> (ChildProcess, Int) {
        let child = try ChildProcess(
            "bomflow",
            [
                "serve", "--data-dir", data, "--port", "0", "--insecure-no-auth", "--sync", "full", "--log-level",
                "error",
            ],
            quiet: true)
        let deadline = Date().addingTimeInterval(20)
        while child.outputLines.isEmpty && Date() < deadline && child.process.isRunning {
            Thread.sleep(forTimeInterval: 0.01)
        }
        return (child, try #require(child.outputLines.first.flatMap { Int($0) }))
    }

    /// A workflow body of about 8 KiB: 30 labels of 250 bytes.
    func body(_ token: String) -> [UInt8] {
        let labels = (0..<30).map { #""k\#($0)":"\#(String(repeating: "v", count: 250))""# }.joined(separator: ",")
        return Array(#"{"token":"\#(token)","template":"BOM_UPLOAD","labels":{\#(labels)}}"#.utf8)
    }

    final class Ledger: @unchecked Sendable {
        let lock = NSLock()
        var acknowledged: [String] = []
        var statuses: [Int: Int] = [:]
        var transportErrors = 0
    }

    /// `clients` threads create workflows until each has seen a 507 (or sent `limit` requests).
    func fill(_ port: Int, clients: Int, limit: Int, prefix: Int) -> Ledger {
        let ledger = Ledger()
        let group = DispatchGroup()
        for client in 0..<clients {
            DispatchQueue.global().async(group: group) {
                let http = HTTPClient(host: "127.0.0.1", port: port)
                for index in 0..<limit {
                    let token = String(format: "%08x-0000-4000-8000-%012x", prefix * 256 + client, index)
                    guard
                        let response = try? http.request(
                            "POST", "/api/v1/workflow", headers: [("Content-Type", "application/json")],
                            body: body(token))
                    else {
                        ledger.lock.withLock { ledger.transportErrors += 1 }
                        return
                    }
                    ledger.lock.withLock {
                        ledger.statuses[response.status, default: 0] += 1
                        if response.status == 201 { ledger.acknowledged.append(token) }
                    }
                    if response.status == 507 { return }
                }
            }
        }
        group.wait()
        return ledger
    }

    func get(_ port: Int, _ path: String) -> (status: Int, text: String)? {
        guard let response = try? HTTPClient(host: "127.0.0.1", port: port).request("GET", path) else { return nil }
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    @Test func aFullDiskAnswers507AndRecoversWithoutARestart() throws {
        let directory = try TemporaryDirectory("disk-full")
        defer { directory.remove() }
        let mountPoint = directory.appending("fs")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        #expect(run("/bin/mount", ["-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", mountPoint]) == 0)
        defer { _ = run("/bin/umount", ["-l", mountPoint]) }
        // A filler to delete later: the way an operator frees space.
        let filler = mountPoint + "/filler"
        #expect(FileManager.default.createFile(atPath: filler, contents: Data(count: 6 << 20)))
        let data = mountPoint + "/data"

        var (server, port) = try serve(data)
        defer { server.kill() }
        let first = fill(port, clients: 8, limit: 4000, prefix: 1)
        #expect(first.statuses[507, default: 0] > 0, "the disk filled: \(first.statuses)")
        #expect(Set(first.statuses.keys).isSubset(of: [201, 507]), "\(first.statuses)")
        #expect(first.transportErrors == 0)
        #expect(server.process.isRunning, "a full disk is not fatal")

        // Reads go on, and say why writes are refused.
        let ready = try #require(get(port, "/health/ready"))
        #expect(ready.status == 503)
        #expect(ready.text.contains(#""name":"storage-space","status":"DOWN""#), "\(ready.text)")
        #expect(ready.text.contains("disk"), "\(ready.text)")
        #expect(get(port, "/health/live")?.status == 200)
        #expect(get(port, "/metrics")?.text.contains("bomflow_storage_full 1\n") == true)
        // LMDB may still place a small write in pages it freed when earlier writes failed: such a
        // write is acknowledged and stored; the next ones are refused with 507.
        let refused = fill(port, clients: 1, limit: 50, prefix: 2)
        #expect(
            refused.statuses[507] == 1 && Set(refused.statuses.keys).isSubset(of: [201, 507]), "\(refused.statuses)")
        for token in refused.acknowledged {
            #expect(get(port, "/api/v1/workflow/token/\(token)")?.status == 200, "acknowledged \(token) is stored")
        }
        for token in first.acknowledged.shuffled().prefix(200) {
            #expect(get(port, "/api/v1/workflow/token/\(token)")?.status == 200, "acknowledged \(token) is stored")
        }

        // A restart on the still-full disk: ready (nothing failed yet), and a write is a 507, not a crash.
        kill(server.process.processIdentifier, SIGTERM)
        #expect(server.wait() == 0)
        (server, port) = try serve(data)
        #expect(get(port, "/health/ready")?.status == 200)
        let again = fill(port, clients: 4, limit: 4000, prefix: 3)
        #expect(again.statuses[507, default: 0] > 0, "\(again.statuses)")
        #expect(server.process.isRunning)

        // Space freed: writes succeed again in the same process, and readiness recovers.
        try FileManager.default.removeItem(atPath: filler)
        let after = fill(port, clients: 1, limit: 5, prefix: 4)
        #expect(after.statuses[201, default: 0] == 5, "\(after.statuses)")
        #expect(get(port, "/health/ready")?.status == 200)
        #expect(get(port, "/metrics")?.text.contains("bomflow_storage_full 0\n") == true)
        for token in (first.acknowledged + again.acknowledged + after.acknowledged).shuffled().prefix(200) {
            #expect(get(port, "/api/v1/workflow/token/\(token)")?.status == 200)
        }
        kill(server.process.processIdentifier, SIGTERM)
        #expect(server.wait() == 0)
    }
}
