/// A request method (RFC 9110 §9). Methods outside ``known`` are answered 501 by the parser.
public struct HTTPMethod: Hashable, Sendable, CustomStringConvertible {
    /// The method token, case-sensitive.
    public let rawValue: String
    /// The method's number among the known ones (1...9), 0 for any other token: two known
    /// methods compare as two bytes (comparing the tokens of two different methods, even short
    /// ones, took the string comparison's slow path, several times per request).
    private let code: UInt8

    /// Creates a method from its token.
    public init(_ rawValue: String) {
        self.rawValue = rawValue
        switch rawValue {
        case "GET": code = 1
        case "HEAD": code = 2
        case "POST": code = 3
        case "PUT": code = 4
        case "PATCH": code = 5
        case "DELETE": code = 6
        case "OPTIONS": code = 7
        case "TRACE": code = 8
        case "QUERY": code = 9
        default: code = 0
        }
    }

    public static func == (lhs: HTTPMethod, rhs: HTTPMethod) -> Bool {
        lhs.code == rhs.code && (lhs.code != 0 || lhs.rawValue == rhs.rawValue)
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    public static let get = HTTPMethod("GET")
    public static let head = HTTPMethod("HEAD")
    public static let post = HTTPMethod("POST")
    public static let put = HTTPMethod("PUT")
    public static let patch = HTTPMethod("PATCH")
    public static let delete = HTTPMethod("DELETE")
    public static let options = HTTPMethod("OPTIONS")
    public static let trace = HTTPMethod("TRACE")
    public static let query = HTTPMethod("QUERY")

    /// The methods the parser accepts (RFC 9110's, PATCH, and the IETF QUERY method); routes
    /// decide which they allow (405 with `Allow`), so a TRACE reaches a route and gets 405 (it is
    /// never echoed). CONNECT and any other token: 501.
    public static let known: Set<HTTPMethod> = [.get, .head, .post, .put, .patch, .delete, .options, .trace, .query]

    public var description: String { rawValue }
}

/// `HTTP/1.0` or `HTTP/1.1`; other versions are refused with 505.
public enum HTTPVersion: Sendable, Hashable {
    case http10
    case http11
}

/// A response status code with its reason phrase.
public struct HTTPStatus: Hashable, Sendable, CustomStringConvertible {
    /// The three-digit code.
    public let code: Int
    /// The reason phrase written on the status line.
    public let reason: String

    /// Creates a status.
    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code) \(reason)" }

    public static let `continue` = HTTPStatus(code: 100, reason: "Continue")
    public static let ok = HTTPStatus(code: 200, reason: "OK")
    public static let created = HTTPStatus(code: 201, reason: "Created")
    public static let accepted = HTTPStatus(code: 202, reason: "Accepted")
    public static let noContent = HTTPStatus(code: 204, reason: "No Content")
    public static let notModified = HTTPStatus(code: 304, reason: "Not Modified")
    public static let badRequest = HTTPStatus(code: 400, reason: "Bad Request")
    public static let unauthorized = HTTPStatus(code: 401, reason: "Unauthorized")
    public static let forbidden = HTTPStatus(code: 403, reason: "Forbidden")
    public static let notFound = HTTPStatus(code: 404, reason: "Not Found")
    public static let methodNotAllowed = HTTPStatus(code: 405, reason: "Method Not Allowed")
    public static let requestTimeout = HTTPStatus(code: 408, reason: "Request Timeout")
    public static let conflict = HTTPStatus(code: 409, reason: "Conflict")
    public static let contentTooLarge = HTTPStatus(code: 413, reason: "Content Too Large")
    public static let uriTooLong = HTTPStatus(code: 414, reason: "URI Too Long")
    public static let unsupportedMediaType = HTTPStatus(code: 415, reason: "Unsupported Media Type")
    public static let expectationFailed = HTTPStatus(code: 417, reason: "Expectation Failed")
    public static let tooManyRequests = HTTPStatus(code: 429, reason: "Too Many Requests")
    public static let headerFieldsTooLarge = HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(code: 500, reason: "Internal Server Error")
    public static let notImplemented = HTTPStatus(code: 501, reason: "Not Implemented")
    public static let serviceUnavailable = HTTPStatus(code: 503, reason: "Service Unavailable")
    public static let versionNotSupported = HTTPStatus(code: 505, reason: "HTTP Version Not Supported")
    public static let insufficientStorage = HTTPStatus(code: 507, reason: "Insufficient Storage")

