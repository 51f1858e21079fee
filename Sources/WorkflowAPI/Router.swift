public import HTTP1

/// One endpoint, declared once: method, path pattern, the permission an API key needs, and the
/// handler. The route files (`Routes/`) declare them by resource; the OpenAPI tests check that
/// the document has exactly these paths, methods and permissions.
///
/// A class: a matched request holds its route by one reference, not a copy of its fields.
public final class Route: Sendable {
    /// Handles a matched, authorized request; answers through `respond` now or later.
    typealias Handler =
        @Sendable (WorkflowService, RequestContext, @escaping WorkflowService.Respond) throws(Problem) ->
        Void

    /// One segment of a pattern, compiled once so that matching compares bytes.
    enum Segment: Sendable {
        case literal([UInt8])
        case parameter(String)
    }

    /// The method.
    public let method: HTTPMethod
    /// The path pattern, e.g. `/api/v1/workflow/token/{uuid}` (`{name}` is a parameter).
    public let path: String
    /// What the API key must allow; nil for public endpoints (version, health, metrics).
    public let permission: Permission?
    let segments: [Segment]
    /// The names of the parameters, in the order of the path.
    let parameterNames: [String]
    let handler: Handler
    /// The route's position in the router (the metrics label).
    let index: Int
    /// The handler never waits on the store (it answers from memory: the version, the OpenAPI
    /// document, health from the store's cached condition), so it runs on the event loop even
    /// when the store's calls block: a liveness probe is answered while every request thread
    /// waits for the database.
    let answersFromMemory: Bool

    init(_ method: HTTPMethod, _ path: String, _ permission: Permission?, handler: @escaping Handler) {
        self.method = method
        self.path = path
        self.permission = permission
        self.index = 0
        self.answersFromMemory = false
        let segments: [Segment] = path.split(separator: "/").map { segment in
            segment.hasPrefix("{")
                ? .parameter(String(segment.dropFirst().dropLast())) : .literal(Array(segment.utf8))
        }
        self.segments = segments
        self.parameterNames = segments.compactMap { segment in
            guard case .parameter(let name) = segment else { return nil }
            return name
        }
        precondition(parameterNames.count <= PathParameters.capacity, "\(path) has too many parameters")
        self.handler = handler
    }

    private init(_ route: Route, index: Int, answersFromMemory: Bool) {
        method = route.method
        path = route.path
        permission = route.permission
        segments = route.segments
        parameterNames = route.parameterNames
        handler = route.handler
        self.index = index
        self.answersFromMemory = answersFromMemory
    }

    /// This route, marked as answering from memory (``answersFromMemory``).
    func fromMemory() -> Route { Route(self, index: index, answersFromMemory: true) }

    /// This route at position `index` of the router.
    func numbered(_ index: Int) -> Route { Route(self, index: index, answersFromMemory: answersFromMemory) }

    /// `GET /api/v1/workflow/token/{uuid}`.
    public var signature: String { "\(method.rawValue) \(path)" }
}

/// The decoded path parameters of a matched route, kept inline (a route has at most
/// ``capacity``): matching a request allocates no dictionary.
struct PathParameters: Sendable {
    private typealias Values = InlineArray<4, String>
    static var capacity: Int { Values.count }
    private let names: [String]
    private var values = Values(repeating: "")

    /// No parameters yet for a route with these parameter names.
    init(names: [String]) { self.names = names }

    /// The value of the parameter called `name`.
    subscript(name: String) -> String? {
        var index = 0
        while index < names.count {
            if names[index] == name { return values[index] }
            index += 1
        }
        return nil
    }

    /// Sets the `index`th parameter of the route.
    mutating func set(_ index: Int, _ value: String) { values[index] = value }
}

/// What a handler gets: the request, its path parameters and who asks.
struct RequestContext: Sendable {
    let request: HTTPRequest
    let parameters: PathParameters
    /// The name of the API key that made the request (nil without authentication).
    let keyName: String?
    /// The key has the ADMIN permission (it may change steps other workers hold).
    let isAdmin: Bool
    /// The client's usable `X-Request-Id`, if it sent one.
    let incomingRequestID: String?
    /// The matched route.
    let route: Route

    /// The `{uuid}` parameter as sent.
    var rawToken: String { parameters["uuid"] ?? "" }
}

/// The routes, frozen at start, matched on the raw path bytes.
struct Router: Sendable {
    let routes: [Route]
    /// The indices of the routes with each number of segments (a path is compared only with
    /// the routes of its length).
    private let byLength: [[Int]]
    /// No route has more segments; a longer path is answered 404 without looking.
    static let maxSegments = 16

