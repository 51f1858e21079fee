internal import CLMDB

#if canImport(Glibc)
    internal import Glibc
#endif

/// Why a directory must not hold an environment (RELIABILITY.md L12, L13).
public enum LocationProblem: Error, Equatable, Sendable, CustomStringConvertible {
    /// LMDB's locks and shared memory map do not work on network file systems, "even between
    /// processes on the same host" (lmdb.h).
    case networkFileSystem(path: String, fileSystem: String)
    /// Anyone who can write the directory, `data.mdb` or `lock.mdb` can corrupt the data or hold
    /// the writer lock forever; a secret readable by others is no secret.
    case tooOpen(path: String, mode: UInt32, allowed: UInt32)
    /// The path cannot be examined.
    case unreadable(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .networkFileSystem(let path, let fileSystem):
            "\(path) is on a network file system (\(fileSystem)); LMDB needs a local one (ext4, xfs, btrfs, tmpfs)"
        case .tooOpen(let path, let mode, let allowed):
            Self.tooOpenDescription(path: path, mode: mode, allowed: allowed)
        case .unreadable(let path, let code):
            "cannot examine \(path): \(LMDBError(code: code))"
        }
    }

    /// Says in the file's own terms who has too much access and why it matters, e.g.
    /// "…/data.mdb has mode 660: its group may write it, and a writer can corrupt the data or hold
    /// the writer lock forever (chmod 640 …/data.mdb)".
    static func tooOpenDescription(path: String, mode: UInt32, allowed: UInt32) -> String {
        let excess = mode & ~allowed & 0o777
        var who: [String] = []
        if excess & 0o070 != 0 { who.append(excess & 0o020 != 0 ? "its group may write it" : "its group may read it") }
        if excess & 0o007 != 0 { who.append(excess & 0o002 != 0 ? "anyone may write it" : "anyone may read it") }
        let why =
            allowed & 0o077 == 0
            ? "it holds a secret" : "a writer can corrupt the data or hold the writer lock forever"
        return "\(path) has mode \(String(mode, radix: 8)): \(who.joined(separator: " and ")), and \(why) "
            + "(chmod \(String(mode & allowed, radix: 8)) \(path))"
    }
}

/// Checks a data directory before an environment is opened in it.
public enum Location {
    /// `statfs` `f_type` magic numbers of network, cluster and FUSE file systems (linux/magic.h
    /// and the file systems' sources), with a name for the message.
    static let networkFileSystems: [Int64: String] = [
        0x6969: "nfs", 0x517B: "smb", 0xFE53_4D42: "smb2", 0xFF53_4D42: "cifs", 0x6573_5546: "fuse",
        0x0102_1997: "9p", 0x5346_414F: "afs", 0x00C3_6400: "ceph", 0x0116_1970: "gfs2", 0x7461_636F: "ocfs2",
        0x0BD0_0BD0: "lustre", 0x4750_4653: "gpfs", 0x6B41_4653: "kafs", 0x0000_564C: "ncp",
    ]

    /// The name of the network file system with this `f_type`, or nil for a local one.
    public static func networkFileSystem(type: Int64) -> String? { networkFileSystems[type] }

    /// Refuses a directory on a network file system, a directory or environment file that
    /// others may write, and a private file (`privateFiles`, such as a key) that others may read.
    /// A directory that does not exist yet is checked through its nearest existing parent (it
    /// will be created with mode 0700).
    public static func check(directory: String, privateFiles: [String] = []) throws(LocationProblem) {
        let existing = nearestExisting(directory)
        var fileSystem = statfs()
        guard unsafe statfs(existing, &fileSystem) == 0 else { throw .unreadable(path: existing, errno: errno) }
        if let name = networkFileSystem(type: Int64(fileSystem.f_type)) {
            throw .networkFileSystem(path: directory, fileSystem: name)
        }
        guard existing == directory else { return }
        try checkMode(directory, allowed: 0o755)
        for file in ["data.mdb", "lock.mdb"] { try checkMode(directory + "/" + file, allowed: 0o755) }
        for file in privateFiles { try checkMode(directory + "/" + file, allowed: 0o700) }
    }

    /// Throws when `path` exists with permission bits outside `allowed`.
    private static func checkMode(_ path: String, allowed: UInt32) throws(LocationProblem) {
        var info = stat()
        guard unsafe stat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw .unreadable(path: path, errno: errno)
        }
        let mode = UInt32(info.st_mode) & 0o7777
        if mode & ~allowed & 0o777 != 0 { throw .tooOpen(path: path, mode: mode, allowed: allowed) }
    }

    private static func nearestExisting(_ directory: String) -> String {
        var path = directory
        while unsafe access(path, F_OK) != 0 {
            guard let slash = path.lastIndex(of: "/") else { return "." }
            if slash == path.startIndex { return "/" }
            path = String(path[..<slash])
        }
        return path
    }
}