    /// True when a response with this status carries no body (1xx, 204, 304; RFC 9110 §6.4.1).
    public var forbidsBody: Bool { (100..<200).contains(code) || code == 204 || code == 304 }
}

/// Header fields in the order received, with case-insensitive lookup (RFC 9110 §5.1).
/// Duplicates are kept; the parser itself rejects duplicates that would make framing ambiguous.
///
/// The fields live packed in one byte buffer: a request's header section is one allocation and
/// one copy, and no `String` is made for a field until someone asks for it as one (``fields``,
/// the subscript, ``values(_:)``). Hot paths read them in place with ``forEachField(_:)`` or
/// ``forEachFieldBounds(_:)`` and compare names with an ``HTTPFieldName`` (the poll's `Host` and
/// `X-Api-Key` used to be four strings, each validated as UTF-8, one of them a heap allocation).
/// A field's bytes are kept as received; as a `String` a value's invalid UTF-8 is repaired
/// (U+FFFD), as it always was.
public struct HTTPHeaders: Sendable, Sequence, Equatable {
    /// One field.
    public struct Field: Sendable, Equatable {
        /// The name as received.
        public let name: String
        /// The value with surrounding whitespace removed.
        public let value: String
    }

    /// Where one field's name and value are in the bytes ``forEachFieldBounds(_:)`` and
    /// ``withBytes(_:)`` lend.
    public struct Bounds: Sendable, Equatable {
        public let name: Range<Int>
        public let value: Range<Int>

        @inlinable init(name: Range<Int>, value: Range<Int>) {
            self.name = name
            self.value = value
        }
    }

    /// Per field: a word of lengths (little-endian; bits 0–23 the name's, 24–39 the gap before
    /// the value, 40–63 the value's), then the name's bytes, the gap, and the value's bytes. A
    /// parsed field keeps its line's `:` and spaces as its gap, so it is copied in one piece.
    @usableFromInline var packed: [UInt8] = []
    /// Where the fields start in ``packed``: a parsed request's target goes first, so that target
    /// and fields are one allocation (``HTTPRequest`` reads the target from there).
    @usableFromInline var fieldsStart = 0
    /// The number of fields.
    public private(set) var count = 0

    /// No fields.
    public init() {}

    /// Fields from name-value pairs.
    public init(_ pairs: [(String, String)]) {
        for (name, value) in pairs { add(name, value) }
    }

    /// No fields yet, after `prefix` (a request's target, which ``HTTPRequest`` reads from
    /// ``packed``), with room for `fields` typical fields.
    init(prefix: ArraySlice<UInt8>, fields: Int) {
        packed.reserveCapacity(prefix.count + fields * 48)
        packed.append(contentsOf: prefix)
        fieldsStart = packed.count
    }

    /// Appends a field. Response code must never copy CR or LF from input into a value (R3).
    public mutating func add(_ name: String, _ value: String) { append(name.utf8, value.utf8) }

    /// Appends a field of these name and value bytes (no gap).
    private mutating func append(_ name: some Collection<UInt8>, _ value: some Collection<UInt8>) {
        packed.append(contentsOf: LengthBytes(word: Self.lengths(name: name.count, gap: 0, value: value.count)))
        packed.append(contentsOf: name)
        packed.append(contentsOf: value)
        count += 1
    }

