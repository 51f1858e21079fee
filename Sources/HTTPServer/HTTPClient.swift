/// A small blocking HTTP/1.1 client for `bomflow worker`: one keep-alive connection to one
/// loopback or LAN server, `Content-Length` bodies only (what bomflow's server sends). Not for
/// the open internet: no TLS, no chunked responses, no redirects.
public final class HTTPClient {
    /// An answer.
    public struct Response: Sendable {
        public let status: Int
        public let headers: [(name: String, value: String)]
        public let body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// Why a request got no answer.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let host: String
    private let port: Int
    private var fd: Int32?
    private var buffer: [UInt8] = []

    /// A client of `host` (an IP literal) and `port`; connects on the first request.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    deinit { disconnect() }

    /// Parses `http://HOST:PORT` (an IP literal; `localhost` means 127.0.0.1).
    public static func endpoint(_ url: String) -> (host: String, port: Int)? {
        guard url.hasPrefix("http://") else { return nil }
        var rest = Substring(url.dropFirst(7))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { return nil }
            portText = after.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { return nil }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard let port = Int(portText), (1...65535).contains(port), !host.isEmpty else { return nil }
        return (host == "localhost" ? "127.0.0.1" : String(host), port)
    }

    /// Sends one request and reads its response; reconnects once when a kept-alive connection
    /// turns out closed. `timeout` bounds connecting, each send and each receive.
    public func request(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [], timeout: Double = 10
    ) throws(Failure) -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        let bytes = Array(head.utf8) + body
        for attempt in 0..<2 {
            do {
                return try exchange(bytes, timeout: timeout)
            } catch {
                disconnect()
                if attempt == 1 || !error.retryable { throw Failure(description: error.description) }
            }
        }
        throw Failure(description: "unreachable")
    }

    private struct ExchangeError: Error, CustomStringConvertible {
        let description: String
        /// The connection was found closed before anything came back: safe to send again.
        let retryable: Bool
    }

    private func exchange(_ bytes: [UInt8], timeout: Double) throws(ExchangeError) -> Response {
        let milliseconds = Int32(max(1, min(timeout * 1000, 3_600_000)))
        let reused = fd != nil
        let socket: Int32
        if let fd {
            socket = fd
        } else {
            do {
                socket = try Posix.connect(host: host, port: port, timeoutMilliseconds: milliseconds)
            } catch {
                throw ExchangeError(description: "cannot connect to \(host):\(port): \(error)", retryable: false)
            }
            fd = socket
            buffer.removeAll()
        }
        var offset = 0
        while offset < bytes.count {
            switch Posix.send(socket, bytes, from: offset) {
            case .transferred(let count): offset += count
            case .wouldBlock: throw ExchangeError(description: "timed out sending", retryable: false)
            case .endOfStream, .failed:
                throw ExchangeError(description: "the connection closed while sending", retryable: reused)
            }
        }
        // Head.
        var headEnd: Int?
        while headEnd == nil {
            if let end = Self.find([13, 10, 13, 10], in: buffer) {
                headEnd = end
                break
            }
            try receive(socket, retryableOnClose: reused && buffer.isEmpty)
        }
        let headBytes = Array(buffer[..<headEnd!])
        buffer.removeFirst(headEnd! + 4)
        let lines = String(decoding: headBytes, as: UTF8.self).split(
            separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines.first?.split(separator: " ", maxSplits: 2) ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw ExchangeError(description: "not an HTTP/1.1 response", retryable: false)
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingSpaces()))
        }
        let response = { (body: [UInt8]) in Response(status: status, headers: headers, body: body) }
        let lengthText = headers.first { $0.name.lowercased() == "content-length" }?.value
        guard let lengthText, let length = Int(lengthText), length >= 0, length <= 64 << 20 else {
            throw ExchangeError(description: "a response without a usable Content-Length", retryable: false)
        }
        while buffer.count < length { try receive(socket, retryableOnClose: false) }
        let body = Array(buffer[..<length])
        buffer.removeFirst(length)
        if headers.contains(where: { $0.name.lowercased() == "connection" && $0.value.lowercased() == "close" }) {
            disconnect()
        }
        return response(body)
    }

    private func receive(_ socket: Int32, retryableOnClose: Bool) throws(ExchangeError) {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        switch Posix.read(socket, into: &chunk) {
        case .transferred(let count): buffer.append(contentsOf: chunk[..<count])
        case .wouldBlock: throw ExchangeError(description: "timed out waiting for the response", retryable: false)
        case .endOfStream, .failed:
            throw ExchangeError(description: "the connection closed before the response", retryable: retryableOnClose)
        }
    }

    private func disconnect() {
        if let fd { Posix.close(fd) }
        fd = nil
        buffer.removeAll()
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count)
        where haystack[start..<start + needle.count].elementsEqual(needle) {
            return start
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
