internal import Foundation
public import HTTP1
internal import WorkflowModel
public import WorkflowStore

/// The REST API of DESIGN.md §2 on a store and a write queue. It sees requests and answers
/// through a closure; it never touches a socket, so its tests call ``handle(_:respond:)`` directly.
///
/// Reads run on the calling (event-loop) thread in one short read transaction. Writes are
/// queued to the ``WriteQueue`` and answered after their group commit.
public final class WorkflowService: Sendable {
    /// Answers one request, now or later, from any thread.
    public typealias Respond = @Sendable (HTTPResponse) -> Void

    let store: WorkflowStore
    let writer: WriteQueue
    let version: String
    let authenticator: Authenticator?
    /// Request, write and maintenance counters served at `/metrics`.
    public let metrics = Metrics()
    /// Watches and claims waiting for a change.
    let waiters = Waiters()
    /// Long-poll waits (`wait`, `waitSeconds`) are shortened to this many seconds (an operator's
    /// cap, e.g. below a proxy's read timeout). Default 60, the most a request may ask for.
    let maxWaitSeconds: Double

    /// Creates the service. Without an `authenticator` every request is allowed (the
    /// `--insecure-no-auth` mode for test harnesses).
    public init(
        store: WorkflowStore, writer: WriteQueue, version: String, authenticator: Authenticator?,
        maxWaitSeconds: Double = 60
    ) {
        self.maxWaitSeconds = max(0, min(60, maxWaitSeconds))
        self.store = store
        self.writer = writer
        self.version = version
        self.authenticator = authenticator
        waiters.attach(self)
    }

    /// Answers every waiting watch and claim at once (the server is shutting down); later ones
    /// are refused with 503.
    public func shutdown() { waiters.drain() }

    // The waiters' thread holds the waiters, not the service: let it end with the service.
    deinit { waiters.drain() }

    // MARK: Routing

    /// A route: method, path pattern (`{uuid}`, `{step}` are parameters) and handler.
    struct Route: Sendable {
        /// One segment of a pattern, compiled once so that matching compares bytes.
        enum Segment: Sendable {
            case literal([UInt8])
            case parameter(String)
        }

        let method: HTTPMethod
        let pattern: [String]
        let segments: [Segment]
        let handler: @Sendable (WorkflowService, RouteContext, @escaping Respond) throws(Problem) -> Void
        /// The route's position in ``routes`` (the metrics label).
        var index = 0

        init(
            method: HTTPMethod, pattern: [String],
            handler: @escaping @Sendable (WorkflowService, RouteContext, @escaping Respond) throws(Problem) -> Void
        ) {
            self.method = method
            self.pattern = pattern
            self.segments = pattern.map { segment in
                segment.hasPrefix("{")
                    ? .parameter(String(segment.dropFirst().dropLast())) : .literal(Array(segment.utf8))
            }
            self.handler = handler
        }
    }

    /// The parameters a matched route extracted.
    struct RouteContext: Sendable {
        let request: HTTPRequest
        let parameters: [String: String]
        let rawToken: String?
        /// The name of the API key that made the request (nil without authentication).
        let keyName: String?
        /// The key has the ADMIN permission (it may change steps other workers hold).
        var isAdmin = false
    }

    /// The permission a route needs: none for `/api/version` and `/health*`, READ for the other
    /// GETs, ADMIN for DELETE, WRITE for the rest.
    static func permission(for route: Route) -> Permission? {
        if route.pattern.first == "health" || route.pattern == ["metrics"] || route.pattern == ["api", "version"]
            || route.pattern == ["api", "openapi.json"]
        {
            return nil
        }
        switch route.method {
        case .get, .head: return .read
        case .delete: return .admin
        default: return .write
        }
    }