    /// Appends a field from a request's field line: `line` in `buffer` runs from the name's
    /// first byte to the value's last, the value starting `gap` bytes after the name (the
    /// parser's call).
    mutating func append(_ line: Range<Int>, of buffer: [UInt8], nameCount: Int, gap: Int) {
        let lengths = Self.lengths(name: nameCount, gap: gap, value: line.count - nameCount - gap)
        count += 1
        guard line.lowerBound >= 8 else {
            packed.append(contentsOf: LengthBytes(word: lengths))
            packed.append(contentsOf: buffer[line])
            return
        }
        // The eight bytes before the line (the previous line's end, or the request line) are
        // copied with it and then overwritten by the lengths: one copy instead of two appends.
        let start = packed.count
        packed.append(contentsOf: buffer[(line.lowerBound - 8)..<line.upperBound])
        var span = packed.mutableSpan
        for (index, byte) in LengthBytes(word: lengths).enumerated() { span[start + index] = byte }
    }

    /// A field's lengths word (the layout ``packed`` describes; ``forEachFieldBounds(_:)`` reads it).
    private static func lengths(name: Int, gap: Int, value: Int) -> UInt64 {
        precondition(name < 1 << 24 && gap < 1 << 16 && value < 1 << 24, "header field too long")
        return UInt64(name) | UInt64(gap) << 24 | UInt64(value) << 40
    }

    /// The eight bytes of a field's lengths word, little-endian: appended as one collection (a
    /// capacity check and eight stores), not as eight appends.
    private struct LengthBytes: RandomAccessCollection {
        let word: UInt64
        var startIndex: Int { 0 }
        var endIndex: Int { 8 }
        subscript(position: Int) -> UInt8 { UInt8(truncatingIfNeeded: word >> UInt64(position * 8)) }
    }

