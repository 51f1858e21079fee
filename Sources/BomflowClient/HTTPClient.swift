public import HTTP1
internal import Sockets

/// A small blocking HTTP/1.1 client: one keep-alive connection to one server given by IP
/// literal and port. Requests are written by ``RequestSerializer`` (no CR/LF can reach the head),
/// responses read by the bounded ``ResponseParser`` (Content-Length or chunked). No TLS and no
/// redirects: it talks to bomflow servers on loopback or a LAN (`bomflow worker`, the tests).
public final class HTTPClient {
    /// An answer.
    public typealias Response = ClientResponse

    /// Why a request got no answer.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let host: String
    private let port: Int
    private let limits: ResponseLimits
    private var fd: Int32?
    /// Bytes read past the last response (a server never sends them unasked; kept for correctness).
    private var carry: [UInt8] = []

    /// A client of `host` (an IP literal) and `port`; connects on the first request.
    public init(host: String, port: Int, limits: ResponseLimits = ResponseLimits()) {
        self.host = host
        self.port = port
        self.limits = limits
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
    /// turns out closed before anything came back. `timeout` bounds connecting, each send and
    /// each receive.
    public func request(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [], timeout: Double = 10
    ) throws(Failure) -> Response {
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let head: [UInt8]
        do {
            head = try RequestSerializer.head(
                method: method, target: path, host: authority, headers: headers, bodyLength: body.count)
        } catch {
            throw Failure(description: "refusing to send: \(error)")
        }
        let bytes = head + body
        for attempt in 0..<2 {
            do {
                return try exchange(bytes, forHEAD: method == "HEAD", timeout: timeout)
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

    private func exchange(_ bytes: [UInt8], forHEAD: Bool, timeout: Double) throws(ExchangeError) -> Response {
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
            carry.removeAll()
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
        var parser = ResponseParser(limits: limits, forHEAD: forHEAD)
        var received = false
        var chunk = [UInt8](repeating: 0, count: 16_384)
        var pending = carry
        carry.removeAll()
        while true {
            do {
                if let response = try parser.consume(pending) {
                    carry = Array(parser.leftover)
                    if response.closesConnection { disconnect() }
                    return response
                }
            } catch {
                throw ExchangeError(description: "an invalid response: \(error)", retryable: false)
            }
            switch Posix.read(socket, into: &chunk) {
            case .transferred(let count):
                received = true
                pending = Array(chunk[..<count])
            case .wouldBlock: throw ExchangeError(description: "timed out waiting for the response", retryable: false)
            case .endOfStream, .failed:
                throw ExchangeError(
                    description: "the connection closed before the response", retryable: reused && !received)
            }
        }
    }

    private func disconnect() {
        if let fd { Posix.close(fd) }
        fd = nil
        carry.removeAll()
    }
}
