import Foundation
import TestSupport
import Testing

/// Issue 16 §3 and §4: damaged data files and partial backups are refused with a message that
/// says what to do and a distinct exit code (65), never a SIGBUS inside LMDB, never a new empty
/// store in place of a lost one, never an overwritten key.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DamagedFilesTests {
    func run(_ product: String, _ arguments: [String], seconds: Double = 20) throws -> ProgramRun {
        try ProgramRun.product(product, arguments, environment: ["SWIFT_BACKTRACE": "enable=no"], seconds: seconds)
    }

    /// A store of `workflows` BOM uploads made by the store driver (it writes the marker too).
    func makeStore(_ path: String, workflows: Int = 20_000) throws {
        let made = try run(
            "bomflow-store-driver",
            ["bench", "--dir", path, "--workflows", String(workflows), "--ops", "10", "--sync", "none"],
            seconds: 120)
        #expect(made.status == 0, "\(made.output)")
    }

    func size(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1 }

    func truncate(_ path: String, to bytes: Int) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: UInt64(bytes))
        try handle.close()
    }

    @Test(arguments: ["half", "8KiB"])
    func aTruncatedDataFileIsRefusedNotMapped(how: String) throws {
        let directory = try TemporaryDirectory("truncated")
        defer { directory.remove() }
        let data = directory.appending("data")
        try makeStore(data)
        let file = data + "/data.mdb"
        try truncate(file, to: how == "half" ? size(file) / 2 : 8192)
        for command in [
            ["stats"], ["serve", "--port", "0", "--sync", "none"], ["status", "00000001-0000-4000-8000-000000000001"],
        ] {
            let refused = try run("bomflow", command + ["--data-dir", data])
            #expect(!refused.signalled, "\(command) died of a signal: \(refused.output)")
            #expect(refused.status == 65, "\(command): \(refused.output)")
            #expect(refused.output.contains("shorter than its last page"), "\(refused.output)")
            #expect(refused.output.contains("bomflow restore"))
        }
        let check = try run("bomflow", ["check", "--data-dir", data])
        #expect(check.status == 65 && check.output.contains("truncated"), "\(check.output)")
    }

    @Test func aZeroedPageIsFoundByCheck() throws {
        let directory = try TemporaryDirectory("zeroed")
        defer { directory.remove() }
        let data = directory.appending("data")
        try makeStore(data)
        let clean = try run("bomflow", ["check", "--data-dir", data])
        #expect(clean.status == 0 && clean.output.contains(#""ok":true"#), "\(clean.output)")
        // A page the store certainly uses: the root of LMDB's main database, from the newer meta
        // page (a fixed page number was sometimes a free page, depending on the store driver's
        // random updates, and then nothing was damaged).
        let root = try Self.mainRootPage(data + "/data.mdb")
        let handle = try #require(FileHandle(forUpdatingAtPath: data + "/data.mdb"))
        try handle.seek(toOffset: 4096 * root)
        try handle.write(contentsOf: Data(count: 4096))
        try handle.close()
        let check = try run("bomflow", ["check", "--data-dir", data])
        #expect(check.status == 65, "\(check.output)")
        #expect(check.output.contains("page \(root) says it is page 0"), "\(check.output)")
        let serve = try run(
            "bomflow", ["serve", "--port", "0", "--sync", "none", "--check-on-start", "--data-dir", data])
        #expect(serve.status == 65 && serve.output.contains("damaged"), "\(serve.output)")
    }

    /// The main database's root page number from the meta page with the newer transaction ID
    /// (lmdb.h's MDB_meta on 64-bit: page header 16 bytes, then magic, version, address, map
    /// size, the free and main MDB_db records of 48 bytes each (root at 40), last page, txnid).
    static func mainRootPage(_ path: String) throws -> UInt64 {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)).prefix(8192))
        func word(_ offset: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
        }
        let metas = [0, 4096].map { base in (root: word(base + 16 + 24 + 48 + 40), txnid: word(base + 16 + 24 + 96 + 8))
        }
        return (metas[0].txnid >= metas[1].txnid ? metas[0] : metas[1]).root
    }

    @Test func anEmptiedStoreIsNotServedAndItsKeyIsKept() throws {
        let directory = try TemporaryDirectory("emptied")
        defer { directory.remove() }
        let data = directory.appending("data")
        try makeStore(data)
        let key = "bomflow_existing\n"
        #expect(
            FileManager.default.createFile(
                atPath: data + "/admin.key", contents: Data(key.utf8), attributes: [.posixPermissions: 0o600]))
        try truncate(data + "/data.mdb", to: 0)
        let serve = try run("bomflow", ["serve", "--port", "0", "--sync", "none", "--data-dir", data])
        #expect(serve.status == 65, "\(serve.output)")
        #expect(serve.output.contains("is empty, but this directory held a bomflow store"), "\(serve.output)")
        try FileManager.default.removeItem(atPath: data + "/data.mdb")
        let missing = try run("bomflow", ["serve", "--port", "0", "--sync", "none", "--data-dir", data])
        #expect(missing.status == 65 && missing.output.contains("is missing"), "\(missing.output)")
        #expect(
            try String(contentsOfFile: data + "/admin.key", encoding: .utf8) == key, "the key file is never overwritten"
        )
    }

    /// A backup killed midway leaves only `data.mdb.partial`; restore refuses it (and a truncated
    /// copy under the final name, as older versions left) before mapping anything, cleans up,
    /// and changes nothing of the target.
    @Test func partialBackupsAreRefusedAndCleanedUp() throws {
        let directory = try TemporaryDirectory("partial")
        defer { directory.remove() }
        let data = directory.appending("data")
        try makeStore(data, workflows: 200_000)

        // Killed at once, or a little later: never a data.mdb that is not whole.
        for delay in [0.0, 0.05, 0.15] {
            let destination = directory.appending("killed-\(delay)")
            let backup = SpawnedProcess()
            backup.executableURL = RepositoryPaths.products.appendingPathComponent("bomflow")
            backup.arguments = ["backup", destination, "--data-dir", data]
            backup.standardOutput = FileHandle.nullDevice
            backup.standardError = FileHandle.nullDevice
            try backup.run()
            Thread.sleep(forTimeInterval: delay)
            kill(backup.processIdentifier, SIGKILL)
            backup.waitUntilExit()
            let final = destination + "/data.mdb"
            if FileManager.default.fileExists(atPath: final) {
                let check = try run("bomflow", ["check", "--data-dir", destination])
                #expect(check.status == 0, "a backup under the final name is whole: \(check.output)")
            }
            if FileManager.default.fileExists(atPath: final + ".partial") {
                let mode = try FileManager.default.attributesOfItem(atPath: final + ".partial")[.posixPermissions]
                #expect((mode as? Int) == 0o600)
            }
        }

        let target = directory.appending("target")
        try makeStore(target, workflows: 10)
        let before = size(target + "/data.mdb")
        let partial = directory.appending("partial-backup")
        try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: data + "/data.mdb", toPath: partial + "/data.mdb.partial")
        try truncate(partial + "/data.mdb.partial", to: size(partial + "/data.mdb.partial") / 2)
        let refused = try run("bomflow", ["restore", partial, "--data-dir", target, "--force"])
        #expect(refused.status == 65, "\(refused.output)")
        #expect(refused.output.contains("did not finish"), "\(refused.output)")

        try FileManager.default.moveItem(atPath: partial + "/data.mdb.partial", toPath: partial + "/data.mdb")
        for verify in [[], ["--verify"]] {
            let truncated = try run("bomflow", ["restore", partial, "--data-dir", target, "--force"] + verify)
            #expect(!truncated.signalled, "\(truncated.output)")
            #expect(truncated.status == 65 && truncated.output.contains("truncated"), "\(truncated.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: target + "/.restore"), "nothing left behind")
        #expect(size(target + "/data.mdb") == before, "the target is unchanged")
        #expect(try run("bomflow", ["check", "--data-dir", target]).status == 0)
    }
}