    /// Equal when the names (as spelled) and the values are, byte for byte, in the same order.
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.count == rhs.count && lhs.byteFields().elementsEqual(rhs.byteFields(), by: ==)
    }

    /// Each field's name and value bytes (without the gap).
    private func byteFields() -> [[UInt8]] {
        var all: [[UInt8]] = []
        forEachFieldBounds { _, field in
            all.append(Array(packed[field.name]))
            all.append(Array(packed[field.value]))
            return true
        }
        return all
    }

    /// Replaces every field of that name with one.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    /// Removes every field of that name.
    public mutating func remove(_ name: String) {
        // The kept fields byte for byte (a received value's obs-text stays as it was).
        var kept = HTTPHeaders()
        forEachFieldBounds { bytes, field in
            if !Self.equalsIgnoringCase(bytes.extracting(field.name), name) {
                kept.append(packed[field.name], packed[field.value])
            }
            return true
        }
        self = kept
    }

    /// The first value of `name` (case-insensitive).
    public subscript(name: String) -> String? { firstValue { Self.equalsIgnoringCase($0, name) } }

    /// The first value of `name`.
    public subscript(name: HTTPFieldName) -> String? { firstValue { name.matches($0) } }

    /// The first value of a field whose name `isName` accepts.
    private func firstValue(_ isName: (Span<UInt8>) -> Bool) -> String? {
        var found: String?
        forEachField { fieldName, value in
            guard isName(fieldName) else { return true }
            found = Self.string(value)
            return false
        }
        return found
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        var found: [String] = []
        forEachField { fieldName, value in
            if Self.equalsIgnoringCase(fieldName, name) { found.append(Self.string(value)) }
            return true
        }
        return found
    }

    /// The fields in order, each as two strings (made on every call).
    public var fields: [Field] {
        var all: [Field] = []
        all.reserveCapacity(count)
        forEachField { name, value in
            all.append(Field(name: Self.string(name), value: Self.string(value)))
            return true
        }
        return all
    }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// Calls `body` with each field's name and value bytes, in order, until it returns false.
    @inlinable
    public func forEachField(_ body: (_ name: Span<UInt8>, _ value: Span<UInt8>) throws -> Bool) rethrows {
        try forEachFieldBounds { bytes, field in try body(bytes.extracting(field.name), bytes.extracting(field.value)) }
    }

    /// Calls `body` with the bytes of all fields and each field's ``Bounds`` in them, in order,
    /// until it returns false: one walk with one borrow of the bytes, for code that keeps a
    /// field's bounds beyond the call.
    @inlinable
    public func forEachFieldBounds(_ body: (_ bytes: Span<UInt8>, _ field: Bounds) throws -> Bool) rethrows {
        let bytes = packed.span
        var offset = fieldsStart
        while offset < bytes.count {
            let lengths = littleEndianWord(bytes, at: offset)
            let nameStart = offset + 8
            let nameEnd = nameStart + Int(truncatingIfNeeded: lengths & 0xFF_FFFF)
            let valueStart = nameEnd + Int(truncatingIfNeeded: lengths >> 24 & 0xFFFF)
            offset = valueStart + Int(truncatingIfNeeded: lengths >> 40)
            guard try body(bytes, Bounds(name: nameStart..<nameEnd, value: valueStart..<offset)) else { return }
        }
    }

    /// Lends the bytes that ``Bounds`` locate the fields in.
    public func withBytes<Result>(_ body: (Span<UInt8>) throws -> Result) rethrows -> Result {
        try body(packed.span)
    }

    /// Field bytes as a string, invalid UTF-8 repaired.
    public static func string(_ bytes: Span<UInt8>) -> String {
        do {
            return String(copying: try UTF8Span(validating: bytes))
        } catch {
            var copy: [UInt8] = []
            copy.reserveCapacity(bytes.count)
            var index = 0
            while index < bytes.count {
                copy.append(bytes[index])
                index += 1
            }
            return String(decoding: copy, as: UTF8.self)
        }
    }

    /// ASCII case-insensitive comparison (header names are ASCII tokens).
    public static func equalsIgnoringCase(_ lhs: String, _ rhs: String) -> Bool {
        // The lengths first (stored in the string): most names compared differ in length, and
        // taking a string's span costs more than that.
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        // The same spelling (clients send the usual case): for names of up to 15 bytes, both
        // stored inline, this is a comparison of two words.
        if lhs == rhs { return true }
        return equalsIgnoringCase(lhs.utf8.span, rhs)
    }

    /// ASCII case-insensitive comparison of a field name's bytes with a name.
    @inlinable @inline(__always)
    public static func equalsIgnoringCase(_ bytes: Span<UInt8>, _ name: String) -> Bool {
        // The lengths first: most names compared differ in length, and taking a string's span
        // costs more than that.
        guard bytes.count == name.utf8.count else { return false }
        let other = name.utf8.span
        var index = 0
        while index < bytes.count {
            guard asciiLower(bytes[index]) == asciiLower(other[index]) else { return false }
            index += 1
        }
        return true
    }
}

/// A field name to look for among received ones: its ASCII-lowercase bytes kept as words, so
/// that a received name is compared eight bytes at a time, lowercased lane by lane (names are
/// compared several times per request; byte-wise, each comparison with a string literal first
/// had to make the literal's bytes addressable).
public struct HTTPFieldName: Sendable {
    @usableFromInline let count: Int
    /// The lowercase name's first eight bytes and its last eight (overlapping for names shorter
    /// than 16 bytes; for names shorter than 8, the bytes zero-padded).
    @usableFromInline let first: UInt64
    @usableFromInline let last: UInt64
    /// The whole lowercase name, for names longer than 16 bytes (their middle words).
    @usableFromInline let lowercase: [UInt8]

    public static let host = HTTPFieldName("Host")
    public static let date = HTTPFieldName("Date")
    public static let expect = HTTPFieldName("Expect")
    public static let connection = HTTPFieldName("Connection")
    public static let contentLength = HTTPFieldName("Content-Length")
    public static let transferEncoding = HTTPFieldName("Transfer-Encoding")

