/// An incremental, bounded HTTP/1.1 request parser (RFC 9112), pure value code: feed it bytes
/// with ``append(_:)`` and pull events with ``next()``.
///
/// It is strict where RFC 9112 allows leniency (RELIABILITY.md R2): bare LF or CR, obs-fold,
/// whitespace before a colon, duplicate or malformed `Content-Length`, `Content-Length` with
/// `Transfer-Encoding`, a transfer coding other than a single final `chunked`, invalid chunk
/// sizes or extensions, a missing or repeated `Host` are all errors. The first error is final:
/// ``next()`` keeps returning it and no later byte is looked at, so a smuggled request is never
/// parsed.
///
/// Results do not depend on how the input is split: every line is scanned from its first byte
/// over the same bounded prefix, so feeding a message byte by byte or in one piece gives the
/// same events (tested on every fixture).
public struct RequestParser: Sendable {
    /// What ``next()`` found.
    public enum Event: Sendable {
        /// Nothing complete yet: read more from the connection.
        case needMoreBytes
        /// The head of a request with a body is complete and within limits; the body has not
        /// been read. The server may refuse the request now (and must then close, RFC 9112 §9.3),
        /// or, when `expectContinue` is true (HTTP/1.1 `Expect: 100-continue`), send
        /// `100 Continue`; then it calls ``next()`` again for the whole request.
        case head(HTTPRequest, expectContinue: Bool)
        /// A complete request.
        case request(HTTPRequest)
        /// The input is malformed or over a limit; final.
        case failed(ParseError)
    }

    private struct Head: Sendable {
        var method: HTTPMethod
        var target: String
        var version: HTTPVersion
        var headers = HTTPHeaders()
        var headerBytes = 0
        var contentLength = 0
        var chunked = false
        var keepAlive = true
        var expectContinue = false
        var body: [UInt8] = []
        var extensionBytes = 0
        var trailerBytes = 0
        var trailerCount = 0
        /// ``HTTPLimits/bodyBytes(method:target:)`` for this request.
        var bodyLimit = 0
    }

    private enum State: Sendable {
        case requestLine(skippedEmptyLine: Bool)
        case headers(Head)
        case headDelivered(Head)
        case body(Head)
        case chunkSize(Head)
        case chunkData(Head, remaining: Int)
        case chunkEnd(Head)
        case trailers(Head)
        case failed(ParseError)
    }

    /// The limits this parser enforces.
    public let limits: HTTPLimits
    private var buffer: [UInt8] = []
    private var start = 0
    private var state = State.requestLine(skippedEmptyLine: false)

