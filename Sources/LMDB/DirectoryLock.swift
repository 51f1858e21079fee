#if canImport(Glibc)
    internal import Glibc
#endif

/// An advisory `flock(2)` on `<directory>/bomflow.lock`: every process that uses the directory
/// holds it shared; a tool that replaces the files under everyone (restore) holds it exclusive.
///
/// LMDB itself cannot say whether some process has the environment open (a process may hold it
/// without a reader slot), so this lock answers that question. The kernel releases it when the
/// process ends, however it ends. It lives in a file of its own: closing any descriptor of
/// `data.mdb` or `lock.mdb` would drop LMDB's own `fcntl` locks (L15).
public final class DirectoryLock: Sendable {
    /// Shared: use the directory. Exclusive: nobody else may have it open.
    public enum Mode: Sendable {
        case shared
        case exclusive
    }

    private let descriptor: Int32

    /// The name of the lock file inside the directory.
    public static let fileName = "bomflow.lock"

    /// Takes the lock without waiting, creating the directory (mode 0700) when it is missing.
    /// - Throws: ``LMDBError/tryAgain`` (`EAGAIN`) when another process holds it in a conflicting
    ///   mode; another `errno` when the file cannot be opened.
    public init(directory: String, mode: Mode) throws(LMDBError) {
        try Self.makeDirectory(directory)
        let path = directory + "/" + Self.fileName
        let fd = unsafe open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode_t(0o600))
        guard fd >= 0 else { throw LMDBError(code: errno) }
        var result: Int32
        repeat {
            result = flock(fd, (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB)
        } while result != 0 && errno == EINTR
        if result != 0 {
            let code = errno == EWOULDBLOCK ? EAGAIN : errno
            _ = close(fd)
            throw LMDBError(code: code)
        }
        descriptor = fd
    }

    deinit { _ = close(descriptor) }

    /// Whether no other holder (process, or other lock in this process) has the directory: tries
    /// to turn this shared lock exclusive without waiting, and turns it back to shared.
    public func isSoleHolder() -> Bool {
        var result: Int32
        repeat { result = flock(descriptor, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
        guard result == 0 else { return false }
        repeat { result = flock(descriptor, LOCK_SH) } while result != 0 && errno == EINTR
        return true
    }

    /// Creates `directory` with mode 0700, and missing parents with 0755 (like `mkdir -p`).
    static func makeDirectory(_ directory: String) throws(LMDBError) {
        if unsafe mkdir(directory, 0o700) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, let slash = directory.lastIndex(of: "/"), slash != directory.startIndex else {
            throw LMDBError(code: errno)
        }
        let parent = String(directory[..<slash])
        if unsafe mkdir(parent, 0o755) != 0 && errno != EEXIST {
            guard errno == ENOENT else { throw LMDBError(code: errno) }
            try makeDirectory(parent)
            _ = unsafe chmod(parent, 0o755)
        }
        if unsafe mkdir(directory, 0o700) != 0 && errno != EEXIST { throw LMDBError(code: errno) }
    }

    /// Atomically puts the file `source` in place of `target` (rename(2) on one file system).
    /// For a restore, under the exclusive lock.
    public static func replace(_ target: String, with source: String) throws(LMDBError) {
        if unsafe rename(source, target) != 0 { throw LMDBError(code: errno) }
    }
}
