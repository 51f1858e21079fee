internal import FoundationEssentials
internal import LMDB
public import Storage

/// What ``LMDBStore/restore(from:into:replacing:verify:options:)`` did.
public struct RestoreReport: Sendable, Equatable {
    /// Workflows in the restored directory.
    public var workflows: Int
    /// Size of the restored `data.mdb`.
    public var bytes: Int
    /// Problems ``LMDBStore/verifyIntegrity()`` found in the copy (only with `verify`).
    public var problems: [String]
}

extension LMDBStore {
    /// Replaces the data of `directory` with the backup in `source` (a directory holding the
    /// `data.mdb` that ``backup(to:)`` wrote).
    ///
    /// Refuses while any process uses `directory` (every open store holds its
    /// ``DirectoryLock`` shared; this takes it exclusive), and refuses existing data unless
    /// `replacing`. The backup is first copied beside the data and opened there (format version,
    /// counts, and with `verify` every invariant); only a copy that passes is renamed over
    /// `data.mdb` (one atomic rename, then the directory is synced), and the old `lock.mdb`,
    /// whose reader table described the old file, is removed. Until the rename nothing of
    /// `directory` changed.
    public static func restore(
        from source: String, into directory: String, replacing: Bool, verify: Bool = false,
        options: StoreOptions = StoreOptions()
    ) throws(StoreError) -> RestoreReport {
        let manager = FileManager.default
        let backup = source + "/data.mdb"
        guard manager.fileExists(atPath: backup) else {
            if manager.fileExists(atPath: backup + ".partial") {
                throw .corrupted("\(source) holds only data.mdb.partial: that backup did not finish; take it again")
            }
            throw .failed("\(source) holds no data.mdb to restore")
        }
        // Sizes and meta pages before anything maps the file (a partial copy faulted here).
        do { _ = try DataFile(path: backup) } catch {
            throw .corrupted("the backup cannot be restored: \(error)")
        }
        do { try Location.check(directory: directory) } catch { throw .unsafeLocation(error.description) }
        let lock: DirectoryLock
        do {
            lock = try DirectoryLock(directory: directory, mode: .exclusive)
        } catch .tryAgain {
            throw .unavailable(
                "\(directory) is in use by another process (a server or a bomflow command); stop it first")
        } catch {
            throw .failed("cannot lock \(directory)/\(DirectoryLock.fileName): \(error)")
        }
        defer { withExtendedLifetime(lock) {} }
        let target = directory + "/data.mdb"
        if manager.fileExists(atPath: target) && !replacing {
            throw .failed("\(directory) already holds data; pass --force to replace it with the backup")
        }
        let staging = directory + "/.restore"
        try? manager.removeItem(atPath: staging)
        do {
            try manager.createDirectory(
                atPath: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            try manager.copyItem(atPath: backup, toPath: staging + "/data.mdb")
            try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: staging + "/data.mdb")
            try Self.synchronize(staging + "/data.mdb")
        } catch {
            try? manager.removeItem(atPath: staging)
            throw .failed("cannot copy \(backup) into \(staging): \(error)")
        }
        var report = RestoreReport(workflows: 0, bytes: 0, problems: [])
        do {
            try examine(staging, options: options, verify: verify, into: &report)
        } catch {
            try? manager.removeItem(atPath: staging)
            throw error
        }
        guard report.problems.isEmpty else {
            try? manager.removeItem(atPath: staging)
            return report
        }
        do {
            try DirectoryLock.replace(target, with: staging + "/data.mdb")
            try? manager.removeItem(atPath: directory + "/lock.mdb")
            try? manager.removeItem(atPath: staging)
            try Self.synchronize(directory)
        } catch {
            throw .failed("cannot move the restored data into \(directory): \(error)")
        }
        report.bytes = ((try? manager.attributesOfItem(atPath: target))?[.size] as? Int) ?? 0
        return report
    }

    /// Opens the copy (format version, counts, with `verify` every invariant); the store is
    /// closed again when this returns, before the copy is moved.
    private static func examine(
        _ staging: String, options: StoreOptions, verify: Bool, into report: inout RestoreReport
    ) throws(StoreError) {
        let copy = try LMDBStore(path: staging, options: options)
        report.workflows = try copy.cheapFigures().workflows
        if verify { report.problems = try copy.verifyIntegrity() }
    }

    /// fsync(2) of a file or directory.
    static func synchronize(_ path: String) throws { try FileSync.synchronize(path: path) }
}

/// What ``LMDBStore/check(directory:)`` found.
public struct CheckReport: Sendable, Equatable {
    /// Pages walked.
    public var pages: Int
    /// What is damaged, one line each (empty: nothing found).
    public var problems: [String]
}

extension LMDBStore {
    /// Checks the data directory read-only without mapping anything (`bomflow check`,
    /// `serve --check-on-start`): the marker against `data.mdb`, the file's size against its meta
    /// pages, and every page of every database (``DataFile/walk(limit:)``).
    public static func check(directory: String) -> CheckReport {
        do { try checkFiles(in: directory) } catch { return CheckReport(pages: 0, problems: [error.description]) }
        let data = directory + "/data.mdb"
        guard FileManager.default.fileExists(atPath: data) else {
            return CheckReport(pages: 0, problems: ["\(data) does not exist"])
        }
        let file: DataFile
        do { file = try DataFile(path: data) } catch { return CheckReport(pages: 0, problems: [error.description]) }
        let walked = file.walk()
        return CheckReport(pages: walked.pages, problems: walked.problems)
    }
}
