/// Bounds of a response a client reads; more is an error, not a bigger buffer.
public struct ResponseLimits: Sendable, Equatable {
    /// Bytes of the status line without CRLF.
    public var statusLineBytes = 8192
    /// Bytes of all header lines (and of the trailer section).
    public var headerBytes = 65536
    /// Header fields (and trailer fields).
    public var headerCount = 100
    /// Body bytes, by Content-Length or chunked.
    public var bodyBytes = 64 << 20
    /// Bytes of one chunk-size line (size and extensions).
    public var chunkLineBytes = 1024

    /// The defaults.
    public init() {}
}

/// A response as a client received it.
public struct ClientResponse: Sendable {
    /// The status code.
    public var status: Int
    /// The header fields.
    public var headers: HTTPHeaders
    /// The body (decoded from chunks when it came chunked).
    public var body: [UInt8]
    /// The server will close the connection after this response.
    public var closesConnection: Bool
}

/// Why a response was refused.
public struct ResponseParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// An incremental, bounded HTTP/1.1 response parser (RFC 9112) for the client side: feed it what
/// the socket gave with ``consume(_:)`` until it returns the response. It scans each byte once
/// (a search resumes where the last one stopped), refuses a status line, header section, chunk
/// line or body over its ``ResponseLimits``, and decodes `Transfer-Encoding: chunked`. A body
/// delimited only by the connection's close is refused: bomflow's peers always frame bodies.
public struct ResponseParser: Sendable {
    private enum State: Sendable {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case done
    }

    private let limits: ResponseLimits
    private let bodyless: Bool
    private var buffer: [UInt8] = []
    private var position = 0
    private var scanFrom = 0
    private var state = State.head
    private var response = ClientResponse(status: 0, headers: HTTPHeaders(), body: [], closesConnection: false)
    private var trailerBytes = 0
    private var trailerCount = 0

    /// A parser for the answer to one request; `forHEAD`: the answer to a HEAD has no body.
    public init(limits: ResponseLimits = ResponseLimits(), forHEAD: Bool = false) {
        self.limits = limits
        self.bodyless = forHEAD
    }

    /// Bytes received after the response ended (a pipelined next response); nil until then.
    public var leftover: ArraySlice<UInt8> { buffer[position...] }

