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

    /// The request being parsed. It lives beside ``state`` rather than in an enum payload, so
    /// appending a field or body bytes mutates it in place and no line moves it in or out.
    private struct Head: Sendable {
        var method = HTTPMethod.get
        /// Where the query's `?` is in an origin-form target (nil without a query; the path is
        /// then the whole target); found while the target is checked, so it is not looked for
        /// again. Absolute-form and asterisk-form targets are split by the request itself.
        var originQuery: Int?
        var originForm = false
        var version = HTTPVersion.http11
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
        case headers
        case headDelivered
        case body
        case chunkSize
        case chunkData(remaining: Int)
        case chunkEnd
        case trailers
        case failed(ParseError)
    }

    /// The limits this parser enforces.
    public let limits: HTTPLimits
    private var buffer: [UInt8] = []
    private var start = 0
    private var state = State.requestLine(skippedEmptyLine: false)
    private var head = Head()

    /// Creates a parser with `limits`.
    public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }

    /// Appends bytes read from the connection.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Appends the bytes of a read buffer: the server's call, with a concrete type so that the
    /// copy is specialized here (the generic one, called from another module, went through
    /// `Sequence`'s witness table for every read).
    public mutating func append(_ bytes: ArraySlice<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Drops consumed bytes before an append: all of them when everything was consumed, or the
    /// consumed front once it is large and more than half of the buffer.
    private mutating func compact() {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 65536 && start > buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
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
                    if let error = parseRequestLine(range) { return fail(error) }
                    state = .headers
                }

            case .headers:
                let budget = limits.headerBytes - head.headerBytes
                let maxLength = min(limits.headerLineBytes, max(budget, 0))
                switch findLine(
                    maxLength: maxLength,
                    overflow: .headerFieldsTooLarge("a header line or the header section is too long"))
                {
                case .incomplete: return .needMoreBytes
                case .error(let error): return fail(error)
                case .line(let range):
                    consume(through: range.upperBound + 2)
                    if range.isEmpty {
                        switch finishHead() {
                        case .failure(let error): return fail(error)
                        case .success(let expectContinue):
                            if head.chunked || head.contentLength > 0 {
                                state = .headDelivered
                                return .head(Self.request(from: head), expectContinue: expectContinue)
                            }
                            if let event = startBody() { return event }
                        }
                        continue
                    }
                    switch parseField(range, count: head.headers.count) {
                    case .success(let (name, value)):
                        head.headers.append(
                            name.lowerBound..<value.upperBound, of: buffer, nameCount: name.count,
                            gap: value.lowerBound - name.upperBound)
                    case .failure(let error): return fail(error)
                    }
                    head.headerBytes += range.count + 2
                }

            case .headDelivered:
                if let event = startBody() { return event }

            case .body:
                let needed = head.contentLength - head.body.count
                let available = min(needed, buffer.count - start)
                if available > 0 {
                    head.body.append(contentsOf: buffer[start..<start + available])
                    start += available
                }
                if head.body.count < head.contentLength { return .needMoreBytes }
                return complete()

            case .chunkSize:
                let extensionBudget = max(limits.chunkExtensionBytes - head.extensionBytes, 0)
                switch findLine(maxLength: 16 + 1 + extensionBudget, overflow: .badRequest("chunk size line too long"))
                {
                case .incomplete: return .needMoreBytes
                case .error(let error): return fail(error)
                case .line(let range):
                    consume(through: range.upperBound + 2)
                    switch parseChunkSize(range) {
                    case .failure(let error): return fail(error)
                    case .success(0): state = .trailers
                    case .success(let size):
                        guard size <= head.bodyLimit - head.body.count else { return fail(.contentTooLarge) }
                        state = .chunkData(remaining: size)
                    }
                }

            case .chunkData(let remaining):
                let available = min(remaining, buffer.count - start)
                if available > 0 {
                    head.body.append(contentsOf: buffer[start..<start + available])
                    start += available
                }
                if available < remaining {
                    state = .chunkData(remaining: remaining - available)
                    return .needMoreBytes
                }
                state = .chunkEnd

            case .chunkEnd:
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
                state = .chunkSize

            case .trailers:
                let budget = limits.headerBytes - head.trailerBytes
                let maxLength = min(limits.headerLineBytes, max(budget, 0))
                switch findLine(
                    maxLength: maxLength, overflow: .headerFieldsTooLarge("the trailer section is too long"))
                {
                case .incomplete: return .needMoreBytes
                case .error(let error): return fail(error)
                case .line(let range):
                    consume(through: range.upperBound + 2)
                    if range.isEmpty { return complete() }
                    // Trailer fields are checked for syntax and limits, then dropped: they never
                    // change framing or any header (RFC 9112 §7.1.2).
                    if case .failure(let error) = parseField(range, count: head.trailerCount) { return fail(error) }
                    head.trailerCount += 1
                    head.trailerBytes += range.count + 2
                }
            }
        }
    }

    private mutating func fail(_ error: ParseError) -> Event {
        state = .failed(error)
        head = Head()
        return .failed(error)
    }

    private mutating func consume(through index: Int) { start = index }

    private mutating func startBody() -> Event? {
        if head.chunked {
            state = .chunkSize
            return nil
        }
        if head.contentLength > 0 {
            state = .body
            return nil
        }
        return complete()
    }

    private mutating func complete() -> Event {
        state = .requestLine(skippedEmptyLine: false)
        // The finished head is moved out, not copied: its strings and arrays change hands
        // without a retain here and a release when the head is reset.
        var finished = Head()
        swap(&finished, &head)
        return .request(Self.request(from: finished))
    }

    private static func request(from head: Head) -> HTTPRequest {
        guard head.originForm else {
            // Absolute-form and asterisk-form (rare): the target as a String, split by the request.
            let target = head.headers.withBytes { HTTPHeaders.string($0.extracting(0..<head.headers.fieldsStart)) }
            return HTTPRequest(
                method: head.method, target: target, version: head.version, headers: head.headers, body: head.body,
                keepAlive: head.keepAlive)
        }
        return HTTPRequest(
            method: head.method, originFormIn: head.headers, queryMark: head.originQuery, version: head.version,
            body: head.body, keepAlive: head.keepAlive)
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
        let bytes = buffer.span
        let end = bytes.count
        // Offsets 0...maxLength of the line are looked at: a CR there ends a line of at most
        // maxLength bytes, content there is one byte too many.
        let limit = start + min(end - start, maxLength + 1)
        var index = start
        while true {
            // Every byte above CR is line content. Eight at a time first: `hit` marks the bytes
            // of `word` below 0x0E, and its lowest mark is exact (the bytes are little-endian,
            // the lowest the first in the buffer).
            while limit - index >= 8 {
                let word = littleEndianWord(bytes, at: index)
                let hit = (word &- 0x0E0E_0E0E_0E0E_0E0E) & ~word & 0x8080_8080_8080_8080
                if hit != 0 {
                    index += hit.trailingZeroBitCount / 8
                    break
                }
                index += 8
            }
            while index < limit && bytes[index] > 0x0D { index += 1 }
            guard index < limit else { return limit - start > maxLength ? .error(overflow) : .incomplete }
            let byte = bytes[index]
            if byte == 0x0A { return .error(.badRequest("bare LF")) }
            if byte == 0x0D {
                guard index + 1 < end else { return .incomplete }
                guard bytes[index + 1] == 0x0A else { return .error(.badRequest("bare CR")) }
                return .line(start..<index)
            }
            // Another byte at or below CR is content to this scan (the field value's or the
            // target's own check refuses it).
            if index - start >= maxLength { return .error(overflow) }
            index += 1
        }
    }

    // MARK: Request line (RFC 9112 §3)

    /// Starts ``head`` from a request line, or says why the line is refused.
    private mutating func parseRequestLine(_ range: Range<Int>) -> ParseError? {
        let line: RequestLine
        switch checkRequestLine(range) {
        case .success(let checked): line = checked
        case .failure(let error): return error
        }
        // `head` is fresh here: the parser starts with one, and a completed request swaps in a
        // new one, a failure resets it.
        // The target first, then room for a typical request's fields in the same allocation.
        head.headers = HTTPHeaders(prefix: buffer[line.target], fields: 8)
        head.method = line.method
        head.originForm = line.originForm
        head.originQuery = line.query
        head.version = line.version
        head.bodyLimit = limits.bodyBytes(method: line.method, target: buffer.span.extracting(line.target))
        return nil
    }

    /// What a valid request line says.
    private struct RequestLine {
        var method: HTTPMethod
        var version: HTTPVersion
        /// The target's bytes in the buffer.
        var target: Range<Int>
        /// The offset of the query's `?` in the target, if any.
        var query: Int?
        var originForm: Bool
    }

    /// The request line at `range`, checked, or why it is refused.
    private func checkRequestLine(_ range: Range<Int>) -> Result<RequestLine, ParseError> {
        let line = buffer.span
        guard let firstSpace = firstOffset(of: 0x20, in: line, range.lowerBound..<range.upperBound),
            let secondSpace = firstOffset(of: 0x20, in: line, (firstSpace + 1)..<range.upperBound)
        else { return .failure(.badRequest("malformed request line")) }
        let methodBytes = line.extracting(range.lowerBound..<firstSpace)
        let targetBytes = line.extracting((firstSpace + 1)..<secondSpace)
        let versionBytes = line.extracting((secondSpace + 1)..<range.upperBound)
        guard !methodBytes.isEmpty, allTokenBytes(methodBytes) else {
            return .failure(.badRequest("invalid method"))
        }
        guard !targetBytes.isEmpty else { return .failure(.badRequest("empty request-target")) }
        let version: HTTPVersion
        switch parseVersion(versionBytes) {
        case .success(let parsed): version = parsed
        case .failure(let error): return .failure(error)
        }
        guard let method = Self.knownMethod(methodBytes) else {
            let shown = buffer[range.lowerBound..<firstSpace].prefix(32)
            return .failure(.notImplemented("method \(String(decoding: shown, as: UTF8.self))"))
        }
        var query: Int?
        if let error = validateTarget(targetBytes, method: method, query: &query) { return .failure(error) }
        return .success(
            RequestLine(
                method: method, version: version, target: (firstSpace + 1)..<secondSpace, query: query,
                originForm: targetBytes[0] == UInt8(ascii: "/")))
    }

    /// The implemented method these bytes spell, without allocating; nil for any other token.
    static func knownMethod(_ bytes: Span<UInt8>) -> HTTPMethod? {
        guard bytes.count >= 3 && bytes.count <= 7 else { return nil }
        // The token's bytes packed big-endian into one integer: one comparison per method.
        var packed: UInt64 = 0
        var index = 0
        while index < bytes.count {
            packed = packed << 8 | UInt64(bytes[index])
            index += 1
        }
        switch packed {
        case 0x47_45_54: return .get
        case 0x50_55_54: return .put
        case 0x50_4F_53_54: return .post
        case 0x48_45_41_44: return .head
        case 0x50_41_54_43_48: return .patch
        case 0x54_52_41_43_45: return .trace
        case 0x51_55_45_52_59: return .query
        case 0x44_45_4C_45_54_45: return .delete
        case 0x4F_50_54_49_4F_4E_53: return .options
        default: return nil
        }
    }

    /// `HTTP/1.0` and `HTTP/1.1`; any other `HTTP/DIGIT.DIGIT` → 505; anything else → 400.
    private func parseVersion(_ bytes: Span<UInt8>) -> Result<HTTPVersion, ParseError> {
        guard bytes.count == 8, bytes[0] == 0x48, bytes[1] == 0x54, bytes[2] == 0x54, bytes[3] == 0x50,
            bytes[4] == 0x2F, isDigit(bytes[5]), bytes[6] == 0x2E, isDigit(bytes[7])
        else { return .failure(.badRequest("invalid HTTP version")) }
        switch (bytes[5], bytes[7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "1")): return .success(.http11)
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): return .success(.http10)
        default: return .failure(.versionNotSupported)
        }
    }

    /// origin-form, absolute-form (http/https), or `*` for OPTIONS (RFC 9112 §3.2). Only
    /// visible ASCII that RFC 3986 allows; `%` must start a valid escape; no fragment; no `.` or
    /// `..` path segments.
    /// `query` is set to the offset of the query's `?`, if there is one.
    private func validateTarget(_ bytes: Span<UInt8>, method: HTTPMethod, query: inout Int?) -> ParseError? {
        if bytes.count == 1 && bytes[0] == UInt8(ascii: "*") {
            return method == .options ? nil : .badRequest("asterisk-form is only for OPTIONS")
        }
        var index = 0
        var pathStart = 0
        if bytes[0] != UInt8(ascii: "/") {
            let schemeLength = Self.schemeLength(bytes)
            guard schemeLength > 0 else { return .badRequest("request-target must be origin-form or absolute-form") }
            pathStart = firstOffset(of: UInt8(ascii: "/"), in: bytes, schemeLength..<bytes.count) ?? bytes.count
            guard pathStart > schemeLength else { return .badRequest("absolute-form without a host") }
            index = schemeLength
        }
        var queryStart: Int?
        // A dot segment needs a `.` or an escape (`%2e`); without either the path has none.
        var mayHaveDotSegment = false
        while index < bytes.count {
            // Eight plain bytes (letters, digits, `-`, `/`: a token's path is nothing else) at
            // once; any other byte is looked at on its own below.
            if bytes.count - index >= 8 && Self.isPlainTargetWord(littleEndianWord(bytes, at: index)) {
                index += 8
                continue
            }
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, isHexDigit(bytes[index + 1]), isHexDigit(bytes[index + 2]) else {
                    return .badRequest("invalid percent-encoding in the request-target")
                }
                mayHaveDotSegment = true
                index += 3
                continue
            }
            if byte == UInt8(ascii: "#") { return .badRequest("fragment in the request-target") }
            guard isTargetByte(byte) else { return .badRequest("invalid character in the request-target") }
            if byte == UInt8(ascii: "?") && queryStart == nil && index >= pathStart { queryStart = index }
            if byte == UInt8(ascii: ".") { mayHaveDotSegment = true }
            index += 1
        }
        if mayHaveDotSegment && Self.hasDotSegment(bytes.extracting(pathStart..<(queryStart ?? bytes.count))) {
            return .badRequest("dot-segment in the request-target")
        }
        query = queryStart
        return nil
    }

    /// Whether all eight bytes of `word` are ASCII letters, digits, `-` or `/`. Each range test
    /// marks bit 7 of the bytes inside it, lane by lane without carries between lanes (the
    /// low seven bits of a byte plus at most 127 stay below 256), and only bytes below 0x80.
    @inline(__always)
    static func isPlainTargetWord(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let low = word & 0x7F7F_7F7F_7F7F_7F7F
        let ascii = ~word
        /// Bytes strictly between `above` and `below`.
        func between(_ above: UInt64, _ below: UInt64) -> UInt64 {
            (ones &* (127 + below) &- low) & ascii & (low &+ ones &* (127 - above)) & high
        }
        let marks =
            between(0x2C, 0x2E) | between(0x2E, 0x3A) | between(0x40, 0x5B) | between(0x60, 0x7B)
        return marks == high
    }

    /// 7 for `http://`, 8 for `https://` (case-insensitive scheme), else 0.
    static func schemeLength(_ bytes: Span<UInt8>) -> Int {
        func matches(_ prefix: String) -> Bool {
            let expected = prefix.utf8.span
            guard bytes.count >= expected.count else { return false }
            var index = 0
            while index < expected.count {
                guard asciiLower(bytes[index]) == expected[index] else { return false }
                index += 1
            }
            return true
        }
        return matches("https://") ? 8 : matches("http://") ? 7 : 0
    }

    /// True when a path segment is `.` or `..`, literally or percent-encoded (`%2e`).
    static func hasDotSegment(_ path: Span<UInt8>) -> Bool {
        var index = 0
        while index < path.count {
            // At the start of a segment: count its dots (each `.` or `%2e`/`%2E`).
            var dots = 0
            var cursor = index
            while cursor < path.count {
                if path[cursor] == UInt8(ascii: ".") {
                    dots += 1
                    cursor += 1
                } else if path[cursor] == UInt8(ascii: "%"), cursor + 2 < path.count,
                    path[cursor + 1] == UInt8(ascii: "2"),
                    path[cursor + 2] | 0x20 == UInt8(ascii: "e")
                {
                    dots += 1
                    cursor += 3
                } else {
                    break
                }
            }
            let segmentEnds = cursor == path.count || path[cursor] == UInt8(ascii: "/")
            if segmentEnds && (dots == 1 || dots == 2) { return true }
            while cursor < path.count && path[cursor] != UInt8(ascii: "/") { cursor += 1 }
            index = cursor + 1
        }
        return false
    }

    // MARK: Header fields (RFC 9112 §5, RFC 9110 §5)

    /// Checks one field line (the `count`th of its section): the byte ranges of its name and
    /// its value without surrounding whitespace, or why it is refused.
    private func parseField(_ range: Range<Int>, count: Int) -> Result<(Range<Int>, Range<Int>), ParseError> {
        let bytes = buffer.span
        let first = bytes[range.lowerBound]
        if first == 0x20 || first == 0x09 { return .failure(.badRequest("obs-fold or whitespace before a field line")) }
        guard count < limits.headerCount else {
            return .failure(.headerFieldsTooLarge("more than \(limits.headerCount) fields"))
        }
        guard let colon = firstOffset(of: UInt8(ascii: ":"), in: bytes, range) else {
            return .failure(.badRequest("field line without a colon"))
        }
        guard colon > range.lowerBound, allTokenBytes(bytes.extracting(range.lowerBound..<colon)) else {
            return .failure(.badRequest("invalid field name"))
        }
        let value = Self.trimmed(bytes, (colon + 1)..<range.upperBound)
        let (valueStart, valueEnd) = (value.lowerBound, value.upperBound)
        var index = valueStart
        while index < valueEnd {
            // Eight bytes at a time while none is below SP or DEL (a mark may be false only above
            // a true one, and a marked word is checked byte by byte).
            if valueEnd - index >= 8 {
                let word = littleEndianWord(bytes, at: index)
                let other = word ^ 0x7F7F_7F7F_7F7F_7F7F
                let marks =
                    ((word &- 0x2020_2020_2020_2020) & ~word | (other &- 0x0101_0101_0101_0101) & ~other)
                    & 0x8080_8080_8080_8080
                if marks == 0 {
                    index += 8
                    continue
                }
            }
            let byte = bytes[index]
            if (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                return .failure(.badRequest("control character in a field value"))
            }
            index += 1
        }
        return .success((range.lowerBound..<colon, valueStart..<valueEnd))
    }

    /// How often a field occurs in a head, and where its first value is.
    private struct Occurrences {
        var count = 0
        var first = 0..<0

        mutating func add(_ value: Range<Int>) {
            if count == 0 { first = value }
            count += 1
        }
    }

    /// Checks the framing and semantic fields of ``head`` once its header section is complete.
    /// - Returns: whether to announce `100 Continue`.
    private mutating func finishHead() -> Result<Bool, ParseError> {
        // One pass over the fields, classifying the ones that frame or steer the request: how
        // many of each, the first value, and the connection options of all `Connection` fields.
        var host = Occurrences()
        var length = Occurrences()
        var coding = Occurrences()
        var expectation = Occurrences()
        var close = false
        var keepAlive = false
        let headers = head.headers
        headers.forEachFieldBounds { bytes, field in
            let name = bytes.extracting(field.name)
            switch name.count {
            case 4 where HTTPFieldName.host.matches(name): host.add(field.value)
            case 6 where HTTPFieldName.expect.matches(name): expectation.add(field.value)
            case 10 where HTTPFieldName.connection.matches(name):
                var start = field.value.lowerBound
                while start <= field.value.upperBound {
                    let end = firstOffset(of: UInt8(ascii: ","), in: bytes, start..<field.value.upperBound)
                    let option = bytes.extracting(Self.trimmed(bytes, start..<(end ?? field.value.upperBound)))
                    if HTTPHeaders.equalsIgnoringCase(option, "close") { close = true }
                    if HTTPHeaders.equalsIgnoringCase(option, "keep-alive") { keepAlive = true }
                    start = (end ?? field.value.upperBound) + 1
                }
            case 14 where HTTPFieldName.contentLength.matches(name): length.add(field.value)
            case 17 where HTTPFieldName.transferEncoding.matches(name): coding.add(field.value)
            default: break
            }
            return true
        }
        let framing = headers.withBytes { bytes -> Result<Void, ParseError> in
            guard host.count == 1 else {
                return .failure(.badRequest(host.count == 0 ? "missing Host" : "more than one Host"))
            }
            var index = host.first.lowerBound
            while index < host.first.upperBound && isHostByte(bytes[index]) { index += 1 }
            guard index == host.first.upperBound else { return .failure(.badRequest("invalid Host")) }
            if coding.count == 0 && length.count == 1 {
                guard let parsed = Self.parseContentLength(bytes.extracting(length.first)) else {
                    return .failure(.badRequest("invalid Content-Length"))
                }
                guard parsed <= head.bodyLimit else { return .failure(.contentTooLarge) }
                head.contentLength = parsed
            }
            return .success(())
        }
        if case .failure(let error) = framing { return .failure(error) }

        if coding.count > 0 {
            guard head.version == .http11 else {
                return .failure(.badRequest("Transfer-Encoding in an HTTP/1.0 request"))
            }
            guard length.count == 0 else { return .failure(.badRequest("both Content-Length and Transfer-Encoding")) }
            guard coding.count == 1 else { return .failure(.badRequest("more than one Transfer-Encoding field")) }
            let value = headers.withBytes { HTTPHeaders.string($0.extracting(coding.first)) }
            let list = value.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingSpaces.lowercasedASCII
            }
            guard let last = list.last, last == "chunked" else {
                return .failure(.badRequest("chunked is not the final transfer coding"))
            }
            guard list.count == 1 else { return .failure(.notImplemented("transfer coding \(value)")) }
            head.chunked = true
        } else if length.count > 1 {
            return .failure(.badRequest("more than one Content-Length"))
        }

        head.keepAlive = head.version == .http11 ? !close : keepAlive && !close

        if head.version == .http11, expectation.count > 0 {
            let value = headers.withBytes { HTTPHeaders.string($0.extracting(expectation.first)) }
            guard expectation.count == 1, value.lowercasedASCII == "100-continue" else {
                return .failure(.expectationFailed)
            }
            head.expectContinue = head.chunked || head.contentLength > 0
        }
        return .success(head.expectContinue)
    }

    /// `range` in `bytes` without leading and trailing spaces and tabs.
    private static func trimmed(_ bytes: Span<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper && (bytes[lower] == 0x20 || bytes[lower] == 0x09) { lower += 1 }
        while upper > lower && (bytes[upper - 1] == 0x20 || bytes[upper - 1] == 0x09) { upper -= 1 }
        return lower..<upper
    }

    /// `1*DIGIT` without sign, spaces or leading zeros, at most 15 digits (RFC 9110 §8.6, H4).
    static func parseContentLength(_ text: String) -> Int? { parseContentLength(text.utf8.span) }

    /// ``parseContentLength(_:)`` of a value's bytes.
    static func parseContentLength(_ digits: Span<UInt8>) -> Int? {
        guard (1...15).contains(digits.count) else { return nil }
        guard digits.count == 1 || digits[0] != UInt8(ascii: "0") else { return nil }
        var value = 0
        var index = 0
        while index < digits.count {
            guard isDigit(digits[index]) else { return nil }
            value = value * 10 + Int(digits[index] - UInt8(ascii: "0"))
            index += 1
        }
        return value
    }

    // MARK: Chunked coding (RFC 9112 §7.1)

    private mutating func parseChunkSize(_ range: Range<Int>) -> Result<Int, ParseError> {
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
