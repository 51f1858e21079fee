import ArgumentParser
import BomflowServer
import Foundation
import HTTP1
import HTTPServer
import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

@testable import bomflow

struct ArgumentParsingTests {
    @Test(arguments: [
        ("1048576", 1 << 20), ("512KiB", 512 << 10), ("64MiB", 64 << 20), ("64GiB", 64 << 30), ("2g", 2 << 30),
        ("1T", 1 << 40),
    ])
    func byteSizes(text: String, bytes: Int) {
        #expect(ByteSize(argument: text)?.bytes == bytes)
    }

    @Test(arguments: ["", "GiB", "-1", "1.5GiB", "10XB", "99999999999999999999T"])
    func invalidByteSizes(text: String) {
        #expect(ByteSize(argument: text) == nil)
    }

    @Test(arguments: [
        ("1500ms", Int64(1500)), ("90s", 90_000), ("60m", 3_600_000), ("72h", 259_200_000), ("7d", 604_800_000),
    ])
    func durations(text: String, milliseconds: Int64) {
        #expect(DurationArgument(argument: text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "0s", "5", "1w", "-3m"])
    func invalidDurations(text: String) {
        #expect(DurationArgument(argument: text) == nil)
    }

    @Test func statusTakesAUUID() throws {
        let command = try Bomflow.parseAsRoot([
            "status", "3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab", "--data-dir", "/tmp/x",
        ])
        let status = try #require(command as? Status)
        #expect(status.store.dataDir == "/tmp/x")
        #expect(status.store.sync == .full)
        #expect(status.store.mapSize.bytes == 64 << 30)
        #expect(throws: (any Error).self) { try Bomflow.parseAsRoot(["status", "not-a-uuid"]) }
    }

    @Test func serveTakesHTTPLimits() throws {
        let command = try Bomflow.parseAsRoot([
            "serve", "--max-body", "2MiB", "--header-timeout", "5s", "--max-headers", "50",
        ])
        let serve = try #require(command as? Serve)
        var configuration = HTTPServerConfiguration()
        serve.http.apply(to: &configuration)
        #expect(configuration.limits.bodyBytes == 2 << 20)
        #expect(configuration.limits.headerCount == 50)
        #expect(configuration.headerTimeout == .seconds(5))
        #expect(throws: (any Error).self) { try Bomflow.parseAsRoot(["serve", "--max-body", "10"]) }
        #expect(throws: (any Error).self) {
            try Bomflow.parseAsRoot(["serve", "--host", "0.0.0.0", "--insecure-no-auth"])
        }
    }

    @Test func rejectsTinyMapsAndBadLimits() {
        #expect(throws: (any Error).self) { try Bomflow.parseAsRoot(["stats", "--map-size", "4KiB"]) }
        #expect(throws: (any Error).self) { try Bomflow.parseAsRoot(["workflows", "list", "--limit", "0"]) }
        #expect(throws: (any Error).self) { try Bomflow.parseAsRoot(["workflows", "list", "--label", "nocolon"]) }
    }
}

/// The real `bomflow` binary against a data directory that this process keeps open, as a
/// running server would.
@Suite(.serialized)
struct CommandLineEndToEndTests {
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> ProgramRun {
        try ProgramRun.product("bomflow", arguments, environment: environment)
    }

