import Foundation
import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

/// `bomflow backup` while a server takes writes, then `bomflow restore`: everything acknowledged
/// before the backup began is in the restored directory, exactly as acknowledged.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct BackupRestoreTests {
    /// Acknowledged writes, recorded by the client threads as the answers arrive.
    final class Ledger: @unchecked Sendable {
        private let lock = NSLock()
        private var created: [String] = []
        private var completed: [String] = []
        private var attempted = 0
        private var stop = false

        func attempt() -> Int? {
            lock.lock()
            defer { lock.unlock() }
            if stop { return nil }
            attempted += 1
            return attempted
        }
        func acknowledgeCreate(_ token: String) { lock.withLock { created.append(token) } }
        func acknowledgeCompletion(_ token: String) { lock.withLock { completed.append(token) } }
        func halt() { lock.withLock { stop = true } }
        var snapshot: (created: [String], completed: [String], attempted: Int) {
            lock.withLock { (created, completed, attempted) }
        }
    }

    func run(_ arguments: [String]) throws -> ProgramRun { try ProgramRun.product("bomflow", arguments) }

    func send(_ port: Int, _ method: String, _ path: String, _ body: String) -> Int? {
        guard let client = try? TCPClient(port: port) else { return nil }
        client.send(
            "\(method) \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        )
        return client.readResponse()?.status
    }

    @Test func restoresEverythingAcknowledgedBeforeTheBackupBegan() throws {
        let directory = try TemporaryDirectory("restore")
        defer { directory.remove() }
        let data = directory.appending("data")
        let server = try ChildProcess(
            "bomflow", ["serve", "--data-dir", data, "--port", "0", "--insecure-no-auth", "--loops", "2"], quiet: true)
        defer { server.kill() }
        let deadline = Date().addingTimeInterval(20)
        while server.outputLines.isEmpty && Date() < deadline && server.process.isRunning {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let port = try #require(server.outputLines.first.flatMap { Int($0) })

        let ledger = Ledger()
        let writers = DispatchGroup()
        for writer in 0..<2 {
            DispatchQueue.global().async(group: writers) {
                while let n = ledger.attempt() {
                    let token = String(format: "%08x-0000-4000-8000-%012x", writer, n)
                    guard
                        send(port, "POST", "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#) == 201
                    else { continue }
                    ledger.acknowledgeCreate(token)
                    if n % 2 == 0,
                        send(
                            port, "PATCH", "/api/v1/workflow/token/\(token)/step/BOM_CONSUMPTION",
                            #"{"status":"COMPLETED"}"#) == 200
                    {
                        ledger.acknowledgeCompletion(token)
                    }
                }
            }
        }
        while ledger.snapshot.created.count < 300 { Thread.sleep(forTimeInterval: 0.01) }
        let before = ledger.snapshot
        let backupDirectory = directory.appending("backup")
        let backup = try run(["backup", backupDirectory, "--data-dir", data])
        #expect(backup.status == 0, "\(backup.output)")
        let mode = try FileManager.default.attributesOfItem(atPath: backupDirectory + "/data.mdb")[.posixPermissions]
        #expect((mode as? Int) == 0o600, "a backup is as private as the data")
        Thread.sleep(forTimeInterval: 0.2)
        ledger.halt()
        writers.wait()
        let after = ledger.snapshot
        #expect(after.created.count > before.created.count, "writes went on during the backup")

        // While the server has the directory open, restoring over it is refused.
        let busy = try run(["restore", backupDirectory, "--data-dir", data, "--force"])
        #expect(busy.status == 1)
        #expect(busy.output.contains("in use by another process"), "\(busy.output)")

        let restoredDirectory = directory.appending("restored")
        let restored = try run(["restore", backupDirectory, "--data-dir", restoredDirectory, "--verify"])
        #expect(restored.status == 0, "\(restored.output)")
        do {
            let store = try LMDBStore(path: restoredDirectory)
            #expect(try store.verifyIntegrity().isEmpty)
            let count = try store.cheapFigures().workflows
            #expect(count >= before.created.count)
            #expect(count <= after.attempted, "nothing but attempted workflows")
            for token in before.created {
                let parsed = try #require(Token(token))
                let workflow = try #require(try store.workflow(parsed), "\(token) lost")
                #expect(workflow.template == .bomUpload)
            }
            for token in before.completed {
                let parsed = try #require(Token(token))
                let workflow = try #require(try store.workflow(parsed))
                #expect(workflow.steps.first { $0.name == .bomConsumption }?.status == .completed, "\(token)")
            }
        }

        // Stopped, the original directory can be rolled back to the backup, but only with --force.
        kill(server.process.processIdentifier, SIGTERM)
        #expect(server.wait() == 0)
        let refused = try run(["restore", backupDirectory, "--data-dir", data])
        #expect(refused.status == 1)
        #expect(refused.output.contains("already holds data"), "\(refused.output)")
        let rolledBack = try run(["restore", backupDirectory, "--data-dir", data, "--force"])
        #expect(rolledBack.status == 0, "\(rolledBack.output)")
        let store = try LMDBStore(path: data)
        let backedUp = try LMDBStore(path: restoredDirectory)
        #expect(try store.cheapFigures().workflows == backedUp.cheapFigures().workflows)
        #expect(!FileManager.default.fileExists(atPath: data + "/.restore"))
        #expect(try store.verifyIntegrity().isEmpty)
    }

    @Test func refusesWhatIsNotABackup() throws {
        let directory = try TemporaryDirectory("restore-bad")
        defer { directory.remove() }
        let missing = try run(["restore", directory.appending("nothing"), "--data-dir", directory.appending("data")])
        #expect(missing.status == 1)
        #expect(missing.output.contains("holds no data.mdb"))
        let fake = directory.appending("fake")
        try FileManager.default.createDirectory(atPath: fake, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: fake + "/data.mdb", contents: Data(repeating: 7, count: 8192))
        let garbage = try run(["restore", fake, "--data-dir", directory.appending("data")])
        // Refused as damaged data (exit 65) before anything maps it (issue 16 §4).
        #expect(garbage.status == 65, "\(garbage.output)")
        #expect(garbage.output.contains("not an LMDB data file"), "\(garbage.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.appending("data/data.mdb")), "nothing restored")
    }
}