    /// A name of visible ASCII (a token).
    public init(_ name: String) {
        let lowercase = name.utf8.map(asciiLower)
        let first = Self.word(lowercase.span, at: 0, count: min(8, lowercase.count))
        self.lowercase = lowercase
        count = lowercase.count
        self.first = first
        last = lowercase.count >= 8 ? littleEndianWord(lowercase.span, at: lowercase.count - 8) : first
    }

    /// Whether `bytes` are this name, in any case.
    @inlinable @inline(__always)
    public func matches(_ bytes: Span<UInt8>) -> Bool {
        guard bytes.count == count else { return false }
        guard count >= 8 else { return Self.lowered(Self.word(bytes, at: 0, count: count)) == first }
        guard Self.lowered(littleEndianWord(bytes, at: 0)) == first,
            Self.lowered(littleEndianWord(bytes, at: count - 8)) == last
        else { return false }
        var offset = 8
        while offset < count - 8 {
            guard Self.lowered(littleEndianWord(bytes, at: offset)) == littleEndianWord(lowercase.span, at: offset)
            else { return false }
            offset += 8
        }
        return true
    }

    /// `count` (at most 8) bytes from `index` as a little-endian word, zero above them.
    @inlinable
    static func word(_ bytes: Span<UInt8>, at index: Int, count: Int) -> UInt64 {
        var word: UInt64 = 0
        var offset = 0
        while offset < count {
            word |= UInt64(bytes[index + offset]) << UInt64(offset * 8)
            offset += 1
        }
        return word
    }

    /// `word` with each byte `A`–`Z` made lowercase; every other byte (bytes from 0x80 too) kept.
    /// Adding 0x3F to a byte's low seven bits sets its bit 7 from `A` on, adding 0x25 from past
    /// `Z` on; neither carries into the next lane.
    @inlinable @inline(__always)
    static func lowered(_ word: UInt64) -> UInt64 {
        let low = word & 0x7F7F_7F7F_7F7F_7F7F
        let fromA = low &+ 0x3F3F_3F3F_3F3F_3F3F
        let pastZ = low &+ 0x2525_2525_2525_2525
        let upper = fromA & ~pastZ & ~word & 0x8080_8080_8080_8080
        return word | upper >> 2
    }
}

@inlinable @inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

/// A part of a request (its target, path or query) as the bytes the parser kept, in a buffer it
/// may share with other parts: reading it as bytes copies nothing; ``string`` makes a String.
public struct RequestText: Sendable {
    @usableFromInline let storage: [UInt8]
    @usableFromInline let range: Range<Int>

    init(_ storage: [UInt8], _ range: Range<Int>) {
        self.storage = storage
        self.range = range
    }

    init(_ text: String) {
        storage = Array(text.utf8)
        range = 0..<storage.count
    }

    /// The number of bytes.
    public var count: Int { range.count }

    /// Lends the bytes (indexed from 0).
    @inlinable
    public func withSpan<Result>(_ body: (Span<UInt8>) throws -> Result) rethrows -> Result {
        try body(storage.span.extracting(range))
    }

    /// The bytes at offsets `bounds` as a string (the parser admitted only ASCII into a target).
    public func text(_ bounds: Range<Int>) -> String {
        String(
            decoding: storage[(range.lowerBound + bounds.lowerBound)..<(range.lowerBound + bounds.upperBound)],
            as: UTF8.self)
    }

    /// All of it as a string.
    public var string: String { text(0..<count) }
}