    @Test func statusListMaintenanceStatsAndBackup() throws {
        let directory = try TemporaryDirectory("cli")
        defer { directory.remove() }
        let data = directory.appending("data")
        var options = StoreOptions()
        options.durability = .none
        let store = try LMDBStore(path: data, options: options)
        let token = Token.make(42)
        try store.perform(
            .create(
                token: token, definition: WorkflowDefinition(template: .reanalysis),
                labels: try Labels(["project": "acme"]), createdBy: nil))
        try store.perform(
            .update(token: token, step: .vulnAnalysis, command: .setStatus(.failed, failureReason: "scanner down")))

        let status = try run(["status", token.description, "--data-dir", data])
        #expect(status.status == 0)
        #expect(status.output.contains(#""step":"VULN_ANALYSIS","status":"FAILED""#))
        #expect(status.output.contains(#""failureReason":"scanner down""#))

        let unknown = try run(["status", Token.make(43).description, "--data-dir", data])
        #expect(unknown.status == 1)
        #expect(unknown.output.contains("Provided token \(Token.make(43)) does not exist."))

        let list = try run(["workflows", "list", "--label", "project:acme"], environment: ["BOMFLOW_DATA_DIR": data])
        #expect(list.status == 0)
        #expect(list.output.contains(token.description))
        #expect(list.output.contains(#""nextCursor":null"#))

        // The workflow is finished (its first step failed, the other cancelled): 1 ms of
        // retention deletes it.
        Thread.sleep(forTimeInterval: 0.01)
        // This test's own store writes with --sync none; a writer beside it must use the same.
        let maintenance = try run(["maintenance", "--data-dir", data, "--retention", "1ms", "--sync", "none"])
        #expect(maintenance.status == 0)
        #expect(maintenance.output.contains(#""deleted":1"#), "\(maintenance.output)")
        #expect(try store.workflow(token) == nil)

        let stats = try run(["stats", "--data-dir", data])
        #expect(stats.status == 0)
        #expect(stats.output.contains(#""formatVersion":\#(LMDBStore.formatVersion)"#))
        #expect(stats.output.contains(#""boms":0,"bomBytes":0,"projects":0"#), "\(stats.output)")
        // A smaller --map-size than the file records is not silently ignored (issue 16 §5).
        let smaller = try run(["stats", "--data-dir", data, "--map-size", "1MiB"])
        #expect(smaller.status == 0)
        #expect(smaller.output.contains("the recorded size is used"), "\(smaller.output)")

        // A destination whose name needs escaping still prints valid JSON naming it exactly.
        let awkward = directory.appending(#"dir "x\y"#)
        let backup = try run(["backup", awkward, "--data-dir", data])
        #expect(backup.status == 0, "\(backup.output)")
        let printed = try #require(
            try JSONSerialization.jsonObject(with: Data(backup.output.utf8)) as? [String: Any], "\(backup.output)")
        #expect(printed["destination"] as? String == awkward)
        #expect((printed["bytes"] as? Int ?? 0) > 0)

        let missing = try run(["stats", "--data-dir", directory.appending("nothing-here")])
        #expect(missing.status != 0)
        #expect(missing.output.contains("no bomflow data"))
        #expect(
            !FileManager.default.fileExists(atPath: directory.appending("nothing-here")),
            "read commands must not create a data dir")
    }

    /// T10: a data directory others may write, or a key file others may read, is refused with
    /// exit 78 and a message that says what to change; nothing is served.
    @Test func refusesUnsafeDataDirectories() throws {
        let directory = try TemporaryDirectory("cli-unsafe")
        defer { directory.remove() }
        let data = directory.appending("data")
        let created = try run(["keys", "create", "--name", "ci", "--data-dir", data])
        #expect(created.status == 0, "\(created.output)")
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: data)
        for command in [["stats"], ["serve", "--port", "0"], ["keys", "list"]] {
            let refused = try run(command + ["--data-dir", data])
            #expect(refused.status == 78, "\(command): \(refused.output)")
            #expect(refused.output.contains("has mode 777"))
            #expect(refused.output.contains("chmod 755 \(data)"))
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: data)
        _ = FileManager.default.createFile(atPath: data + "/admin.key", contents: Data("bomflow_x\n".utf8))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: data + "/admin.key")
        let key = try run(["serve", "--port", "0", "--data-dir", data])
        #expect(key.status == 78)
        #expect(key.output.contains("chmod 600 it or delete it"))
    }

    @Test func backupIsAConsistentCopy() throws {
        let directory = try TemporaryDirectory("cli-backup")
        defer { directory.remove() }
        let data = directory.appending("data")
        var options = StoreOptions()
        options.durability = .none
        let store = try LMDBStore(path: data, options: options)
        for number in 1...200 {
            try store.perform(
                .create(
                    token: .make(UInt64(number)), definition: WorkflowDefinition(template: .bomUpload),
                    labels: Labels(), createdBy: nil))
        }
        let backup = directory.appending("copy")
        let result = try run(["backup", backup, "--data-dir", data])
        #expect(result.status == 0, "\(result.output)")
        let copy = try LMDBStore(path: backup, options: options)
        #expect(try copy.statistics().workflows == 200)
        #expect(try copy.verifyIntegrity() == [])
        #expect(try copy.workflow(.make(7)) == store.workflow(.make(7)))
        let again = try run(["backup", backup, "--data-dir", data])
        #expect(again.status != 0, "refuses a non-empty destination")
    }
}

/// Issue 16 §5: a wall clock before 1970 made maintenance never run; serve and maintenance refuse it.
struct ClockTests {
    @Test func aClockBefore1970IsRefused() {
        #expect(throws: ServerError.self) { try ServerRuntime.checkClock(now: -1) }
        #expect(throws: Never.self) { try ServerRuntime.checkClock(now: 0) }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/faketime")))
    func serveRefusesAClockBefore1970() throws {
        let directory = try TemporaryDirectory("clock")
        defer { directory.remove() }
        for command in [["serve", "--port", "0"], ["maintenance"]] {
            let run = try ProgramRun.run(
                URL(fileURLWithPath: "/usr/bin/faketime"),
                ["1969-12-01 00:00:00", RepositoryPaths.products.appendingPathComponent("bomflow").path] + command + [
                    "--data-dir", directory.appending("data"),
                ])
            #expect(run.status == 78, "\(command): \(run.output)")
            #expect(run.output.contains("before 1970"), "\(run.output)")
        }
    }
}
