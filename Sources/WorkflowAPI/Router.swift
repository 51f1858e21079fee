public import HTTP1

/// One endpoint, declared once: method, path pattern, the permission an API key needs, and the
/// handler. The route files (`Routes/`) declare them by resource; the OpenAPI tests check that
/// the document has exactly these paths, methods and permissions.
public struct Route: Sendable {
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
    let handler: Handler
    /// The route's position in the router (the metrics label).
    var index = 0
    /// The handler never waits on the store (it answers from memory: the version, the OpenAPI
    /// document, health from the store's cached condition), so it runs on the event loop even
    /// when the store's calls block: a liveness probe is answered while every request thread
    /// waits for the database.
    var answersFromMemory = false

    init(_ method: HTTPMethod, _ path: String, _ permission: Permission?, handler: @escaping Handler) {
        self.method = method
        self.path = path
        self.permission = permission
        self.segments = path.split(separator: "/").map { segment in
            segment.hasPrefix("{")
                ? .parameter(String(segment.dropFirst().dropLast())) : .literal(Array(segment.utf8))
        }
        self.handler = handler
    }

    /// This route, marked as answering from memory (``answersFromMemory``).
    func fromMemory() -> Route {
        var route = self
        route.answersFromMemory = true
        return route
    }

    /// `GET /api/v1/workflow/token/{uuid}`.
    public var signature: String { "\(method.rawValue) \(path)" }
}

/// What a handler gets: the request, its path parameters and who asks.
struct RequestContext: Sendable {
    let request: HTTPRequest
    let parameters: [String: String]
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

    init(_ groups: [[Route]]) {
        routes = groups.joined().enumerated().map { index, route in
            var numbered = route
            numbered.index = index
            return numbered
        }
    }

    /// The route a request would reach, with its parameters, or the 404/405/400.
    ///
    /// Literal segments are compared with the raw path (they are plain ASCII, so a segment with
    /// `%` is decoded first); only the parameters of the matching route are decoded.
    func resolve(_ request: HTTPRequest) -> Result<(Route, [String: String]), Problem> {
        let method = request.method == .head ? HTTPMethod.get : request.method
        let raw = request.path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        // The routes whose pattern matches the path; of those, only the most specific (the most
        // literal segments) count, so `/api/v1/project/lookup` is never the `{uuid}` of
        // `/api/v1/project/{uuid}`, whatever the method.
        var matching: [Route] = []
        var specificity = -1
        for route in routes where route.segments.count == raw.count {
            var literals = 0
            var literalsMatch = true
            for (segment, actual) in zip(route.segments, raw) {
                guard case .literal(let expected) = segment else { continue }
                literals += 1
                if actual.contains(UInt8(ascii: "%")) {
                    guard let decoded = PercentDecoding.decode(Substring(actual)), decoded.utf8.elementsEqual(expected)
                    else {
                        literalsMatch = false
                        break
                    }
                } else if !actual.elementsEqual(expected) {
                    literalsMatch = false
                    break
                }
            }
            guard literalsMatch, literals >= specificity else { continue }
            if literals > specificity {
                matching.removeAll()
                specificity = literals
            }
            matching.append(route)
        }
        guard let route = matching.first(where: { $0.method == method }) else {
            if !matching.isEmpty {
                var allowed = matching.map(\.method)
                if allowed.contains(.get) { allowed.append(.head) }
                return .failure(Problem.methodNotAllowed(allowed))
            }
            return .failure(Problem.notFound("No resource at \(request.path)"))
        }
        var parameters: [String: String] = [:]
        for (segment, actual) in zip(route.segments, raw) {
            guard case .parameter(let name) = segment else { continue }
            guard let decoded = PercentDecoding.decode(Substring(actual)) else {
                return .failure(Problem.validation("The path is not valid percent-encoded UTF-8"))
            }
            parameters[name] = decoded
        }
        return .success((route, parameters))
    }
}
