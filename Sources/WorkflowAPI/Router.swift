public import HTTP1
internal import WorkflowModel

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
    /// Handles a matched, authorized request whose answer is ready when it returns (reads).
    typealias Answer = @Sendable (WorkflowService, RequestContext) throws(Problem) -> HTTPResponse

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
    /// What the route runs: a ``Handler`` that answers through a callback, or an ``Answer``
    /// returned at once (dispatch then makes no response closure for it).
    enum Action: Sendable {
        case responds(Handler)
        case answers(Answer)
    }
    let action: Action
    /// The route's position in the router (the metrics label).
    let index: Int
    /// The handler never waits on the store (it answers from memory: the version, the OpenAPI
    /// document, health from the store's cached condition), so it runs on the event loop even
    /// when the store's calls block: a liveness probe is answered while every request thread
    /// waits for the database.
    let answersFromMemory: Bool

    convenience init(_ method: HTTPMethod, _ path: String, _ permission: Permission?, handler: @escaping Handler) {
        self.init(method, path, permission, .responds(handler))
    }

    /// A route whose answer is ready when `answer` returns.
    convenience init(_ method: HTTPMethod, _ path: String, _ permission: Permission?, answer: @escaping Answer) {
        self.init(method, path, permission, .answers(answer))
    }

    private init(_ method: HTTPMethod, _ path: String, _ permission: Permission?, _ action: Action) {
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
        self.action = action
    }

    private init(_ route: Route, index: Int, answersFromMemory: Bool) {
        method = route.method
        path = route.path
        permission = route.permission
        segments = route.segments
        parameterNames = route.parameterNames
        action = route.action
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

/// The bounds of the parameter segments met on the way down the tree (a route has at most
/// four), carried by the walk so that the chosen route's need no second scan of the path.
/// Plain stored integers: an element of an inline array was read by copying the whole array.
struct ParameterSegments {
    private var starts: (Int, Int, Int, Int) = (0, 0, 0, 0)
    private var ends: (Int, Int, Int, Int) = (0, 0, 0, 0)
    /// Bit `n` is set when parameter `n` holds a `%`.
    private var escapes: UInt8 = 0
    private(set) var count = 0

    mutating func append(start: Int, end: Int, escaped: Bool) {
        switch count {
        case 0: (starts.0, ends.0) = (start, end)
        case 1: (starts.1, ends.1) = (start, end)
        case 2: (starts.2, ends.2) = (start, end)
        default: (starts.3, ends.3) = (start, end)
        }
        if escaped { escapes |= 1 << count }
        count += 1
    }

    /// The bounds of parameter `index` and whether it holds a `%`.
    func segment(_ index: Int) -> (start: Int, end: Int, escaped: Bool) {
        let escaped = escapes & (1 << index) != 0
        switch index {
        case 0: return (starts.0, ends.0, escaped)
        case 1: return (starts.1, ends.1, escaped)
        case 2: return (starts.2, ends.2, escaped)
        default: return (starts.3, ends.3, escaped)
        }
    }
}

/// The path parameters of a matched route, kept as byte ranges of the path (a route has at most
/// ``capacity``): matching a request allocates nothing, a parameter becomes a String only when a
/// handler asks for one, and a token is parsed from the path's own bytes. A percent-encoded
/// parameter is decoded (and checked) when the route is matched and kept decoded.
struct PathParameters: Sendable {
    static var capacity: Int { 4 }
    private let names: [String]
    private let path: RequestText
    private let segments: ParameterSegments
    /// The decoded text of each percent-encoded parameter, nil for a plain one; empty (nothing
    /// allocated) while no parameter was escaped.
    private var decoded: [String?] = []

    /// The parameters `segments` of `path` for a route with these parameter names.
    init(names: [String], path: RequestText, segments: ParameterSegments) {
        self.names = names
        self.path = path
        self.segments = segments
    }

    private func position(_ name: String) -> Int? {
        var index = 0
        while index < names.count {
            if names[index] == name { return index }
            index += 1
        }
        return nil
    }

    /// The value of the parameter called `name`, decoded.
    subscript(name: String) -> String? {
        guard let index = position(name) else { return nil }
        if index < decoded.count, let text = decoded[index] { return text }
        let (start, end, _) = segments.segment(index)
        return path.text(start..<end)
    }

    /// The parameter called `name` parsed as a token: from the path's bytes when it is plain;
    /// nil when it is missing or not a token.
    func token(_ name: String) -> Token? {
        guard let index = position(name) else { return nil }
        if index < decoded.count, let text = decoded[index] { return Token(text) }
        let (start, end, _) = segments.segment(index)
        return path.withSpan { Token(utf8: $0.extracting(start..<end)) }
    }

    /// Keeps the decoded text of the `index`th parameter (a percent-encoded one).
    mutating func setDecoded(_ index: Int, _ text: String) {
        if decoded.isEmpty { decoded = Array(repeating: nil, count: Self.capacity) }
        decoded[index] = text
    }
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

    /// The `{uuid}` parameter as a token, parsed from the path's bytes; nil when it is none.
    var token: Token? { parameters.token("uuid") }
}

/// The route a request reaches and its path parameters. A struct, not a tuple: a tuple in a
/// `Result` was copied and destroyed through the runtime's generic tuple witnesses.
struct Resolution: Sendable {
    let route: Route
    let parameters: PathParameters
}

/// The routes, frozen at start, matched on the raw path bytes.
///
/// The patterns are kept as a tree with one node per distinct run of leading segments, so a
/// path is compared only with the literal segments that could still lead to a route: the poll's
/// `/api/v1/event/token/{uuid}` meets a handful of comparisons, not every route of its length.
struct Router: Sendable {
    let routes: [Route]
    /// The pattern tree; node 0 is the root (no segment yet). Nodes, edges and route lists are
    /// plain integers and the literal segments one pool of bytes, so a walk counts no references.
    private let nodes: [Node]
    /// The literal edges, each node's consecutive.
    private let edges: [Edge]
    /// The bytes of every edge's literal segment.
    private let literalBytes: [UInt8]
    /// The routes ending at each node, each node's consecutive, in the router's order.
    private let endings: [Int]
    /// No route has more segments (a longer path matches nothing: the tree is no deeper).
    static let maxSegments = 16
    /// The patterns made of literal segments and one last parameter (the poll's
    /// `/api/v1/event/token/{uuid}`), matched without the walk when that gives the walk's answer.
    private let trailing: [TrailingParameter]
    /// The bytes of every ``TrailingParameter``'s prefix, then of its excluded last segments.
    private let trailingBytes: [UInt8]

    /// One node of the tree: the patterns that share its leading segments.
    private struct Node {
        /// The node's literal edges: `edges[firstEdge..<firstEdge + edgeCount]`.
        var firstEdge = 0
        var edgeCount = 0
        /// The child reached by any segment (a `{parameter}`), or -1.
        var parameter = -1
        /// The routes whose pattern ends here: `endings[firstEnding..<firstEnding + endingCount]`.
        var firstEnding = 0
        var endingCount = 0
    }

    /// A child reached by one literal segment, `literalBytes[start..<start + count]`.
    private struct Edge {
        var start: Int
        var count: Int
        var child: Int
        /// The literal's first eight bytes (``prefixKey(_:_:_:)``): a segment whose key and
        /// length differ is rejected by one comparison, without reading the literal's bytes.
        var key: UInt64
    }

    /// Routes that share one pattern of literal segments and a last parameter, such as
    /// `/api/v1/event/token/{uuid}`: a path that is exactly their prefix (`/api/v1/event/token/`,
    /// one slash between segments) and then one plain segment (no `%`) reaches the first
    /// of them with the request's method — unless the segment equals a literal that another
    /// pattern of the same length has last while its other segments fit the prefix (as
    /// `/api/v1/project/lookup` beside `/api/v1/project/{uuid}`): those, other methods and all
    /// other paths take the walk. This is the walk's own answer (`RouterTests` compares the two
    /// with the plain rule), found with a few word comparisons instead of a walk of the tree.
    private struct TrailingParameter {
        /// The prefix's bytes, `trailingBytes[start..<start + count]`, ending with `/`.
        var start: Int
        var count: Int
        /// The prefix's last eight bytes (every prefix is longer): most entries are told apart
        /// by this one comparison.
        var tail: UInt64
        /// The routes of this pattern, in the router's order.
        var routes: [Int]
        /// The excluded last segments: `(start, count)` in `trailingBytes`.
        var excluded: [(start: Int, count: Int)]
    }

    /// Up to the first eight bytes of `bytes[start..<end]` as one little-endian word, zeros after
    /// a shorter segment (literal segments hold no zero byte, so with the length it is exact for
    /// up to eight bytes).
    @inline(__always)
    private static func prefixKey(_ bytes: Span<UInt8>, _ start: Int, _ end: Int) -> UInt64 {
        if end - start >= 8 { return littleEndianWord(bytes, at: start) }
        var key: UInt64 = 0
        var index = end
        while index > start {
            index -= 1
            key = key << 8 | UInt64(bytes[index])
        }
        return key
    }

    init(_ groups: [[Route]]) {
        routes = groups.joined().enumerated().map { index, route in route.numbered(index) }
        // Built as a tree of arrays, then laid out flat.
        var literals: [[(bytes: [UInt8], child: Int)]] = [[]]
        var parameters = [-1]
        var ending: [[Int]] = [[]]
        for route in routes {
            precondition(route.segments.count <= Self.maxSegments, "\(route.path) has too many segments")
            var node = 0
            for segment in route.segments {
                switch segment {
                case .literal(let bytes):
                    if let existing = literals[node].first(where: { $0.bytes == bytes }) {
                        node = existing.child
                        continue
                    }
                    literals[node].append((bytes, literals.count))
                case .parameter:
                    if parameters[node] >= 0 {
                        node = parameters[node]
                        continue
                    }
                    parameters[node] = literals.count
                }
                node = literals.count
                literals.append([])
                parameters.append(-1)
                ending.append([])
            }
            ending[node].append(route.index)
        }
        var nodes: [Node] = []
        var edges: [Edge] = []
        var literalBytes: [UInt8] = []
        var endings: [Int] = []
        for node in literals.indices {
            nodes.append(
                Node(
                    firstEdge: edges.count, edgeCount: literals[node].count, parameter: parameters[node],
                    firstEnding: endings.count, endingCount: ending[node].count))
            for literal in literals[node] {
                edges.append(
                    Edge(
                        start: literalBytes.count, count: literal.bytes.count, child: literal.child,
                        key: Self.prefixKey(literal.bytes.span, 0, literal.bytes.count)))
                literalBytes.append(contentsOf: literal.bytes)
            }
            endings.append(contentsOf: ending[node])
        }
        self.nodes = nodes
        self.edges = edges
        self.literalBytes = literalBytes
        self.endings = endings
        (trailing, trailingBytes) = Self.trailingParameters(routes)
    }

    /// The ``TrailingParameter`` entries of `routes` and their bytes.
    private static func trailingParameters(_ routes: [Route]) -> ([TrailingParameter], [UInt8]) {
        var entries: [TrailingParameter] = []
        var bytes: [UInt8] = []
        var prefixes: [[UInt8]] = []
        for route in routes {
            guard case .parameter = route.segments.last else { continue }
            var literals: [[UInt8]] = []
            for segment in route.segments.dropLast() {
                guard case .literal(let literal) = segment else { break }
                literals.append(literal)
            }
            guard literals.count == route.segments.count - 1, !literals.isEmpty else { continue }
            let prefix = literals.reduce(into: [UInt8]()) { $0 += [UInt8(ascii: "/")] + $1 } + [UInt8(ascii: "/")]
            guard prefix.count >= 8 else { continue }
            if let existing = prefixes.firstIndex(of: prefix) {
                entries[existing].routes.append(route.index)
                continue
            }
            var excluded: [[UInt8]] = []
            for other in routes where other.segments.count == route.segments.count {
                guard case .literal(let last) = other.segments.last else { continue }
                let fits = zip(other.segments.dropLast(), literals).allSatisfy { segment, literal in
                    if case .literal(let bytes) = segment { return bytes == literal }
                    return true
                }
                if fits && !excluded.contains(last) { excluded.append(last) }
            }
            let start = bytes.count
            bytes += prefix
            var ranges: [(start: Int, count: Int)] = []
            for literal in excluded {
                ranges.append((bytes.count, literal.count))
                bytes += literal
            }
            prefixes.append(prefix)
            entries.append(
                TrailingParameter(
                    start: start, count: prefix.count, tail: littleEndianWord(prefix.span, at: prefix.count - 8),
                    routes: [route.index], excluded: ranges))
        }
        return (entries, bytes)
    }

    /// The walk's answer for a path that is a ``TrailingParameter``'s prefix and one plain last
    /// segment, with one of its routes' methods; nil for every other path.
    @inline(__always)
    private func trailingMatch(_ bytes: Span<UInt8>, _ path: RequestText, _ method: HTTPMethod) -> Resolution? {
        let pool = trailingBytes.span
        for entry in trailing {
            let count = entry.count
            guard bytes.count > count, littleEndianWord(bytes, at: count - 8) == entry.tail,
                bytesEqual(bytes, 0, pool, entry.start, count - 8)
            else { continue }
            // One plain last segment (the walk's own segment scan): not a deeper path, no `%`
            // (it would be decoded first).
            guard let (start, end, escaped) = Self.segment(after: count, in: bytes), end == bytes.count, !escaped
            else { return nil }
            for excluded in entry.excluded where excluded.count == end - start {
                if bytesEqual(bytes, start, pool, excluded.start, end - start) { return nil }
            }
            for route in entry.routes where routes[route].method == method {
                var segments = ParameterSegments()
                segments.append(start: start, end: end, escaped: false)
                let chosen = routes[route]
                return Resolution(
                    route: chosen,
                    parameters: PathParameters(names: chosen.parameterNames, path: path, segments: segments))
            }
            return nil
        }
        return nil
    }

    /// The path's next non-empty segment from byte `offset` on (slashes skipped): its bounds
    /// and whether it holds a `%` (it must be decoded before comparing); nil at the path's end.
    /// Segments are found as the walk goes, not collected first: bounds kept in an inline array
    /// were copied whole at every read of one of them (128 bytes per read, several per level).
    @inline(__always)
    private static func segment(after offset: Int, in path: Span<UInt8>) -> (start: Int, end: Int, escaped: Bool)? {
        var index = offset
        while index < path.count && path[index] == UInt8(ascii: "/") { index += 1 }
        guard index < path.count else { return nil }
        let start = index
        var escaped = false
        // Eight bytes at a time while none is `/` or `%` (the byte loop below finds which).
        while path.count - index >= 8 {
            let word = littleEndianWord(path, at: index)
            guard zeroByteMarks(word ^ 0x2F2F_2F2F_2F2F_2F2F) | zeroByteMarks(word ^ 0x2525_2525_2525_2525) == 0
            else { break }
            index += 8
        }
        while index < path.count && path[index] != UInt8(ascii: "/") {
            escaped = escaped || path[index] == UInt8(ascii: "%")
            index += 1
        }
        return (start, index, escaped)
    }

    /// What a walk of the tree found: of the patterns matching the path, the most literal
    /// segments any has, and the first route (in the router's order) with that many and the
    /// request's method.
    private struct Match {
        var specificity = -1
        var chosen = -1
        /// Another route matches as specifically (with another method, or after `chosen`).
        var others = false
        /// When collecting (for a 405's `Allow`): the routes matching with `specificity` literals.
        var collected: [Int]? = nil
        /// The parameter segments of the path on the way to `chosen`.
        var parameters = ParameterSegments()
    }

    /// The route a request would reach, with its parameters, or the 404/405/400.
    ///
    /// Literal segments are compared with the raw path (they are plain ASCII, so a segment with
    /// `%` is decoded first); only the parameters of the matching route are decoded. Of the
    /// routes whose pattern matches the path, only the most specific (the most literal segments)
    /// count, so `/api/v1/project/lookup` is never the `{uuid}` of `/api/v1/project/{uuid}`,
    /// whatever the method.
    func resolve(_ request: HTTPRequest) -> Result<Resolution, Problem> {
        let method = request.method == .head ? HTTPMethod.get : request.method
        let path = request.pathBytes
        return path.withSpan { bytes in resolve(bytes, path, method) }
    }

    private func resolve(_ bytes: Span<UInt8>, _ path: RequestText, _ method: HTTPMethod) -> Result<Resolution, Problem>
    {
        if let resolution = trailingMatch(bytes, path, method) { return .success(resolution) }
        var match = Match()
        walk(0, from: 0, literals: 0, ParameterSegments(), bytes, path, method, &match)
        guard match.chosen >= 0 else {
            guard match.others else { return .failure(Problem.notFound("No resource at \(path.string)")) }
            var all = Match(specificity: match.specificity, collected: [])
            walk(0, from: 0, literals: 0, ParameterSegments(), bytes, path, method, &all)
            var allowed = (all.collected ?? []).sorted().map { routes[$0].method }
            if allowed.contains(.get) { allowed.append(.head) }
            return .failure(Problem.methodNotAllowed(allowed))
        }
        let route = routes[match.chosen]
        var parameters = PathParameters(names: route.parameterNames, path: path, segments: match.parameters)
        for index in 0..<match.parameters.count {
            // A plain segment is valid as it is (the parser admitted only ASCII); an escaped one
            // is decoded now, so that an invalid escape is the request's 400 whoever asks.
            let (start, end, escaped) = match.parameters.segment(index)
            guard escaped else { continue }
            guard let text = PercentDecoding.decode(Self.text(path, start, end)) else {
                return .failure(Problem.validation("The path is not valid percent-encoded UTF-8"))
            }
            parameters.setDecoded(index, text)
        }
        return .success(Resolution(route: route, parameters: parameters))
    }

    /// Follows every branch of the tree from `node` that the path's segments from byte `offset`
    /// on match, `literals` literal segments matched so far, into `match`. The tree is at most
    /// ``maxSegments`` deep, so a path with more segments matches nothing and costs no more.
    private func walk(
        _ node: Int, from offset: Int, literals: Int, _ parameters: ParameterSegments, _ bytes: Span<UInt8>,
        _ path: RequestText, _ method: HTTPMethod, _ match: inout Match
    ) {
        let here = nodes[node]
        guard let (start, end, escaped) = Self.segment(after: offset, in: bytes) else {
            for ending in here.firstEnding..<here.firstEnding + here.endingCount {
                record(endings[ending], literals: literals, parameters, method, &match)
            }
            return
        }
        let pool = literalBytes.span
        let length = end - start
        let key = escaped ? 0 : Self.prefixKey(bytes, start, end)
        for index in here.firstEdge..<here.firstEdge + here.edgeCount {
            let edge = edges[index]
            // A plain segment: its length and first eight bytes decide, the rest is compared only
            // for a literal longer than eight bytes. An escaped one is decoded and compared whole.
            if !escaped && (edge.count != length || edge.key != key) { continue }
            if escaped || length > 8 {
                let literal = pool.extracting(edge.start..<edge.start + edge.count)
                guard Self.segment(bytes, start, end, escaped: escaped, path, equals: literal) else { continue }
            }
            walk(edge.child, from: end, literals: literals + 1, parameters, bytes, path, method, &match)
        }
        if here.parameter >= 0 && parameters.count < PathParameters.capacity {
            var deeper = parameters
            deeper.append(start: start, end: end, escaped: escaped)
            walk(here.parameter, from: end, literals: literals, deeper, bytes, path, method, &match)
        }
    }

    /// Counts route `route`, whose pattern matches with `literals` literal segments, into `match`.
    private func record(
        _ route: Int, literals: Int, _ parameters: ParameterSegments, _ method: HTTPMethod, _ match: inout Match
    ) {
        if match.collected != nil {
            if literals == match.specificity { match.collected?.append(route) }
            return
        }
        if literals > match.specificity {
            match.specificity = literals
            match.chosen = -1
            match.others = false
        } else if literals < match.specificity {
            return
        }
        if routes[route].method == method && (match.chosen < 0 || route < match.chosen) {
            if match.chosen >= 0 { match.others = true }
            match.chosen = route
            match.parameters = parameters
        } else {
            match.others = true
        }
    }

    /// The path's segment at `start..<end` is the literal `expected`: the same bytes, or, when
    /// the segment is percent-encoded (`escaped`), the same text once decoded.
    private static func segment(
        _ bytes: Span<UInt8>, _ start: Int, _ end: Int, escaped: Bool, _ path: RequestText, equals expected: Span<UInt8>
    ) -> Bool {
        if !escaped {
            return end - start == expected.count && bytesEqual(bytes, start, expected, 0, expected.count)
        }
        guard let decoded = PercentDecoding.decode(text(path, start, end)), decoded.utf8.count == expected.count
        else { return false }
        var offset = 0
        for byte in decoded.utf8 {
            if byte != expected[offset] { return false }
            offset += 1
        }
        return true
    }

    /// The segment at byte offsets `start..<end` of `path` (ASCII: the parser admitted no other).
    static func text(_ path: RequestText, _ start: Int, _ end: Int) -> Substring { Substring(path.text(start..<end)) }
}