    init(_ groups: [[Route]]) {
        routes = groups.joined().enumerated().map { index, route in route.numbered(index) }
        var byLength = [[Int]](repeating: [], count: Self.maxSegments + 1)
        for route in routes {
            precondition(route.segments.count <= Self.maxSegments, "\(route.path) has too many segments")
            byLength[route.segments.count].append(route.index)
        }
        self.byLength = byLength
    }

    /// The byte offsets of a path's non-empty segments, found without allocating.
    private struct Segments {
        var starts = InlineArray<16, Int>(repeating: 0)
        var ends = InlineArray<16, Int>(repeating: 0)
        var count = 0
        /// False when the path has more than ``Router/maxSegments`` segments.
        var fits = true

        init(_ path: Span<UInt8>) {
            var index = 0
            while index < path.count {
                if path[index] == UInt8(ascii: "/") {
                    index += 1
                    continue
                }
                let start = index
                while index < path.count && path[index] != UInt8(ascii: "/") { index += 1 }
                guard count < Router.maxSegments else {
                    fits = false
                    return
                }
                starts[count] = start
                ends[count] = index
                count += 1
            }
        }
    }

    /// The route a request would reach, with its parameters, or the 404/405/400.
    ///
    /// Literal segments are compared with the raw path (they are plain ASCII, so a segment with
    /// `%` is decoded first); only the parameters of the matching route are decoded. Of the
    /// routes whose pattern matches the path, only the most specific (the most literal segments)
    /// count, so `/api/v1/project/lookup` is never the `{uuid}` of `/api/v1/project/{uuid}`,
    /// whatever the method.
    func resolve(_ request: HTTPRequest) -> Result<(Route, PathParameters), Problem> {
        let method = request.method == .head ? HTTPMethod.get : request.method
        let path = request.path
        let utf8 = path.utf8
        let bytes = utf8.span
        let segments = Segments(bytes)
        guard segments.fits else { return .failure(Problem.notFound("No resource at \(request.path)")) }
        var specificity = -1
        var chosen = -1
        var others = false
        for candidate in byLength[segments.count] {
            guard let literals = literalMatch(candidate, segments, bytes, path) else { continue }
            if literals > specificity {
                specificity = literals
                chosen = -1
                others = false
            } else if literals < specificity {
                continue
            }
            if chosen < 0 && routes[candidate].method == method { chosen = candidate } else { others = true }
        }
        guard chosen >= 0 else {
            guard others else { return .failure(Problem.notFound("No resource at \(request.path)")) }
            var allowed = byLength[segments.count].filter {
                literalMatch($0, segments, bytes, path) == specificity
            }.map { routes[$0].method }
            if allowed.contains(.get) { allowed.append(.head) }
            return .failure(Problem.methodNotAllowed(allowed))
        }
        let route = routes[chosen]
        var parameters = PathParameters(names: route.parameterNames)
        var parameter = 0
        for index in 0..<segments.count {
            guard case .parameter = route.segments[index] else { continue }
            guard let decoded = PercentDecoding.decode(Self.text(path, segments.starts[index], segments.ends[index]))
            else {
                return .failure(Problem.validation("The path is not valid percent-encoded UTF-8"))
            }
            parameters.set(parameter, decoded)
            parameter += 1
        }
        return .success((route, parameters))
    }

    /// The number of literal segments when every literal segment of route `route` matches, else nil.
    private func literalMatch(_ route: Int, _ segments: Segments, _ bytes: Span<UInt8>, _ path: String) -> Int? {
        var literals = 0
        for index in 0..<segments.count {
            guard case .literal(let expected) = routes[route].segments[index] else { continue }
            literals += 1
            let start = segments.starts[index]
            let end = segments.ends[index]
            var escaped = false
            if end - start == expected.count {
                var offset = 0
                while offset < expected.count {
                    let byte = bytes[start + offset]
                    if byte != expected[offset] {
                        escaped = byte == UInt8(ascii: "%")
                        break
                    }
                    offset += 1
                }
                if offset == expected.count { continue }
            }
            // Not the same bytes: the same text only when the segment is percent-encoded.
            guard escaped || Self.contains(bytes, start, end, UInt8(ascii: "%")),
                let decoded = PercentDecoding.decode(Self.text(path, start, end)),
                decoded.utf8.elementsEqual(expected)
            else { return nil }
        }
        return literals
    }

    private static func contains(_ bytes: Span<UInt8>, _ start: Int, _ end: Int, _ byte: UInt8) -> Bool {
        var index = start
        while index < end {
            if bytes[index] == byte { return true }
            index += 1
        }
        return false
    }

    /// The segment at byte offsets `start..<end` of `path` (ASCII: the parser admitted no other).
    private static func text(_ path: String, _ start: Int, _ end: Int) -> Substring {
        let utf8 = path.utf8
        let from = utf8.index(utf8.startIndex, offsetBy: start)
        return path[from..<utf8.index(from, offsetBy: end - start)]
    }
}