    /// Creates a parser with `limits`.
    public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }

    /// Appends bytes read from the connection.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 65536 && start > buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// True between requests with nothing buffered: an idle keep-alive connection.
    public var isIdle: Bool {
        if case .requestLine = state { return start == buffer.count }
        return false
    }

    /// True once the head of the current request is complete (the body may be pending).
    public var hasCompleteHead: Bool {
        switch state {
        case .requestLine, .headers, .failed: false
        case .headDelivered, .body, .chunkSize, .chunkData, .chunkEnd, .trailers: true
        }
    }

    /// Parses as far as the buffered bytes allow.
    public mutating func next() -> Event {
        while true {
            switch state {
            case .failed(let error):
                return .failed(error)

            case .requestLine(let skipped):
                switch findLine(maxLength: limits.requestLineBytes, overflow: .uriTooLong) {
                case .incomplete: return .needMoreBytes
                case .error(let error): return fail(error)
                case .line(let range):
                    consume(through: range.upperBound + 2)
                    if range.isEmpty {
                        // RFC 9112 §2.2: ignore at least one empty line before a request line; we
                        // ignore exactly one.
                        guard !skipped else { return fail(.badRequest("empty line before the request line")) }
                        state = .requestLine(skippedEmptyLine: true)
                        continue
                    }
                    switch parseRequestLine(range) {
                    case .success(let head): state = .headers(head)
                    case .failure(let error): return fail(error)
                    }
                }

            case .headers(var head):
                state = Self.handedOver  // `head` is this case's own now: mutated in place, put back below
                let budget = limits.headerBytes - head.headerBytes
                let maxLength = min(limits.headerLineBytes, max(budget, 0))
                switch findLine(
                    maxLength: maxLength,
                    overflow: .headerFieldsTooLarge("a header line or the header section is too long"))
                {
                case .incomplete:
                    state = .headers(head)
                    return .needMoreBytes
                case .error(let error): return fail(error)
                case .line(let range):
                    consume(through: range.upperBound + 2)
                    if range.isEmpty {
                        switch finishHead(&head) {
                        case .failure(let error): return fail(error)
                        case .success(let expectContinue):
                            if head.chunked || head.contentLength > 0 {
                                state = .headDelivered(head)
                                return .head(makeRequest(head), expectContinue: expectContinue)
                            }
                            if let event = startBody(head) { return event }
                        }
                        continue
                    }
                    if let error = parseField(
                        range, into: &head.headers, count: head.headers.count, limit: limits.headerCount)
                    {
                        return fail(error)
                    }
                    head.headerBytes += range.count + 2
                    state = .headers(head)
                }

            case .headDelivered(let head):
                if let event = startBody(head) { return event }

            case .body(var head):
                state = Self.handedOver  // `head` is this case's own now: mutated in place, put back below
                let needed = head.contentLength - head.body.count
                let available = min(needed, buffer.count - start)
                if available > 0 {
                    head.body.append(contentsOf: buffer[start..<start + available])
                    start += available
                }
                if head.body.count < head.contentLength {
                    state = .body(head)
                    return .needMoreBytes
                }
                return complete(head)

            case .chunkSize(var head):
                state = Self.handedOver  // `head` is this case's own now: mutated in place, put back below
                let extensionBudget = max(limits.chunkExtensionBytes - head.extensionBytes, 0)
                switch findLine(maxLength: 16 + 1 + extensionBudget, overflow: .badRequest("chunk size line too long"))
                {
                case .incomplete:
                    state = .chunkSize(head)
                    return .needMoreBytes
                case .error(let error): return fail(error)
                case .line(let range):
                    consume(through: range.upperBound + 2)
                    switch parseChunkSize(range, head: &head) {
                    case .failure(let error): return fail(error)
                    case .success(0): state = .trailers(head)
                    case .success(let size):
                        guard size <= head.bodyLimit - head.body.count else { return fail(.contentTooLarge) }
                        state = .chunkData(head, remaining: size)
                    }
                }

            case .chunkData(var head, let remaining):
                state = Self.handedOver  // `head` is this case's own now: mutated in place, put back below
                let available = min(remaining, buffer.count - start)
                if available > 0 {
                    head.body.append(contentsOf: buffer[start..<start + available])
                    start += available
                }
                if available < remaining {
                    state = .chunkData(head, remaining: remaining - available)
                    return .needMoreBytes
                }
                state = .chunkEnd(head)

            case .chunkEnd(let head):
                guard buffer.count - start >= 2 else {
                    if buffer.count - start == 1 && buffer[start] != 0x0D {
                        return fail(.badRequest("chunk data not followed by CRLF"))
                    }
                    return .needMoreBytes
                }
                guard buffer[start] == 0x0D && buffer[start + 1] == 0x0A else {
                    return fail(.badRequest("chunk data not followed by CRLF"))
                }
                start += 2
                state = .chunkSize(head)

            case .trailers(var head):
                state = Self.handedOver  // `head` is this case's own now: mutated in place, put back below
                let budget = limits.headerBytes - head.trailerBytes
                let maxLength = min(limits.headerLineBytes, max(budget, 0))
                switch findLine(
                    maxLength: maxLength, overflow: .headerFieldsTooLarge("the trailer section is too long"))
                {
                case .incomplete:
                    state = .trailers(head)
                    return .needMoreBytes
                case .error(let error): return fail(error)
                case .line(let range):
                    consume(through: range.upperBound + 2)
                    if range.isEmpty { return complete(head) }
                    // Trailer fields are checked for syntax and limits, then dropped: they never
                    // change framing or any header (RFC 9112 §7.1.2).
                    var ignored = HTTPHeaders()
                    if let error = parseField(
                        range, into: &ignored, count: head.trailerCount, limit: limits.headerCount)
                    {
                        return fail(error)
                    }
                    head.trailerCount += 1
                    head.trailerBytes += range.count + 2
                    state = .trailers(head)
                }
            }
        }
    }

    /// What `state` holds while a case works on its request head: the case took the head out of
    /// `state` so that appending to its headers or body does not copy them (an enum payload
    /// still held by `state` would make every append copy), and sets `state` before it returns.
    private static let handedOver = State.failed(.badRequest("the parser lost its state"))

    private mutating func fail(_ error: ParseError) -> Event {
        state = .failed(error)
        return .failed(error)
    }

    private mutating func consume(through index: Int) { start = index }

    private mutating func startBody(_ head: Head) -> Event? {
        if head.chunked {
            state = .chunkSize(head)
            return nil
        }
        if head.contentLength > 0 {
            state = .body(head)
            return nil
        }
        return complete(head)
    }

    private mutating func complete(_ head: Head) -> Event {
        state = .requestLine(skippedEmptyLine: false)
        return .request(makeRequest(head))
    }

    private func makeRequest(_ head: Head) -> HTTPRequest {
        HTTPRequest(
            method: head.method, target: head.target, version: head.version, headers: head.headers, body: head.body,
            keepAlive: head.keepAlive)
    }

    // MARK: Lines

    private enum LineResult {
        case incomplete
        case line(Range<Int>)
        case error(ParseError)
    }

    /// Finds the next CRLF-terminated line starting at `start`, whose content may be at most
    /// `maxLength` bytes. Bare LF and CR not followed by LF are errors (RFC 9112 §2.2, R2).
    private func findLine(maxLength: Int, overflow: ParseError) -> LineResult {
        var index = start
        let end = buffer.count
        while index < end {
            let byte = buffer[index]
            if byte == 0x0A { return .error(.badRequest("bare LF")) }
            if byte == 0x0D {
                if index - start > maxLength { return .error(overflow) }
                guard index + 1 < end else { return .incomplete }
                guard buffer[index + 1] == 0x0A else { return .error(.badRequest("bare CR")) }
                return .line(start..<index)
            }
            if index - start >= maxLength { return .error(overflow) }
            index += 1
        }
        return .incomplete
    }

    // MARK: Request line (RFC 9112 §3)

    private func parseRequestLine(_ range: Range<Int>) -> Result<Head, ParseError> {
        guard let firstSpace = buffer[range].firstIndex(of: 0x20) else {
            return .failure(.badRequest("malformed request line"))
        }
        guard let secondSpace = buffer[(firstSpace + 1)..<range.upperBound].firstIndex(of: 0x20) else {
            return .failure(.badRequest("malformed request line"))
        }
        let methodBytes = buffer[range.lowerBound..<firstSpace]
        let targetBytes = buffer[(firstSpace + 1)..<secondSpace]
        let versionBytes = buffer[(secondSpace + 1)..<range.upperBound]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(isTokenByte) else {
            return .failure(.badRequest("invalid method"))
        }
        guard !targetBytes.isEmpty else { return .failure(.badRequest("empty request-target")) }
        let version: HTTPVersion
        switch parseVersion(versionBytes) {
        case .success(let parsed): version = parsed
        case .failure(let error): return .failure(error)
        }
        guard let method = Self.knownMethod(methodBytes) else {
            return .failure(.notImplemented("method \(String(decoding: methodBytes.prefix(32), as: UTF8.self))"))
        }
        if let error = validateTarget(targetBytes, method: method) { return .failure(error) }
        var head = Head(method: method, target: String(decoding: targetBytes, as: UTF8.self), version: version)
        head.bodyLimit = limits.bodyBytes(method: method, target: head.target)
        return .success(head)
    }

    /// The implemented method these bytes spell, without allocating; nil for any other token.
    static func knownMethod(_ bytes: ArraySlice<UInt8>) -> HTTPMethod? {
        switch bytes.count {
        case 3:
            if bytes.elementsEqual([0x47, 0x45, 0x54]) { return .get }
            if bytes.elementsEqual([0x50, 0x55, 0x54]) { return .put }
        case 4:
            if bytes.elementsEqual([0x50, 0x4F, 0x53, 0x54]) { return .post }
            if bytes.elementsEqual([0x48, 0x45, 0x41, 0x44]) { return .head }
        case 5:
            if bytes.elementsEqual([0x50, 0x41, 0x54, 0x43, 0x48]) { return .patch }
            if bytes.elementsEqual([0x54, 0x52, 0x41, 0x43, 0x45]) { return .trace }
            if bytes.elementsEqual([0x51, 0x55, 0x45, 0x52, 0x59]) { return .query }
        case 6: if bytes.elementsEqual([0x44, 0x45, 0x4C, 0x45, 0x54, 0x45]) { return .delete }
        case 7: if bytes.elementsEqual([0x4F, 0x50, 0x54, 0x49, 0x4F, 0x4E, 0x53]) { return .options }
        default: break
        }
        return nil
    }

    /// `HTTP/1.0` and `HTTP/1.1`; any other `HTTP/DIGIT.DIGIT` → 505; anything else → 400.
    private func parseVersion(_ bytes: ArraySlice<UInt8>) -> Result<HTTPVersion, ParseError> {
        let base = bytes.startIndex
        guard bytes.count == 8, bytes[base] == 0x48, bytes[base + 1] == 0x54, bytes[base + 2] == 0x54,
            bytes[base + 3] == 0x50, bytes[base + 4] == 0x2F, isDigit(bytes[base + 5]), bytes[base + 6] == 0x2E,
            isDigit(bytes[base + 7])
        else { return .failure(.badRequest("invalid HTTP version")) }
        switch (bytes[base + 5], bytes[base + 7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): return .success(.http11)
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): return .success(.http10)
        default: return .failure(.versionNotSupported)
        }
    }

    /// origin-form, absolute-form (http/https), or `*` for OPTIONS (RFC 9112 §3.2). Only
    /// visible ASCII that RFC 3986 allows; `%` must start a valid escape; no fragment; no `.` or
    /// `..` path segments.
    private func validateTarget(_ bytes: ArraySlice<UInt8>, method: HTTPMethod) -> ParseError? {
        if bytes.elementsEqual("*".utf8) {
            return method == .options ? nil : .badRequest("asterisk-form is only for OPTIONS")
        }
        var index = bytes.startIndex
        var pathStart = index
        if bytes.first != UInt8(ascii: "/") {
            let schemeLength = Self.schemeLength(bytes)
            guard schemeLength > 0 else { return .badRequest("request-target must be origin-form or absolute-form") }
            pathStart = bytes[(bytes.startIndex + schemeLength)...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
            guard pathStart > bytes.startIndex + schemeLength else {
                return .badRequest("absolute-form without a host")
            }
            index = bytes.startIndex + schemeLength
        }
        var queryStart: Int?
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex, isHexDigit(bytes[index + 1]), isHexDigit(bytes[index + 2]) else {
                    return .badRequest("invalid percent-encoding in the request-target")
                }
                index += 3
                continue
            }
            if byte == UInt8(ascii: "#") { return .badRequest("fragment in the request-target") }
            guard isTargetByte(byte) else { return .badRequest("invalid character in the request-target") }
            if byte == UInt8(ascii: "?") && queryStart == nil && index >= pathStart { queryStart = index }
            index += 1
        }
        if Self.hasDotSegment(bytes[pathStart..<(queryStart ?? bytes.endIndex)]) {
            return .badRequest("dot-segment in the request-target")
        }
        return nil
    }

    private static let http = Array("http://".utf8)
    private static let https = Array("https://".utf8)

    /// 7 for `http://`, 8 for `https://` (case-insensitive scheme), else 0.
    static func schemeLength(_ bytes: ArraySlice<UInt8>) -> Int {
        func matches(_ prefix: [UInt8]) -> Bool {
            guard bytes.count >= prefix.count else { return false }
            return zip(bytes, prefix).allSatisfy { asciiLower($0) == $1 }
        }
        return matches(Self.https) ? 8 : matches(Self.http) ? 7 : 0
    }

    /// True when a path segment is `.` or `..`, literally or percent-encoded (`%2e`).
    static func hasDotSegment(_ path: ArraySlice<UInt8>) -> Bool {
        var index = path.startIndex
        while index < path.endIndex {
            // At the start of a segment: count its dots (each `.` or `%2e`/`%2E`).
            var dots = 0
            var cursor = index
            while cursor < path.endIndex {
                if path[cursor] == UInt8(ascii: ".") {
                    dots += 1
                    cursor += 1
                } else if path[cursor] == UInt8(ascii: "%"), cursor + 2 < path.endIndex,
                    path[cursor + 1] == UInt8(ascii: "2"),
                    path[cursor + 2] | 0x20 == UInt8(ascii: "e")
                {
                    dots += 1
                    cursor += 3
                } else {
                    break
                }
            }
            let segmentEnds = cursor == path.endIndex || path[cursor] == UInt8(ascii: "/")
            if segmentEnds && (dots == 1 || dots == 2) { return true }
            while cursor < path.endIndex && path[cursor] != UInt8(ascii: "/") { cursor += 1 }
            index = cursor + 1
        }
        return false
    }

    // MARK: Header fields (RFC 9112 §5, RFC 9110 §5)

    private func parseField(_ range: Range<Int>, into headers: inout HTTPHeaders, count: Int, limit: Int) -> ParseError?
    {
        let first = buffer[range.lowerBound]
        if first == 0x20 || first == 0x09 { return .badRequest("obs-fold or whitespace before a field line") }
        guard count < limit else { return .headerFieldsTooLarge("more than \(limit) fields") }
        guard let colon = buffer[range].firstIndex(of: UInt8(ascii: ":")) else {
            return .badRequest("field line without a colon")
        }
        let name = buffer[range.lowerBound..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else { return .badRequest("invalid field name") }
        var valueStart = colon + 1
        var valueEnd = range.upperBound
        while valueStart < valueEnd, buffer[valueStart] == 0x20 || buffer[valueStart] == 0x09 { valueStart += 1 }
        while valueEnd > valueStart, buffer[valueEnd - 1] == 0x20 || buffer[valueEnd - 1] == 0x09 { valueEnd -= 1 }
        let value = buffer[valueStart..<valueEnd]
        for byte in value where (byte < 0x20 && byte != 0x09) || byte == 0x7F {
            return .badRequest("control character in a field value")
        }
        headers.add(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        return nil
    }

    /// Checks the framing and semantic fields once the header section is complete.
    /// - Returns: whether to announce `100 Continue`.
    private func finishHead(_ head: inout Head) -> Result<Bool, ParseError> {
        // One pass over the fields, classifying the ones that frame or steer the request.
        var hosts: [String] = []
        var lengths: [String] = []
        var codings: [String] = []
        var connection: [String] = []
        var expectations: [String] = []
        for field in head.headers {
            switch field.name.utf8.count {
            case 4 where HTTPHeaders.equalsIgnoringCase(field.name, "Host"): hosts.append(field.value)
            case 6 where HTTPHeaders.equalsIgnoringCase(field.name, "Expect"): expectations.append(field.value)
            case 10 where HTTPHeaders.equalsIgnoringCase(field.name, "Connection"): connection.append(field.value)
            case 14 where HTTPHeaders.equalsIgnoringCase(field.name, "Content-Length"): lengths.append(field.value)
            case 17 where HTTPHeaders.equalsIgnoringCase(field.name, "Transfer-Encoding"): codings.append(field.value)
            default: break
            }
        }
        guard hosts.count == 1 else {
            return .failure(.badRequest(hosts.isEmpty ? "missing Host" : "more than one Host"))
        }
        let host = hosts[0].utf8.span
        var index = 0
        while index < host.count && isHostByte(host[index]) { index += 1 }
        guard index == host.count else { return .failure(.badRequest("invalid Host")) }

        if !codings.isEmpty {
            guard head.version == .http11 else {
                return .failure(.badRequest("Transfer-Encoding in an HTTP/1.0 request"))
            }
            guard lengths.isEmpty else { return .failure(.badRequest("both Content-Length and Transfer-Encoding")) }
            guard codings.count == 1 else { return .failure(.badRequest("more than one Transfer-Encoding field")) }
            let list = codings[0].split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingSpaces.lowercasedASCII
            }
            guard let last = list.last, last == "chunked" else {
                return .failure(.badRequest("chunked is not the final transfer coding"))
            }
            guard list.count == 1 else { return .failure(.notImplemented("transfer coding \(codings[0])")) }
            head.chunked = true
        } else if !lengths.isEmpty {
            guard lengths.count == 1 else { return .failure(.badRequest("more than one Content-Length")) }
            guard let length = Self.parseContentLength(lengths[0]) else {
                return .failure(.badRequest("invalid Content-Length"))
            }
            guard length <= head.bodyLimit else { return .failure(.contentTooLarge) }
            head.contentLength = length
        }

        let options = connection.flatMap { $0.split(separator: ",").map { $0.trimmingSpaces.lowercasedASCII } }
        head.keepAlive =
            head.version == .http11
            ? !options.contains("close") : options.contains("keep-alive") && !options.contains("close")

        if head.version == .http11, !expectations.isEmpty {
            guard expectations.count == 1, expectations[0].lowercasedASCII == "100-continue" else {
                return .failure(.expectationFailed)
            }
            head.expectContinue = head.chunked || head.contentLength > 0
        }
        return .success(head.expectContinue)
    }

    /// `1*DIGIT` without sign, spaces or leading zeros, at most 15 digits (RFC 9110 §8.6, H4).
    static func parseContentLength(_ text: String) -> Int? {
        let digits = Array(text.utf8)
        guard (1...15).contains(digits.count), digits.allSatisfy(isDigit) else { return nil }
        guard digits.count == 1 || digits[0] != UInt8(ascii: "0") else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    // MARK: Chunked coding (RFC 9112 §7.1)

    private func parseChunkSize(_ range: Range<Int>, head: inout Head) -> Result<Int, ParseError> {
        var index = range.lowerBound
        var size = 0
        var digits = 0
        while index < range.upperBound, let value = hexValue(buffer[index]) {
            guard digits < 15 else { return .failure(.badRequest("chunk size overflow")) }
            size = size << 4 | value
            digits += 1
            index += 1
        }
        guard digits > 0 else { return .failure(.badRequest("invalid chunk size")) }
        if index < range.upperBound {
            guard buffer[index] == UInt8(ascii: ";") else { return .failure(.badRequest("invalid chunk size")) }
            let extensionBytes = buffer[index..<range.upperBound]
            head.extensionBytes += extensionBytes.count
            guard head.extensionBytes <= limits.chunkExtensionBytes else {
                return .failure(.badRequest("chunk extensions too long"))
            }
            var quoted = false
            var escaped = false
            for byte in extensionBytes.dropFirst() {
                if (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                    return .failure(.badRequest("control character in a chunk extension"))
                }
                if escaped {
                    escaped = false
                } else if quoted && byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    quoted.toggle()
                }
            }
            guard !quoted else { return .failure(.badRequest("unbalanced quote in a chunk extension")) }
        }
        return .success(size)
    }
}