    /// Adds received bytes. - Returns: the whole response once it is complete, else nil.
    public mutating func consume(_ bytes: some Collection<UInt8>) throws(ResponseParseError) -> ClientResponse? {
        buffer.append(contentsOf: bytes)
        while true {
            switch state {
            case .done:
                return response
            case .head:
                guard let end = findEmptyLine() else {
                    let pending = buffer.count - position
                    if pending > limits.statusLineBytes + 2 + limits.headerBytes {
                        throw ResponseParseError("the response head is longer than \(limits.headerBytes) bytes")
                    }
                    return nil
                }
                try parseHead(buffer[position..<end])
                position = end + 4
                scanFrom = position
            case .fixed(let remaining):
                let take = min(remaining, buffer.count - position)
                response.body.append(contentsOf: buffer[position..<position + take])
                position += take
                if take < remaining {
                    state = .fixed(remaining: remaining - take)
                    compact()
                    return nil
                }
                state = .done
            case .chunkSize:
                guard let end = findCRLF() else {
                    if buffer.count - position > limits.chunkLineBytes {
                        throw ResponseParseError("a chunk-size line is longer than \(limits.chunkLineBytes) bytes")
                    }
                    return nil
                }
                guard end - position <= limits.chunkLineBytes else {
                    throw ResponseParseError("a chunk-size line is longer than \(limits.chunkLineBytes) bytes")
                }
                let size = try chunkSize(buffer[position..<end])
                position = end + 2
                scanFrom = position
                guard response.body.count + size <= limits.bodyBytes else {
                    throw ResponseParseError("the body is longer than \(limits.bodyBytes) bytes")
                }
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let take = min(remaining, buffer.count - position)
                response.body.append(contentsOf: buffer[position..<position + take])
                position += take
                scanFrom = position
                if take < remaining {
                    state = .chunkData(remaining: remaining - take)
                    compact()
                    return nil
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard buffer.count - position >= 2 else { return nil }
                guard buffer[position] == 13, buffer[position + 1] == 10 else {
                    throw ResponseParseError("a chunk is not followed by CRLF")
                }
                position += 2
                scanFrom = position
                state = .chunkSize
            case .trailers:
                guard let end = findCRLF() else {
                    if trailerBytes + buffer.count - position > limits.headerBytes {
                        throw ResponseParseError("the trailer section is longer than \(limits.headerBytes) bytes")
                    }
                    return nil
                }
                let length = end - position
                position = end + 2
                scanFrom = position
                if length == 0 {
                    state = .done
                    continue
                }
                trailerBytes += length
                trailerCount += 1
                guard trailerBytes <= limits.headerBytes, trailerCount <= limits.headerCount else {
                    throw ResponseParseError("the trailer section is over its limits")
                }
            }
        }
    }

    /// Drops consumed bytes while a large body streams in, so the buffer stays small.
    private mutating func compact() {
        guard position > 65536 else { return }
        buffer.removeFirst(position)
        scanFrom -= position
        position = 0
    }

    private mutating func findEmptyLine() -> Int? {
        var index = max(scanFrom, position)
        while index + 3 < buffer.count {
            if buffer[index] == 13, buffer[index + 1] == 10, buffer[index + 2] == 13, buffer[index + 3] == 10 {
                return index
            }
            index += 1
        }
        scanFrom = max(position, buffer.count - 3)
        return nil
    }

    private mutating func findCRLF() -> Int? {
        var index = max(scanFrom, position)
        while index + 1 < buffer.count {
            if buffer[index] == 13, buffer[index + 1] == 10 { return index }
            index += 1
        }
        scanFrom = max(position, buffer.count - 1)
        return nil
    }

    private mutating func parseHead(_ head: ArraySlice<UInt8>) throws(ResponseParseError) {
        var lines = head.split(separator: 10, omittingEmptySubsequences: false).map { line in
            line.last == 13 ? line.dropLast() : line
        }
        guard !lines.isEmpty else { throw ResponseParseError("an empty response head") }
        let statusLine = lines.removeFirst()
        guard statusLine.count <= limits.statusLineBytes else {
            throw ResponseParseError("the status line is longer than \(limits.statusLineBytes) bytes")
        }
        // HTTP/1.x SP 3DIGIT SP reason
        let prefix = Array("HTTP/1.".utf8)
        guard statusLine.count >= 12, statusLine.prefix(7).elementsEqual(prefix),
            statusLine[statusLine.startIndex + 8] == 32
        else { throw ResponseParseError("not an HTTP/1.x status line") }
        let digits = statusLine[(statusLine.startIndex + 9)..<(statusLine.startIndex + 12)]
        guard digits.allSatisfy({ (48...57).contains($0) }) else {
            throw ResponseParseError("the status code is not three digits")
        }
        let status = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
        guard (100...599).contains(status) else { throw ResponseParseError("status \(status) is out of range") }
        var headers = HTTPHeaders()
        var total = 0
        for line in lines {
            total += line.count + 2
            guard total <= limits.headerBytes, headers.count < limits.headerCount else {
                throw ResponseParseError("the header section is over its limits")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                throw ResponseParseError("a header line without a name")
            }
            let name = line[..<colon]
            guard name.allSatisfy(isTokenByte) else {
                throw ResponseParseError("a header name with invalid characters")
            }
            var value = line[(colon + 1)...]
            while let first = value.first, first == 32 || first == 9 { value = value.dropFirst() }
            while let last = value.last, last == 32 || last == 9 { value = value.dropLast() }
            guard !value.contains(where: { $0 == 0 || $0 == 13 || $0 == 10 }) else {
                throw ResponseParseError("a header value with a control character")
            }
            headers.add(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        }
        response.status = status
        response.headers = headers
        response.closesConnection = headers.values("Connection").contains { $0.lowercased().contains("close") }
        if bodyless || (100..<200).contains(status) || status == 204 || status == 304 {
            state = .done
            return
        }
        let encodings = headers.values("Transfer-Encoding")
        if !encodings.isEmpty {
            guard encodings.joined(separator: ",").lowercased().split(separator: ",").last?.trimmed == "chunked" else {
                throw ResponseParseError("a transfer coding other than chunked")
            }
            state = .chunkSize
            return
        }
        let lengths = Set(headers.values("Content-Length"))
        guard lengths.count == 1, let text = lengths.first, !text.isEmpty,
            text.utf8.allSatisfy({ (48...57).contains($0) }),
            text.utf8.count <= 18, let length = Int(text)
        else { throw ResponseParseError("a response without one valid Content-Length or chunked encoding") }
        guard length <= limits.bodyBytes else {
            throw ResponseParseError("the body is longer than \(limits.bodyBytes) bytes")
        }
        state = length == 0 ? .done : .fixed(remaining: length)
    }

    private func chunkSize(_ line: ArraySlice<UInt8>) throws(ResponseParseError) -> Int {
        let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != 32 && $0 != 9 }
        guard !digits.isEmpty, digits.count <= 15 else { throw ResponseParseError("an invalid chunk size") }
        var size = 0
        for byte in digits {
            guard let value = hexValue(byte) else { throw ResponseParseError("an invalid chunk size") }
            size = size * 16 + Int(value)
        }
        return size
    }
}

extension Substring {
    fileprivate var trimmed: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return text
    }
}