/// A parsed request: what the handler sees.
public struct HTTPRequest: Sendable {
    /// What the parser read, shared by every copy of the request: a request is handed from the
    /// event loop to the handler, into its context and its closures, and each copy of eight
    /// separate fields retained (and released) every string and array in them. A copy now
    /// retains one object. A setter (tests, handlers building requests) replaces the object.
    /// Target, path and query are bytes: a parsed request keeps them in its header fields'
    /// buffer (one allocation for the head, no String made unless a handler asks for one).
    private struct Parsed: Sendable {
        var method: HTTPMethod
        var target: RequestText
        var path: RequestText
        var query: RequestText?
        var version: HTTPVersion
        var headers: HTTPHeaders
        var body: [UInt8]
        var keepAlive: Bool
    }

    private final class Box: Sendable {
        let parsed: Parsed
        init(_ parsed: Parsed) { self.parsed = parsed }
    }

    private var box: Box

    private mutating func change(_ update: (inout Parsed) -> Void) {
        var parsed = box.parsed
        update(&parsed)
        box = Box(parsed)
    }

    /// The method.
    public var method: HTTPMethod {
        get { box.parsed.method }
        set { change { $0.method = newValue } }
    }
    /// The request-target exactly as received (origin-form, or absolute-form).
    public var target: String {
        get { box.parsed.target.string }
        set { change { $0.target = RequestText(newValue) } }
    }
    /// The path of the target, still percent-encoded (`/api/v1/event/token/…`).
    public var path: String {
        get { box.parsed.path.string }
        set { change { $0.path = RequestText(newValue) } }
    }
    /// The path's bytes, as ``path`` spells them (no String made).
    public var pathBytes: RequestText { box.parsed.path }
    /// The query without `?`, still percent-encoded; nil when absent.
    public var query: String? {
        get { box.parsed.query?.string }
        set { change { $0.query = newValue.map(RequestText.init) } }
    }
    /// The protocol version.
    public var version: HTTPVersion {
        get { box.parsed.version }
        set { change { $0.version = newValue } }
    }
    /// The header fields.
    public var headers: HTTPHeaders {
        get { box.parsed.headers }
        set { change { $0.headers = newValue } }
    }
    /// The body (empty without one).
    public var body: [UInt8] {
        get { box.parsed.body }
        set { change { $0.body = newValue } }
    }
    /// Whether the connection stays open after the response (HTTP/1.1 unless `Connection: close`;
    /// HTTP/1.0 only with `Connection: keep-alive`).
    public var keepAlive: Bool {
        get { box.parsed.keepAlive }
        set { change { $0.keepAlive = newValue } }
    }
    /// The client's IP address, set by the server (nil in tests that build requests directly).
    public var remoteAddress: String?

    /// Creates a request (for tests and handlers that build them).
    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http11, headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8] = [], keepAlive: Bool = true
    ) {
        let split = Self.splitTarget(target)
        box = Box(
            Parsed(
                method: method, target: RequestText(target), path: RequestText(split.path),
                query: split.query.map(RequestText.init), version: version, headers: headers, body: body,
                keepAlive: keepAlive))
    }

    /// A parsed origin-form request: its target is `headers`' prefix, its query (if any) after
    /// the `?` at offset `queryMark` of it.
    init(
        method: HTTPMethod, originFormIn headers: HTTPHeaders, queryMark: Int?, version: HTTPVersion, body: [UInt8],
        keepAlive: Bool
    ) {
        let storage = headers.packed
        let end = headers.fieldsStart
        box = Box(
            Parsed(
                method: method, target: RequestText(storage, 0..<end),
                path: RequestText(storage, 0..<(queryMark ?? end)),
                query: queryMark.map { RequestText(storage, ($0 + 1)..<end) }, version: version, headers: headers,
                body: body, keepAlive: keepAlive))
    }

    /// Path and query of an origin-form or absolute-form target.
    static func splitTarget(_ target: String) -> (path: String, query: String?) {
        // Byte-wise: the parser admitted only RFC 3986 characters, so there are no grapheme
        // clusters to respect and Character iteration would only cost time.
        let utf8 = target.utf8
        var start = utf8.startIndex
        if utf8.first != UInt8(ascii: "/"), target != "*" {
            // absolute-form: drop "scheme://authority" and keep the path (RFC 9112 §3.2.2).
            var authority = start
            if let colon = utf8.firstIndex(of: UInt8(ascii: ":")) {
                authority = utf8.index(colon, offsetBy: 3, limitedBy: utf8.endIndex) ?? utf8.endIndex
            }
            guard let slash = utf8[authority...].firstIndex(of: UInt8(ascii: "/")) else { return ("/", nil) }
            start = slash
        }
        let rest = target[start...]
        if let offset = firstOffset(of: UInt8(ascii: "?"), in: rest.utf8.span) {
            let mark = rest.utf8.index(rest.utf8.startIndex, offsetBy: offset)
            return (String(rest[..<mark]), String(rest[rest.utf8.index(after: mark)...]))
        }
        // The common origin-form target without a query is its own path: share its storage.
        return start == utf8.startIndex ? (target, nil) : (String(rest), nil)
    }
}

