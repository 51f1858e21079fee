internal import CPosix

/// A failed system call, with `errno` captured at the call (STYLE.md rule 6).
public struct SyscallError: Error, Equatable, CustomStringConvertible {
    /// The call that failed.
    public let function: String
    /// The `errno` value.
    public let code: Int32

    public var description: String { "\(function) failed: errno \(code)" }
}

/// Thin, checked wrappers over the socket and event syscalls of the server (HTTPServer) and the
/// client (BomflowClient); they go through this type only. With LMDB, this module holds the
/// project's only `unsafe` code.
///
/// Rules (NIO's `syscall` wrapper): `EINTR` is retried; `EBADF` and `EFAULT` are programming
/// errors and stop the process; `EAGAIN` is a normal outcome, not an error.
public enum Posix {
    public static let eventIn = cposix_epollin()
    public static let eventOut = cposix_epollout()
    public static let eventReadHangUp = cposix_epollrdhup()
    public static let eventHangUp = cposix_epollhup()
    public static let eventError = cposix_epollerr()

    public static let wouldBlock = cposix_eagain()
    public static let interrupted = cposix_eintr()
    public static let tooManyOpenFiles = cposix_emfile()
    public static let tooManyOpenFilesInSystem = cposix_enfile()

    @inline(__always)
    private static func checkBug(_ code: Int32, _ function: String) {
        precondition(code != cposix_ebadf() && code != cposix_efault(), "\(function): errno \(code) (a bug)")
    }

    /// A listening TCP socket on `host:port` (0: a free port). - Returns: fd and bound port.
    public static func listen(host: String, port: Int, backlog: Int32, reusePort: Bool) throws(SyscallError) -> (
        fd: Int32, port: Int
    ) {
        var bound: Int32 = 0
        let result = unsafe cposix_listen_tcp(host, Int32(port), backlog, reusePort ? 1 : 0, &bound)
        guard result >= 0 else { throw SyscallError(function: "listen(\(host):\(port))", code: -result) }
        return (result, Int(bound))
    }

    public enum AcceptResult {
        case accepted(Int32)
        case wouldBlock
        case outOfDescriptors
        case failed(Int32)
    }

    public static func accept(_ fd: Int32) -> AcceptResult {
        while true {
            let result = cposix_accept(fd)
            if result >= 0 { return .accepted(result) }
            let code = -result
            if code == interrupted { continue }
            checkBug(code, "accept4")
            if code == wouldBlock { return .wouldBlock }
            if code == tooManyOpenFiles || code == tooManyOpenFilesInSystem { return .outOfDescriptors }
            return .failed(code)
        }
    }

    public enum IOResult {
        case transferred(Int)
        case endOfStream
        case wouldBlock
        case failed(Int32)
    }

    /// Reads into `buffer` (its whole capacity, from index 0).
    public static func read(_ fd: Int32, into buffer: inout [UInt8]) -> IOResult {
        while true {
            let result = unsafe buffer.withUnsafeMutableBytes { bytes in
                unsafe cposix_read(fd, bytes.baseAddress, bytes.count)
            }
            if result > 0 { return .transferred(result) }
            if result == 0 { return .endOfStream }
            let code = Int32(-result)
            if code == interrupted { continue }
            checkBug(code, "read")
            return code == wouldBlock ? .wouldBlock : .failed(code)
        }
    }

    /// Sends `bytes[offset...]` with `MSG_NOSIGNAL`.
    public static func send(_ fd: Int32, _ bytes: [UInt8], from offset: Int) -> IOResult {
        while true {
            let result = unsafe bytes.withUnsafeBytes { all in
                unsafe cposix_send(fd, all.baseAddress! + offset, all.count - offset)
            }
            if result >= 0 { return .transferred(result) }
            let code = Int32(-result)
            if code == interrupted { continue }
            checkBug(code, "send")
            return code == wouldBlock ? .wouldBlock : .failed(code)
        }
    }

    /// A blocking client connection with send/receive timeouts (BomflowClient's `HTTPClient`).
    public static func connect(host: String, port: Int, timeoutMilliseconds: Int32) throws(SyscallError) -> Int32 {
        let fd = unsafe cposix_connect_tcp(host, Int32(port), timeoutMilliseconds)
        guard fd >= 0 else { throw SyscallError(function: "connect", code: -fd) }
        return fd
    }

    public static func shutdownWrite(_ fd: Int32) { _ = cposix_shutdown_write(fd) }

    /// The peer's IP address as text, or nil when it cannot be read (the peer already left).
    public static func peerAddress(_ fd: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        let result = unsafe buffer.withUnsafeMutableBufferPointer {
            unsafe cposix_peer_address(fd, $0.baseAddress, $0.count)
        }
        guard result == 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Closes `fd`. EINTR is not retried (on Linux the fd is released either way).
    public static func close(_ fd: Int32) {
        let result = cposix_close(fd)
        if result < 0 { checkBug(-result, "close") }
    }

    public static func openReserve() -> Int32? {
        let fd = cposix_open_reserve()
        return fd >= 0 ? fd : nil
    }

    public static func ignoreSIGPIPE() { cposix_ignore_sigpipe() }

    public static func currentThreadID() -> Int32 { cposix_thread_id() }
}

/// An epoll instance; tokens identify what each registered fd is.
public struct Epoll: ~Copyable {
    public let fd: Int32

    public init() throws(SyscallError) {
        let result = cposix_epoll_create()
        guard result >= 0 else { throw SyscallError(function: "epoll_create1", code: -result) }
        fd = result
    }

    deinit { Posix.close(fd) }

    public func add(_ target: Int32, events: UInt32, token: UInt64) throws(SyscallError) {
        let result = cposix_epoll_ctl(fd, 1, target, events, token)
        guard result == 0 else { throw SyscallError(function: "epoll_ctl(ADD)", code: -result) }
    }

    public func modify(_ target: Int32, events: UInt32, token: UInt64) {
        let result = cposix_epoll_ctl(fd, 2, target, events, token)
        precondition(result == 0, "epoll_ctl(MOD) failed: errno \(-result)")
    }

    public func remove(_ target: Int32) {
        _ = cposix_epoll_ctl(fd, 3, target, 0, 0)
    }

    /// Waits up to `timeout` milliseconds; fills `tokens`/`events`. - Returns: the event count.
    public func wait(tokens: inout [UInt64], events: inout [UInt32], timeout: Int32) -> Int {
        let capacity = Int32(min(tokens.count, events.count))
        let result = unsafe tokens.withUnsafeMutableBufferPointer { tokenBuffer in
            unsafe events.withUnsafeMutableBufferPointer { eventBuffer in
                unsafe cposix_epoll_wait(fd, tokenBuffer.baseAddress, eventBuffer.baseAddress, capacity, timeout)
            }
        }
        if result >= 0 { return Int(result) }
        precondition(-result == Posix.interrupted, "epoll_wait failed: errno \(-result)")
        return 0
    }
}

/// An eventfd that wakes an epoll loop from other threads.
public struct EventFD: ~Copyable {
    public let fd: Int32

    public init() throws(SyscallError) {
        let result = cposix_eventfd()
        guard result >= 0 else { throw SyscallError(function: "eventfd", code: -result) }
        fd = result
    }

    deinit { Posix.close(fd) }

    public func signal() { _ = cposix_eventfd_signal(fd) }

    public func drain() { _ = cposix_eventfd_drain(fd) }
}
