/// Why a request could not be parsed. Every case is answered once, with `Connection: close`,
/// and the connection is closed: nothing after the error is read (RFC 9112 §6.3, R1).
public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Malformed syntax or framing (400).
    case badRequest(String)
    /// The request line is over ``HTTPLimits/requestLineBytes`` (414).
    case uriTooLong
    /// A header line, the header section or the field count is over its limit (431).
    case headerFieldsTooLarge(String)
    /// The body is over ``HTTPLimits/bodyBytes`` (413).
    case contentTooLarge
    /// An unknown method or an unsupported transfer coding (501).
    case notImplemented(String)
    /// A protocol version other than 1.0 and 1.1 (505).
    case versionNotSupported
    /// An `Expect` value other than `100-continue` (417).
    case expectationFailed

    /// The status to answer with.
    public var status: HTTPStatus {
        switch self {
        case .badRequest: .badRequest
        case .uriTooLong: .uriTooLong
        case .headerFieldsTooLarge: .headerFieldsTooLarge
        case .contentTooLarge: .contentTooLarge
        case .notImplemented: .notImplemented
        case .versionNotSupported: .versionNotSupported
        case .expectationFailed: .expectationFailed
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let why): "Bad request: \(why)"
        case .uriTooLong: "The request line is too long"
        case .headerFieldsTooLarge(let why): "Request header fields too large: \(why)"
        case .contentTooLarge: "The request body is too large"
        case .notImplemented(let what): "Not implemented: \(what)"
        case .versionNotSupported: "Only HTTP/1.0 and HTTP/1.1 are supported"
        case .expectationFailed: "Only the expectation 100-continue is supported"
        }
    }
}
