import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking loopback TCP client for tests of the real server: raw bytes out, HTTP responses
/// (or raw bytes) in, every read bounded by a timeout.
public final class TCPClient {
    public let fd: Int32
    private var buffer: [UInt8] = []
    private var isOpen = true

    /// Connects to `127.0.0.1:port`.
    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = unsafe inet_addr("127.0.0.1")
        let result = unsafe withUnsafePointer(to: &address) { pointer in
            unsafe pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                unsafe connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .ECONNREFUSED)
        }
    }

    deinit { closeOnce() }

    /// Closes the socket; later calls do nothing (a second close could hit a reused fd that
    /// belongs to another test's server in this process).
    public func closeOnce() {
        guard isOpen else { return }
        isOpen = false
        Glibc.close(fd)
    }

    /// Sends all of `bytes` (ignoring EPIPE: the server may have closed).
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = unsafe bytes.withUnsafeBytes {
                unsafe Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// Sends UTF-8 text.
    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Shuts down the sending side (half-close).
    public func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with an RST (SO_LINGER 0).
    public func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = unsafe setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        closeOnce()
    }

    /// Reads whatever arrives within `timeout` seconds into the buffer.
    /// - Returns: false at end of stream (or error).
    @discardableResult
    private func fill(timeout: Double) -> Bool? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = unsafe poll(&poller, 1, Int32(timeout * 1000))
        if ready <= 0 { return nil }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = unsafe chunk.withUnsafeMutableBytes { unsafe recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    /// Everything received until the server closes or `timeout` seconds pass without data.
    public func readUntilClosed(timeout: Double = 5) -> (bytes: [UInt8], closed: Bool) {
        while true {
            switch fill(timeout: timeout) {
            case true?: continue
            case false?:
                defer { buffer.removeAll() }
                return (buffer, true)
            case nil:
                defer { buffer.removeAll() }
                return (buffer, false)
            }
        }
    }

    /// True when the server closed the connection within `timeout` seconds (data is discarded).
    public func isClosed(within timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            switch fill(timeout: deadline.timeIntervalSinceNow) {
            case false?: return true
            case true?: buffer.removeAll()
            case nil: return false
            }
        }
        return false
    }

    /// One parsed response.
    public struct Response: Sendable {
        public let status: Int
        public let headers: [(String, String)]
        public let body: [UInt8]
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Reads the next response (`Content-Length` framed; `noBody` for HEAD), or nil when none
    /// arrives complete within `timeout` seconds.
    public func readResponse(timeout: Double = 5, noBody: Bool = false) -> Response? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let end = headEnd() {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
                let headers = lines.compactMap { line -> (String, String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (
                        String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    )
                }
                let length =
                    noBody || status < 200 || status == 204 || status == 304
                    ? 0 : Int(headers.first { $0.0.lowercased() == "content-length" }?.1 ?? "0") ?? 0
                while buffer.count < end + 4 + length {
                    guard deadline.timeIntervalSinceNow > 0, fill(timeout: deadline.timeIntervalSinceNow) == true else {
                        return nil
                    }
                }
                let body = Array(buffer[(end + 4)..<(end + 4 + length)])
                buffer.removeSubrange(0..<(end + 4 + length))
                return Response(status: status, headers: headers, body: body)
            }
            guard deadline.timeIntervalSinceNow > 0, fill(timeout: deadline.timeIntervalSinceNow) == true else {
                return nil
            }
        }
    }

    private func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }
}

/// Open file descriptors of this process (/proc/self/fd).
public func openFileDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// Resident set size of this process in bytes (/proc/self/statm).
public func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return -1 }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * 4096 : -1
}
