import Foundation
import LMDB
import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

/// Issue 16 §5: `--sync none` and `--sync full` writers on one data directory.
struct SyncModeTests {
    @Test func theOtherSyncModeIsRefusedWhileTheDirectoryIsInUse() throws {
        let fixture = try StoreFixture()  // --sync none, open for the whole test
        try fixture.create(Token.make(1))
        var full = fixture.db.options
        full.durability = .full
        let refusal = #expect(throws: StoreError.self) { try LMDBStore(path: fixture.directory.path, options: full) }
        let why = refusal.map { String(describing: $0) } ?? ""
        #expect(why.contains("--sync none") && why.contains("--sync full"), "\(why)")
        #expect(why.contains("OS crash"))
        // Readers write nothing, so their mode does not matter.
        var reader = full
        reader.readOnly = true
        #expect(try LMDBStore(path: fixture.directory.path, options: reader).workflow(Token.make(1)) != nil)
        // The same mode is fine.
        _ = try LMDBStore(path: fixture.directory.path, options: fixture.db.options)
    }

    @Test func aProcessAloneMayChangeTheMode() throws {
        let fixture = try StoreFixture()
        try fixture.reopen { $0.durability = .full }  // nobody else holds the directory: recorded anew
        var none = fixture.db.options
        none.durability = .none
        #expect(throws: StoreError.self) { try LMDBStore(path: fixture.directory.path, options: none) }
    }
}

/// Issue 16 §2 (part): the read-only commands open `MDB_RDONLY`, and a store that exists opens
/// its databases in a read transaction: neither needs the writer lock.
struct ReadOnlyOpenTests {
    @Test func readOnlyStoresReadAndNeverWrite() throws {
        let fixture = try StoreFixture()
        try fixture.create(Token.make(7))
        var options = fixture.db.options
        options.readOnly = true
        let reader = try LMDBStore(path: fixture.directory.path, options: options)
        #expect(try reader.workflow(Token.make(7)) != nil)

        // Read-only first, in a fresh process state: a writer for the same directory in this
        // process is refused (LMDB allows one environment per file per process).
        let other = try TemporaryDirectory("readonly-first")
        defer { other.remove() }
        do {
            var writable = fixture.db.options
            writable.readOnly = false
            _ = try LMDBStore(path: other.path, options: writable)
        }
        var readOnly = fixture.db.options
        readOnly.readOnly = true
        let first = try LMDBStore(path: other.path, options: readOnly)
        var writable = fixture.db.options
        writable.readOnly = false
        #expect(throws: StoreError.self) { try LMDBStore(path: other.path, options: writable) }
        withExtendedLifetime(first) {}

        let empty = try TemporaryDirectory("readonly-empty")
        defer { empty.remove() }
        #expect(throws: StoreError.self) { try LMDBStore(path: empty.path, options: options) }
    }
}

/// The truncation check reads the meta pages before the file's size: while another process
/// commits, the file grows before the meta page that counts the new pages, so this order never
/// calls a healthy, growing file truncated (the first CI run of the check met the other order).
struct DataFileUnderWritesTests {
    @Test func aGrowingFileIsNeverTakenForATruncatedOne() throws {
        let fixture = try StoreFixture()
        let writer = try ChildProcess(
            "bomflow-store-driver",
            [
                "hammer", "--dir", fixture.directory.path, "--process", "1", "--count", "3000", "--pad", "200",
                "--sync", "none",
            ])
        var checks = 0
        var problems: [String] = []
        while writer.process.isRunning {
            do { _ = try DataFile(path: fixture.directory.path + "/data.mdb") } catch { problems.append("\(error)") }
            checks += 1
        }
        #expect(writer.wait() == 0)
        #expect(checks > 100, "checked while the file grew: \(checks)")
        #expect(problems.isEmpty, "\(problems.prefix(3))")
    }
}