    /// The route a request would reach, with its parameters, or the methods its path allows.
    ///
    /// Literal segments are compared with the raw path (they are plain ASCII, so a segment with
    /// `%` is decoded first); only the parameters of the matching route are decoded.
    func resolve(_ request: HTTPRequest) -> Result<(Route, [String: String]), Problem> {
        let method = request.method == .head ? HTTPMethod.get : request.method
        let raw = request.path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        var allowed: [HTTPMethod] = []
        for route in Self.routes where route.segments.count == raw.count {
            var literalsMatch = true
            for (segment, actual) in zip(route.segments, raw) {
                guard case .literal(let expected) = segment else { continue }
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
            guard literalsMatch else { continue }
            guard route.method == method else {
                allowed.append(route.method)
                continue
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
        if !allowed.isEmpty {
            if allowed.contains(.get) { allowed.append(.head) }
            return .failure(Problem.methodNotAllowed(allowed))
        }
        return .failure(Problem.notFound("No resource at \(request.path)"))
    }

    /// Checks the request's API key for `route`. - Returns: the key's name, or the 401/403.
    func authorize(_ request: HTTPRequest, for route: Route) -> Result<(name: String, isAdmin: Bool)?, Problem> {
        guard let authenticator, let needed = Self.permission(for: route) else { return .success(nil) }
        switch authenticator.authenticate(request.headers, from: request.remoteAddress) {
        case .failure(let problem): return .failure(problem)
        case .success(let key):
            return Authenticator.allows(key.permissions, needed)
                ? .success((key.name, Permission(rawValue: key.permissions).contains(.admin)))
                : .failure(Authenticator.forbidden(needed))
        }
    }

    /// Refuses a request from its head, before its body is read: unknown routes and missing or
    /// insufficient keys, so that an anonymous client cannot make the server buffer a body.
    public func respondBeforeBody(to head: HTTPRequest) -> HTTPResponse? {
        switch resolve(head) {
        case .failure(let problem): return problem.response
        case .success(let (route, _)):
            if case .failure(let problem) = authorize(head, for: route) { return problem.response }
            return nil
        }
    }

    /// Every route, in the order they are matched; the OpenAPI test compares this set with the
    /// document's paths.
    static let routes: [Route] = routeTable.enumerated().map { index, route in
        var numbered = route
        numbered.index = index
        return numbered
    }

    private static let routeTable: [Route] = [
        Route(method: .get, pattern: ["api", "version"]) { service, _, respond in respond(service.versionResponse()) },
        Route(method: .get, pattern: ["api", "openapi.json"]) { _, _, respond in
            respond(WorkflowService.json(.ok, Array(OpenAPIDocument.json.utf8)))
        },
        Route(method: .get, pattern: ["api", "v1", "event", "token", "{uuid}"]) {
            service, context, respond throws(Problem) in
            respond(try service.processing(context, method: "isTokenBeingProcessed"))
        },
        Route(method: .get, pattern: ["api", "v1", "bom", "token", "{uuid}"]) {
            service, context, respond throws(Problem) in
            respond(try service.processing(context, method: "isTokenBeingProcessed"))
        },
        Route(method: .get, pattern: ["api", "v1", "workflow", "token", "{uuid}", "status"]) {
            service, context, respond throws(Problem) in
            respond(try service.status(context))
        },
        Route(method: .get, pattern: ["api", "v1", "workflow", "token", "{uuid}"]) {
            service, context, respond throws(Problem) in
            try service.workflow(context, respond)
        },
        Route(method: .delete, pattern: ["api", "v1", "workflow", "token", "{uuid}"]) {
            service, context, respond throws(Problem) in
            try service.delete(context, respond)
        },
        Route(method: .post, pattern: ["api", "v1", "workflow"]) { service, context, respond throws(Problem) in
            try service.create(context, respond)
        },
        Route(method: .get, pattern: ["api", "v1", "workflow"]) { service, context, respond throws(Problem) in
            respond(try service.list(context))
        },
        Route(method: .post, pattern: ["api", "v1", "workflow", "steps"]) { service, context, respond throws(Problem) in
            try service.batch(context, respond)
        },
        Route(method: .post, pattern: ["api", "v1", "workflow", "claim"]) { service, context, respond throws(Problem) in
            try service.claim(context, respond)
        },
        Route(method: .post, pattern: ["api", "v1", "workflow", "token", "{uuid}", "step", "{step}", "heartbeat"]) {
            service, context, respond throws(Problem) in
            try service.heartbeat(context, respond)
        },
        Route(method: .post, pattern: ["api", "v1", "workflow", "token", "{uuid}", "steps"]) {
            service, context, respond throws(Problem) in
            try service.addSteps(context, respond)
        },
        Route(method: .patch, pattern: ["api", "v1", "workflow", "token", "{uuid}", "step", "{step}"]) {
            service, context, respond throws(Problem) in
            try service.updateStep(context, respond)
        },
        Route(method: .post, pattern: ["api", "v1", "workflow", "token", "{uuid}", "step", "{step}", "progress"]) {
            service, context, respond throws(Problem) in try service.progress(context, respond)
        },
        Route(method: .post, pattern: ["api", "v1", "workflow", "token", "{uuid}", "restart"]) {
            service, context, respond throws(Problem) in
            try service.restart(context, respond)
        },
        Route(method: .get, pattern: ["metrics"]) { service, _, respond in
            let text = service.metrics.render(
                store: service.store, writer: service.writer, waiting: service.waiters.count)
            respond(
                HTTPResponse(
                    status: .ok, headers: HTTPHeaders([("Content-Type", "text/plain; version=0.0.4; charset=utf-8")]),
                    body: Array(text.utf8)))
        },
        Route(method: .get, pattern: ["health"]) { service, _, respond in respond(service.health()) },
        Route(method: .get, pattern: ["health", "live"]) { service, _, respond in respond(service.health()) },
        Route(method: .get, pattern: ["health", "ready"]) { service, _, respond in respond(service.health()) },
    ]

    /// Method and path pattern of every route, e.g. `GET /api/v1/workflow/token/{uuid}`.
    public static var routeSignatures: [String] {
        routes.map { "\($0.method.rawValue) /" + $0.pattern.joined(separator: "/") }
    }

    /// Handles one request; `respond` is called exactly once, possibly later from the writer thread.
    public func handle(_ request: HTTPRequest, respond answer: @escaping Respond) {
        let started = ContinuousClock.now
        let resolved = resolve(request)
        var routeIndex = -1
        if case .success(let (route, _)) = resolved { routeIndex = route.index }
        let metrics = self.metrics
        let index = routeIndex
        let respond: Respond = { response in
            let elapsed = ContinuousClock.now - started
            metrics.recordRequest(
                route: index, status: response.status.code,
                seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            answer(response)
        }
        switch resolved {
        case .failure(let problem):
            respond(problem.response)
        case .success(let (route, parameters)):
            switch authorize(request, for: route) {
            case .failure(let problem):
                respond(problem.response)
            case .success(let key):
                let context = RouteContext(
                    request: request, parameters: parameters, rawToken: parameters["uuid"], keyName: key?.name,
                    isAdmin: key?.isAdmin ?? false)
                do {
                    try route.handler(self, context, respond)
                } catch {
                    respond(error.response)
                }
            }
        }
    }

    // MARK: Responses

    static func json(_ status: HTTPStatus, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", "application/json")]), body: body)
    }

    /// The two poll answers, built once (the poll is the hottest path).
    static let processingTrue = json(.ok, DependencyTrackShapes.processing(true))
    static let processingFalse = json(.ok, DependencyTrackShapes.processing(false))

    func versionResponse() -> HTTPResponse {
        var json = JSONWriter()
        json.beginObject()
        json.member("application", "bomflow")
        json.member("version", version)
        json.endObject()
        return Self.json(.ok, json.bytes)
    }

    func health() -> HTTPResponse {
        let ready = !store.isFatallyFailed
        var json = JSONWriter()
        json.beginObject()
        json.member("status", ready ? "UP" : "DOWN")
        json.key("checks")
        json.beginArray()
        json.beginObject()
        json.member("name", "storage")
        json.member("status", ready ? "UP" : "DOWN")
        json.endObject()
        json.endArray()
        json.endObject()
        return Self.json(ready ? .ok : .serviceUnavailable, json.bytes)
    }

    /// Dependency-Track's 400 body for a malformed `{uuid}` (a bean-validation violation list).
    static func invalidUUID(_ value: String, method: String) -> HTTPResponse {
        var json = JSONWriter()
        json.beginArray()
        json.beginObject()
        json.member("message", "Invalid UUID")
        json.member("messageTemplate", "Invalid UUID")
        json.member("path", "\(method).uuid")
        json.member("invalidValue", value)
        json.endObject()
        json.endArray()
        return Self.json(.badRequest, json.bytes)
    }

    func token(_ context: RouteContext, method: String) -> Result<Token, DependencyTrackRejection> {
        let raw = context.rawToken ?? ""
        guard let token = Token(raw) else {
            return .failure(DependencyTrackRejection(response: Self.invalidUUID(raw, method: method)))
        }
        return .success(token)
    }

    /// A token for bomflow's own endpoints (problem+json on error).
    func ownToken(_ context: RouteContext) throws(Problem) -> Token {
        guard let token = Token(context.rawToken ?? "") else {
            throw Problem.validation("'\(context.rawToken ?? "")' is not a UUID")
        }
        return token
    }

    // MARK: Reads

    func processing(_ context: RouteContext, method: String) throws(Problem) -> HTTPResponse {
        switch token(context, method: method) {
        case .failure(let rejection): return rejection.response
        case .success(let token):
            do { return try store.isProcessing(token) ? Self.processingTrue : Self.processingFalse } catch {
                throw Problem.storage(error)
            }
        }
    }

    func status(_ context: RouteContext) throws(Problem) -> HTTPResponse {
        switch token(context, method: "getWorkflowStates") {
        case .failure(let rejection): return rejection.response
        case .success(let token):
            let workflow: Workflow?
            do { workflow = try store.workflow(token) } catch { throw Problem.storage(error) }
            guard let workflow else {
                return HTTPResponse.text(.notFound, DependencyTrackShapes.unknownToken(token.description))
            }
            return Self.json(.ok, DependencyTrackShapes.workflowStatus(workflow))
        }
    }

    /// The whole workflow; with `?wait=S&since=V` a watch: answered as soon as the workflow's
    /// version exceeds `V` (at once when it already does), else after `S` seconds (at most 60)
    /// with the workflow as it is.
    func workflow(_ context: RouteContext, _ respond: @escaping Respond) throws(Problem) {
        let token = try ownToken(context)
        var wait = 0.0
        var since: UInt64?
        for (name, value) in try Self.queryItems(context.request.query) {
            switch name {
            case "wait":
                guard let seconds = Double(value), seconds.isFinite, (0...60).contains(seconds) else {
                    throw Problem.validation("wait is 0 to 60 seconds")
                }
                wait = seconds
            case "since":
                guard let version = UInt64(value) else { throw Problem.validation("since is a workflow version") }
                since = version
            default: throw Problem.validation("Unknown query parameter '\(name)'")
            }
        }
        let seen: Int
        let current: Workflow?
        do {
            seen = try store.changeCounter()
            current = try store.workflow(token)
        } catch { throw Problem.storage(error) }
        guard let current else { throw Problem.notFound(WorkflowError.unknownWorkflow(token).description) }
        wait = min(wait, maxWaitSeconds)
        guard let since, wait > 0, current.version <= since else {
            return respond(Self.json(.ok, WorkflowShapes.json(current)))
        }
        guard waiters.add(.watch(token: token, since: since), seconds: wait, seen: seen, respond: respond) else {
            throw Problem.unavailable("Too many waiting requests in this process; retry without wait")
        }
    }

    /// The whole workflow now, or 404 (a watched workflow may have been deleted).
    func workflowResponse(_ token: Token) -> HTTPResponse {
        do {
            guard let workflow = try store.workflow(token) else {
                return Problem.notFound(WorkflowError.unknownWorkflow(token).description).response
            }
            return Self.json(.ok, WorkflowShapes.json(workflow))
        } catch {
            return Problem.storage(error).response
        }
    }

    /// `name=value` pairs of a query, percent-decoded.
    static func queryItems(_ query: String?) throws(Problem) -> [(String, String)] {
        var items: [(String, String)] = []
        for item in (query ?? "").split(separator: "&") {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, let name = PercentDecoding.decode(pair[0], plusIsSpace: true),
                let value = PercentDecoding.decode(pair[1], plusIsSpace: true)
            else { throw Problem.validation("Malformed query parameter '\(item)'") }
            items.append((name, value))
        }
        return items
    }

    func list(_ context: RouteContext) throws(Problem) -> HTTPResponse {
        var query = WorkflowQuery()
        for (name, value) in try Self.queryItems(context.request.query) {
            switch name {
            case "label":
                guard let colon = value.firstIndex(of: ":") else { throw Problem.validation("label takes key:value") }
                query.label = Labels.Label(
                    key: String(value[..<colon]), value: String(value[value.index(after: colon)...]))
            case "state":
                guard let state = WorkflowQuery.State(rawValue: value) else {
                    throw Problem.validation("state is processing or done")
                }
                query.state = state
            case "limit":
                guard let limit = Int(value), (1...1000).contains(limit) else {
                    throw Problem.validation("limit is 1 to 1000")
                }
                query.limit = limit
            case "cursor":
                guard let cursor = UInt64(value) else { throw Problem.validation("cursor is a value from nextCursor") }
                query.cursor = cursor
            default:
                throw Problem.validation("Unknown query parameter '\(name)'")
            }
        }
        let page: WorkflowPage
        do { page = try store.list(query) } catch { throw Problem.storage(error) }
        return Self.json(.ok, WorkflowShapes.json(page))
    }

    // MARK: Writes

    /// Queues `operations` and answers with `render` of their results after the commit.
    func write(
        _ operations: [WriteOperation], _ respond: @escaping Respond,
        render: @escaping @Sendable ([Result<WriteOutcome, WorkflowError>]) -> HTTPResponse
    ) {
        writer.submit(operations) { result in
            switch result {
            case .success(let results): respond(render(results))
            case .failure(let error): respond(Problem.storage(error).response)
            }
        }
    }

    /// Renders the single outcome of a one-operation write.
    static func single(_ results: [Result<WriteOutcome, WorkflowError>], created: HTTPStatus = .ok) -> HTTPResponse {
        switch results[0] {
        case .failure(let refusal): return Problem.refused(refusal).response
        case .success(.created(let workflow)): return json(created, WorkflowShapes.json(workflow))
        case .success(.alreadyExists(let workflow)), .success(.updated(let workflow, _)):
            return json(.ok, WorkflowShapes.json(workflow))
        case .success(.deleted): return HTTPResponse(status: .noContent)
        case .success(.claimed(let claims)): return json(.ok, claimsJSON(claims))
        }
    }

    func create(_ context: RouteContext, _ respond: @escaping Respond) throws(Problem) {
        let body = try JSONObjectReader(JSONValue.parse(context.request.body))
        try body.allowOnly(["token", "template", "steps", "labels"])
        let token: Token
        if let text = try body.string("token") {
            guard let parsed = Token(text) else { throw Problem.validation("token '\(text)' is not a UUID") }
            token = parsed
        } else {
            token = Token.random()
        }
        var definition = WorkflowDefinition()
        if let name = try body.string("template") {
            guard let template = Template(rawValue: name) else {
                throw Problem.validation(
                    "Unknown template '\(name)'; one of \(Template.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            definition.template = template
        }
        definition.steps = try Self.stepSpecs(body.array("steps") ?? [])
        let labels: Labels
        let labelMap = try body.stringMap("labels") ?? [:]
        do { labels = try Labels(labelMap) } catch { throw Problem.refused(error) }
        write([.create(token: token, definition: definition, labels: labels, createdBy: context.keyName)], respond) {
            results in
            Self.single(results, created: .created)
        }
    }

    static func stepSpecs(_ values: [JSONValue]) throws(Problem) -> [StepSpec] {
        var specs: [StepSpec] = []
        for (index, value) in values.enumerated() {
            let item = try JSONObjectReader(value, context: "steps[\(index)]")
            try item.allowOnly(["step", "parent", "status"])
            guard let raw = try item.string("step") else {
                throw Problem.validation("steps[\(index)].step is required")
            }
            let name = try stepName(raw)
            let parent = try item.string("parent").map { (text) throws(Problem) in try stepName(text) }
            var status = StepStatus.pending
            if let text = try item.string("status") {
                guard let parsed = StepStatus(rawValue: text) else {
                    throw Problem.validation("Unknown status '\(text)'")
                }
                status = parsed
            }
            specs.append(StepSpec(name, parent: parent, status: status))
        }
        return specs
    }

    static func stepName(_ text: String) throws(Problem) -> StepName {
        guard let name = StepName(text) else {
            throw Problem.validation(WorkflowError.invalidStepName(text).description)
        }
        return name
    }

    func addSteps(_ context: RouteContext, _ respond: @escaping Respond) throws(Problem) {
        let token = try ownToken(context)
        let body = try JSONObjectReader(JSONValue.parse(context.request.body))
        try body.allowOnly(["steps"])
        let specs = try Self.stepSpecs(body.array("steps") ?? [])
        write([.addSteps(token: token, steps: specs)], respond) { Self.single($0) }
    }

    /// `{status, failureReason?}` or `{started: true}`.
    static func command(_ body: JSONObjectReader, context: String) throws(Problem) -> StepCommand {
        if let started = try body.bool("started") {
            guard started, !body.has("status"), !body.has("failureReason") else {
                throw Problem.validation(
                    "\(context): send either {\"started\": true} or {\"status\", \"failureReason\"}")
            }
            return .start
        }
        guard let text = try body.string("status") else { throw Problem.validation("\(context): status is required") }
        guard let status = StepStatus(rawValue: text) else { throw Problem.validation("Unknown status '\(text)'") }
        return .setStatus(status, failureReason: try body.string("failureReason"))
    }

    func updateStep(_ context: RouteContext, _ respond: @escaping Respond) throws(Problem) {
        let token = try ownToken(context)
        let step = try Self.stepName(context.parameters["step"] ?? "")
        let body = try JSONObjectReader(JSONValue.parse(context.request.body))
        try body.allowOnly(["status", "failureReason", "started", "worker"])
        let command = try Self.command(body, context: "body")
        let actor = try actor(body, context)
        write([.update(token: token, step: step, command: command, actor: actor)], respond) { Self.single($0) }
    }

    func progress(_ context: RouteContext, _ respond: @escaping Respond) throws(Problem) {
        let token = try ownToken(context)
        let step = try Self.stepName(context.parameters["step"] ?? "")
        let body = try JSONObjectReader(JSONValue.parse(context.request.body))
        try body.allowOnly(["expected", "failureThreshold", "completed", "failed", "worker"])
        let update = ProgressUpdate(
            expected: try body.integer("expected"), failureThreshold: try body.number("failureThreshold"),
            addCompleted: try body.integer("completed") ?? 0, addFailed: try body.integer("failed") ?? 0)
        let actor = try actor(body, context)
        write([.update(token: token, step: step, command: .progress(update), actor: actor)], respond) {
            Self.single($0)
        }
    }

    /// Who asks: an ADMIN key may change any step; otherwise the `worker` the body names (a
    /// claimed step accepts only its holder), or anyone.
    func actor(_ body: JSONObjectReader, _ context: RouteContext) throws(Problem) -> Actor {
        if context.isAdmin { return .admin }
        guard let worker = try body.string("worker") else { return .anyone }
        do { try Workflow.validateWorker(worker) } catch { throw Problem.refused(error) }
        return .worker(worker)
    }

    // MARK: Orchestration

    /// `{steps, worker, leaseSeconds, max?, waitSeconds?}` → `{"claims": [...]}`.
    func claim(_ context: RouteContext, _ respond: @escaping Respond) throws(Problem) {
        let body = try JSONObjectReader(JSONValue.parse(context.request.body))
        try body.allowOnly(["steps", "worker", "leaseSeconds", "max", "waitSeconds"])
        guard let values = try body.array("steps"), (1...32).contains(values.count) else {
            throw Problem.validation("steps must name 1 to 32 step kinds")
        }
        var parsed: [StepName] = []
        for value in values {
            guard case .string(let text) = value else { throw Problem.validation("steps must be step names") }
            parsed.append(try Self.stepName(text))
        }
        let names = parsed
        guard let worker = try body.string("worker") else { throw Problem.validation("worker is required") }
        guard let leaseSeconds = try body.integer("leaseSeconds"), (1...3600).contains(leaseSeconds) else {
            throw Problem.validation("leaseSeconds is required, 1 to 3600")
        }
        let max = try body.integer("max") ?? 1
        guard (1...100).contains(max) else { throw Problem.validation("max is 1 to 100") }
        let asked = try body.number("waitSeconds") ?? 0
        guard asked.isFinite, (0...60).contains(asked) else { throw Problem.validation("waitSeconds is 0 to 60") }
        let wait = min(asked, maxWaitSeconds)
        do { try Workflow.validateWorker(worker) } catch { throw Problem.refused(error) }
        let seen: Int
        do { seen = try store.changeCounter() } catch { throw Problem.storage(error) }
        let operation = WriteOperation.claim(
            steps: names, worker: worker, leaseMilliseconds: leaseSeconds * 1000, max: Int(max))
        let waiters = self.waiters
        writer.submit([operation]) { result in
            if wait > 0, case .success(let results) = result, case .success(.claimed(let claims)) = results.first,
                claims.isEmpty
            {
                let kind = Waiters.Kind.claim(
                    names: names, worker: worker, leaseMilliseconds: leaseSeconds * 1000, max: Int(max))
                if waiters.add(kind, seconds: wait, seen: seen, respond: respond) { return }
            }
            switch result {
            case .success(let results): respond(Self.claimResponse(results))
            case .failure(let error): respond(Problem.storage(error).response)
            }
        }
    }

    static func claimResponse(_ results: [Result<WriteOutcome, WorkflowError>]) -> HTTPResponse {
        switch results[0] {
        case .failure(let refusal): return Problem.refused(refusal).response
        case .success(.claimed(let claims)): return json(.ok, claimsJSON(claims))
        case .success: return Problem.internalError().response
        }
    }

    static func claimsJSON(_ claims: [ClaimedStep]) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("claims")
        json.beginArray()
        for claimed in claims {
            json.beginObject()
            json.member("token", claimed.token.description)
            json.member("step", claimed.step.rawValue)
            json.key("labels")
            json.beginObject()
            for label in claimed.labels { json.member(label.key, label.value) }
            json.endObject()
            json.member("attempt", Int64(claimed.claim.attempt))
            json.member("leaseExpiresAt", claimed.claim.leaseExpiresAt.milliseconds)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// `{worker, leaseSeconds}` → `{token, step, attempt, leaseExpiresAt}`.
    func heartbeat(_ context: RouteContext, _ respond: @escaping Respond) throws(Problem) {
        let token = try ownToken(context)
        let step = try Self.stepName(context.parameters["step"] ?? "")
        let body = try JSONObjectReader(JSONValue.parse(context.request.body))
        try body.allowOnly(["worker", "leaseSeconds"])
        guard let leaseSeconds = try body.integer("leaseSeconds"), (1...3600).contains(leaseSeconds) else {
            throw Problem.validation("leaseSeconds is required, 1 to 3600")
        }
        guard body.has("worker") || context.isAdmin else { throw Problem.validation("worker is required") }
        let actor = try actor(body, context)
        write(
            [
                .update(
                    token: token, step: step, command: .heartbeat(leaseMilliseconds: leaseSeconds * 1000), actor: actor)
            ], respond
        ) {
            results in
            switch results[0] {
            case .failure(let refusal): return Problem.refused(refusal).response
            case .success(let outcome):
                guard let claim = outcome.workflow?.step(step)?.claim else { return Problem.internalError().response }
                var json = JSONWriter()
                json.beginObject()
                json.member("token", token.description)
                json.member("step", step.rawValue)
                json.member("attempt", Int64(claim.attempt))
                json.member("leaseExpiresAt", claim.leaseExpiresAt.milliseconds)
                json.endObject()
                return Self.json(.ok, json.bytes)
            }
        }
    }

    func restart(_ context: RouteContext, _ respond: @escaping Respond) throws(Problem) {
        let token = try ownToken(context)
        let body = try JSONObjectReader(JSONValue.parse(context.request.body))
        try body.allowOnly(["step"])
        guard let text = try body.string("step") else {
            throw Problem.validation("step is required: the step to restart from")
        }
        write([.restart(token: token, step: try Self.stepName(text))], respond) { Self.single($0) }
    }

    func delete(_ context: RouteContext, _ respond: @escaping Respond) throws(Problem) {
        let token = try ownToken(context)
        write([.delete(token: token)], respond) { Self.single($0) }
    }

    /// `{"updates": [{token, step, status, failureReason?} | {token, step, started: true}]}`: one
    /// transaction, one result per item.
    func batch(_ context: RouteContext, _ respond: @escaping Respond) throws(Problem) {
        let body = try JSONObjectReader(JSONValue.parse(context.request.body))
        try body.allowOnly(["updates"])
        guard let items = try body.array("updates"), !items.isEmpty else {
            throw Problem.validation("updates must be a non-empty array")
        }
        guard items.count <= 1000 else { throw Problem.validation("at most 1000 updates per batch") }
        var operations: [WriteOperation] = []
        for (index, value) in items.enumerated() {
            let item = try JSONObjectReader(value, context: "updates[\(index)]")
            try item.allowOnly(["token", "step", "status", "failureReason", "started"])
            guard let text = try item.string("token"), let token = Token(text) else {
                throw Problem.validation("updates[\(index)].token must be a UUID")
            }
            guard let stepText = try item.string("step") else {
                throw Problem.validation("updates[\(index)].step is required")
            }
            operations.append(
                .update(
                    token: token, step: try Self.stepName(stepText),
                    command: try Self.command(item, context: "updates[\(index)]")))
        }
        write(operations, respond) { results in
            var json = JSONWriter()
            json.beginObject()
            json.key("results")
            json.beginArray()
            for result in results {
                json.beginObject()
                switch result {
                case .success(let outcome):
                    json.member("status", Int64(200))
                    if let workflow = outcome.workflow { json.member("version", Int64(clamping: workflow.version)) }
                case .failure(let refusal):
                    let problem = Problem.refused(refusal)
                    json.member("status", Int64(problem.status.code))
                    json.member("type", problem.type)
                    json.member("detail", problem.detail)
                }
                json.endObject()
            }
            json.endArray()
            json.endObject()
            return Self.json(.ok, json.bytes)
        }
    }
}

/// A Dependency-Track-shaped rejection (its own 400 body, not problem+json).
struct DependencyTrackRejection: Error {
    let response: HTTPResponse
}
