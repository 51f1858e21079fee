/// The parser's and server's bounds (docs/HTTP.md has the table with the status of each).
///
/// Defaults follow RELIABILITY.md §2: request line 8 KiB (414), one header line 8 KiB, all
/// header lines 32 KiB and 100 fields (431), body 1 MiB (413, before reading it),
/// chunk extensions 1 KiB per request (400).
public struct HTTPLimits: Sendable, Equatable {
    /// Bytes of the request line without CRLF; longer → 414.
    public var requestLineBytes = 8192
    /// Bytes of one header line without CRLF; longer → 431.
    public var headerLineBytes = 8192
    /// Bytes of all header lines (and of the trailer section); more → 431.
    public var headerBytes = 32768
    /// Header fields (and trailer fields); more → 431.
    public var headerCount = 100
    /// Body bytes, by Content-Length or chunked; more → 413.
    public var bodyBytes = 1 << 20
    /// Bytes of chunk extensions in one request; more → 400.
    public var chunkExtensionBytes = 1024
    /// Routes whose body may be larger (or must be smaller) than ``bodyBytes``: the first whose
    /// method and path (without the query) match exactly sets the limit for that request only.
    public var bodyLimits: [RouteBodyLimit] = []

    /// The body limit for a request with this method and request target.
    public func bodyBytes(method: HTTPMethod, target: String) -> Int {
        bodyBytes(method: method, target: target.utf8.span)
    }

    /// ``bodyBytes(method:target:)`` for the target's bytes.
    public func bodyBytes(method: HTTPMethod, target bytes: Span<UInt8>) -> Int {
        // Most requests (every GET) have no route limit for their method: no look at the path.
        guard bodyLimits.contains(where: { $0.method == method }) else { return bodyBytes }
        let path = bytes.extracting(..<(firstOffset(of: UInt8(ascii: "?"), in: bytes) ?? bytes.count))
        for route in bodyLimits where route.method == method && path.count == route.path.utf8.count {
            let expected = route.path.utf8.span
            var index = 0
            while index < path.count && path[index] == expected[index] { index += 1 }
            if index == path.count { return route.bytes }
        }
        return bodyBytes
    }

    /// The defaults.
    public init() {}
}

/// A body limit for one route (``HTTPLimits/bodyLimits``), e.g. BOM uploads.
public struct RouteBodyLimit: Sendable, Equatable {
    public var method: HTTPMethod
    public var path: String
    public var bytes: Int

    public init(method: HTTPMethod, path: String, bytes: Int) {
        self.method = method
        self.path = path
        self.bytes = bytes
    }
}
