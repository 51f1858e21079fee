#if canImport(Glibc)
    internal import Glibc
#endif

/// A file (or standard stream) read and written through its descriptor: what the CLI's export and
/// import use instead of Foundation's `FileHandle`. Every call is checked; partial reads and
/// writes and `EINTR` are handled here.
public final class FileStream {
    public let fd: Int32
    private let owned: Bool
    private var closed = false

    private init(fd: Int32, owned: Bool) {
        self.fd = fd
        self.owned = owned
    }

    deinit { if owned && !closed { _ = Glibc.close(fd) } }

    public static var standardInput: FileStream { FileStream(fd: 0, owned: false) }
    public static var standardOutput: FileStream { FileStream(fd: 1, owned: false) }

    /// Opens `path` for reading.
    public static func reading(_ path: String) throws(SyscallError) -> FileStream {
        let fd = unsafe open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SyscallError(function: "open", code: errno) }
        return FileStream(fd: fd, owned: true)
    }

    /// Creates (or truncates) `path` for writing, with `mode` for a new file.
    public static func creating(_ path: String, mode: UInt32) throws(SyscallError) -> FileStream {
        let fd = unsafe open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw SyscallError(function: "open", code: errno) }
        return FileStream(fd: fd, owned: true)
    }

    /// Up to `count` bytes; empty at the end of the file.
    public func read(upTo count: Int) throws(SyscallError) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: count)
        while true {
            let read = unsafe chunk.withUnsafeMutableBytes { buffer in
                unsafe Glibc.read(fd, buffer.baseAddress!, buffer.count)
            }
            if read < 0 {
                if errno == EINTR { continue }
                throw SyscallError(function: "read", code: errno)
            }
            chunk.removeSubrange(read...)
            return chunk
        }
    }

    /// Everything to the end of the file.
    public func readAll() throws(SyscallError) -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            let chunk = try read(upTo: 1 << 20)
            if chunk.isEmpty { return bytes }
            bytes.append(contentsOf: chunk)
        }
    }

    /// Writes every byte.
    public func write(_ bytes: [UInt8]) throws(SyscallError) {
        if let code = Self.writeAll(bytes, to: fd) { throw SyscallError(function: "write", code: code) }
    }

    /// Writes every byte of `bytes` to `fd` (partial writes resumed, `EINTR` retried). - Returns:
    /// nil, or the `errno` of the write that failed.
    static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let written = unsafe bytes.withUnsafeBytes { buffer in
                unsafe Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return nil
    }

    /// fsync(2).
    public func synchronize() throws(SyscallError) {
        guard fsync(fd) == 0 else { throw SyscallError(function: "fsync", code: errno) }
    }

    /// Closes an opened file (standard streams stay open).
    public func close() throws(SyscallError) {
        guard owned, !closed else { return }
        closed = true
        guard Glibc.close(fd) == 0 else { throw SyscallError(function: "close", code: errno) }
    }
}
