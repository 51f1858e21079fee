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
public struct HTTPHeaders: Sendable, Sequence, Equatable {
    /// One field.
    public struct Field: Sendable, Equatable {
        /// The name as received.
        public let name: String
        /// The value with surrounding whitespace removed.
        public let value: String
    }

    /// The fields in order. Looking fields up through `fields.span` borrows each in place;
    /// iterating the headers copies each field (a retain and release of both strings).
    public private(set) var fields: [Field] = []

    /// No fields.
    public init() {}

    /// Fields from name-value pairs.
    public init(_ pairs: [(String, String)]) { fields = pairs.map { Field(name: $0.0, value: $0.1) } }

    /// Makes room for `count` fields at once.
    public mutating func reserveCapacity(_ count: Int) { fields.reserveCapacity(count) }

    /// Appends a field. Response code must never copy CR or LF from input into a value (R3).
    public mutating func add(_ name: String, _ value: String) { fields.append(Field(name: name, value: value)) }

    /// Replaces every field of that name with one.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    /// Removes every field of that name.
    public mutating func remove(_ name: String) { fields.removeAll { Self.equalsIgnoringCase($0.name, name) } }

    /// The first value of `name` (case-insensitive).
    public subscript(name: String) -> String? { fields.first { Self.equalsIgnoringCase($0.name, name) }?.value }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { Self.equalsIgnoringCase($0.name, name) }.map(\.value)
    }

    /// The number of fields.
    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// ASCII case-insensitive comparison (header names are ASCII tokens).
    public static func equalsIgnoringCase(_ lhs: String, _ rhs: String) -> Bool {
        // The lengths first (stored in the string): most names compared differ in length, and
        // taking a string's span costs more than that.
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        // The same spelling (clients send the usual case): for names of up to 15 bytes, both
        // stored inline, this is a comparison of two words.
        if lhs == rhs { return true }
        let left = lhs.utf8.span
        let right = rhs.utf8.span
        var index = 0
        while index < left.count {
            guard asciiLower(left[index]) == asciiLower(right[index]) else { return false }
            index += 1
        }
        return true
    }
}

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

/// A parsed request: what the handler sees.
public struct HTTPRequest: Sendable {
    /// What the parser read, shared by every copy of the request: a request is handed from the
    /// event loop to the handler, into its context and its closures, and each copy of eight
    /// separate fields retained (and released) every string and array in them. A copy now
    /// retains one object. A setter (tests, handlers building requests) replaces the object.
    private struct Parsed: Sendable {
        var method: HTTPMethod
        var target: String
        var path: String
        var query: String?
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
        get { box.parsed.target }
        set { change { $0.target = newValue } }
    }
    /// The path of the target, still percent-encoded (`/api/v1/event/token/…`).
    public var path: String {
        get { box.parsed.path }
        set { change { $0.path = newValue } }
    }
    /// The query without `?`, still percent-encoded; nil when absent.
    public var query: String? {
        get { box.parsed.query }
        set { change { $0.query = newValue } }
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
        self.init(
            method: method, target: target, path: split.path, query: split.query, version: version, headers: headers,
            body: body, keepAlive: keepAlive)
    }

    /// A request whose target the parser has already split into path and query.
    init(
        method: HTTPMethod, target: String, path: String, query: String?, version: HTTPVersion, headers: HTTPHeaders,
        body: [UInt8], keepAlive: Bool
    ) {
        box = Box(
            Parsed(
                method: method, target: target, path: path, query: query, version: version, headers: headers,
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