// MARK: Character classes

@inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

@inline(__always) func isHexDigit(_ byte: UInt8) -> Bool { hexValue(byte) != nil }

@inline(__always) func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case 0x30...0x39: Int(byte - 0x30)
    case 0x41...0x46: Int(byte - 0x41 + 10)
    case 0x61...0x66: Int(byte - 0x61 + 10)
    default: nil
    }
}

/// `tchar` of RFC 9110 §5.6.2.
@inline(__always) func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
        UInt8(ascii: "'"),
        UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"),
        UInt8(ascii: "_"),
        UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        true
    default: false
    }
}

/// RFC 3986 `unreserved` / `sub-delims` / ":": the characters a path, a query and a Host share.
@inline(__always) func isUnreservedSubDelimOrColon(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"),
        UInt8(ascii: "$"),
        UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"),
        UInt8(ascii: "+"),
        UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: ":"):
        true
    default: false
    }
}

/// Characters RFC 3986 allows in a path or query (pchar / "/" / "?"), `%` handled by the caller.
@inline(__always) func isTargetByte(_ byte: UInt8) -> Bool {
    isUnreservedSubDelimOrColon(byte) || byte == UInt8(ascii: "@") || byte == UInt8(ascii: "/")
        || byte == UInt8(ascii: "?")
}

/// Characters of a Host value: reg-name / IP-literal / IPv4 and an optional port; no `@`,
/// no whitespace (RFC 9112 §3.2, RFC 3986 §3.2.2).
@inline(__always) func isHostByte(_ byte: UInt8) -> Bool {
    isUnreservedSubDelimOrColon(byte) || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "]")
        || byte == UInt8(ascii: "%")
}

extension StringProtocol {
    /// Without leading and trailing SP and HTAB, trimmed as bytes: a space followed by a
    /// combining mark is one Character, which a Character-wise trim would keep (found by the
    /// multipart fuzz target's round trip).
    var trimmingSpaces: String {
        let view = Substring(self).utf8
        var lower = view.startIndex
        var upper = view.endIndex
        while lower < upper, view[lower] == 0x20 || view[lower] == 0x09 { lower = view.index(after: lower) }
        while upper > lower {
            let before = view.index(before: upper)
            guard view[before] == 0x20 || view[before] == 0x09 else { break }
            upper = before
        }
        return String(decoding: view[lower..<upper], as: UTF8.self)
    }

    var lowercasedASCII: String { String(decoding: utf8.map(asciiLower), as: UTF8.self) }
}