/// A response a handler returns.
///
/// A value type whose fields live in one immutable object: a response is handed from the
/// handler through the API's finishing step to the event loop, and a copy of four separate
/// fields retained (and released) six buffers; a copy now retains one object. A setter makes a
/// new object (responses are built once and rarely changed), and drops the prepared form.
public struct HTTPResponse: Sendable {
    private final class Storage: Sendable {
        let status: HTTPStatus
        let headers: HTTPHeaders
        let body: [UInt8]
        let prepared: Prepared?

        init(status: HTTPStatus, headers: HTTPHeaders, body: [UInt8], prepared: Prepared?) {
            self.status = status
            self.headers = headers
            self.body = body
            self.prepared = prepared
        }
    }

    private var storage: Storage

    /// The status.
    public var status: HTTPStatus {
        get { storage.status }
        set { storage = Storage(status: newValue, headers: storage.headers, body: storage.body, prepared: nil) }
    }
    /// Header fields; the writer adds `Date`, `Content-Length` and `Connection` itself.
    public var headers: HTTPHeaders {
        get { storage.headers }
        set { storage = Storage(status: storage.status, headers: newValue, body: storage.body, prepared: nil) }
    }
    /// The body.
    public var body: [UInt8] {
        get { storage.body }
        set { storage = Storage(status: storage.status, headers: storage.headers, body: newValue, prepared: nil) }
    }
    /// The serialized form kept by ``prepared()`` for a response sent many times; any change of
    /// status, headers or body drops it.
    var preparedForm: Prepared? { storage.prepared }

    /// What ``prepared()`` keeps: the header fields as the serializer writes them, and the whole
    /// keep-alive HTTP/1.1 answer around its `Date` value (the common case: two copies and the date).
    /// A class: the serializer takes it out of the response with one retain, not three.
    final class Prepared: Sendable {
        let fields: [UInt8]
        /// The status line and `Date: `.
        let beforeDate: [UInt8]
        /// From the CRLF after the date: `Content-Length`, the fields, the empty line, the body.
        let afterDate: [UInt8]

        init(fields: [UInt8], beforeDate: [UInt8], afterDate: [UInt8]) {
            self.fields = fields
            self.beforeDate = beforeDate
            self.afterDate = afterDate
        }
    }

    /// This response with its header fields serialized once, for a canned answer sent many
    /// times (the serializer then copies them as one block).
    public func prepared() -> HTTPResponse {
        var response = self
        response.storage = Storage(
            status: status, headers: headers, body: body, prepared: ResponseSerializer.prepare(self))
        return response
    }

    /// This response without its prepared form (what the serializer writes when it cannot use it).
    var unprepared: HTTPResponse {
        guard storage.prepared != nil else { return self }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    /// Creates a response.
    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        storage = Storage(status: status, headers: headers, body: body, prepared: nil)
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ status: HTTPStatus, _ text: String) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: HTTPHeaders([("Content-Type", "text/plain; charset=utf-8")]),
            body: Array(text.utf8))
    }
}
