internal import Codecs
internal import Dispatch
internal import FoundationEssentials
public import HTTP1
internal import Interchange
internal import JSON
internal import Logging
public import Storage
internal import Synchronization
internal import WorkflowModel

/// The REST API of DESIGN.md §2 on a storage backend and a write queue. It sees requests and
/// answers through a closure; it never touches a socket, so its tests call ``handle(_:respond:)``
/// directly.
///
/// Reads run on the calling (event-loop) thread in one short read transaction. Writes are
/// queued to the ``WriteQueue`` and answered after their group commit. The routes are declared
/// in `Routes/`, one file per resource.
public final class WorkflowService: Sendable {
    /// Answers one request, now or later, from any thread.
    public typealias Respond = @Sendable (HTTPResponse) -> Void

    let store: any WorkflowStorage
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
    /// The largest BOM an upload may carry (`--max-bom-size`, default 50 MiB).
    let maxBomBytes: Int
    /// ``storeTag(of:)`` of the store: the `Bomflow-Store` header of the health answers.
    public let storeTag: String
    /// The operator page's cookies carry `Secure` (bomflow is served behind TLS).
    let secureCookies: Bool
    /// Where uploads are decoded: one serial queue per core.
    let uploadQueues = UploadQueues()
    /// Where requests run when the store's calls may block (PostgreSQL): 8 threads taking
    /// requests from one queue, so a slow database never stalls an event loop (routes that answer
    /// from memory stay on the loop).
    let requestThreads: WorkThreads?
    /// The default of ``maxBomBytes``.
    public static let defaultMaxBomBytes = 50 << 20
    let logger = Logger(label: "bomflow.api")
    /// Request ids made here: a random per-process prefix and a counter.
    private let requestIDs = RequestIDs()
    /// The ports this server listens on (``listening(on:)``): a webhook on a loopback address
    /// with one of them is refused.
    let ownPorts = Mutex<Set<Int>>([])

    /// Records the ports the server listens on, once it does.
    public func listening(on ports: [Int]) { ownPorts.withLock { $0.formUnion(ports) } }

    /// Creates the service. Without an `authenticator` every request is allowed (the
    /// `--insecure-no-auth` mode for test harnesses).
    public init(
        store: any WorkflowStorage, writer: WriteQueue, version: String = BomflowVersion.current,
        authenticator: Authenticator?, maxWaitSeconds: Double = 60, maxBomBytes: Int = defaultMaxBomBytes,
        secureCookies: Bool = false
    ) {
        self.maxBomBytes = maxBomBytes
        self.secureCookies = secureCookies
        self.maxWaitSeconds = max(0, min(APILimits.waitSeconds.upperBound, maxWaitSeconds))
        self.store = store
        self.writer = writer
        self.version = version
        self.authenticator = authenticator
        storeTag = Self.storeTag(of: store.identity)
        requestThreads = store.callsMayBlock ? WorkThreads(count: 8, name: "bomflow-request") : nil
        waiters.attach(self)
    }

    /// The header the health answers carry, so that a starting `serve` can tell whether the
    /// process already on its port serves the same store (processes of one store share a port).
    public static let storeHeader = "Bomflow-Store"

    /// The first 16 hex digits of the SHA-256 of a ``WorkflowStorage/identity``: equal for processes
    /// of one store, and it shows no path, inode or database name on the unauthenticated health
    /// endpoints.
    public static func storeTag(of identity: String) -> String {
        Hex.encode(Array(SHA256.hash(Array(identity.utf8)).prefix(8)))
    }

    /// Answers every waiting watch and claim at once (the server is shutting down); later ones
    /// are refused with 503.
    public func shutdown() { waiters.drain() }

    // The waiters' thread holds the waiters, not the service: let it end with the service, as
    // the request threads do.
    deinit {
        waiters.drain()
        requestThreads?.stop()
    }

    // MARK: Routing

    /// Every route, frozen at start, in the order they are matched.
    static let router = Router([
        dependencyTrackRoutes, bomRoutes, projectRoutes, workflowRoutes, stepRoutes, orchestrationRoutes,
        notificationRoutes, queueRoutes, operationsRoutes, uiRoutes,
    ])

    /// Every route (the OpenAPI tests compare them with the document).
    public static var routes: [Route] { router.routes }

    /// Method and path pattern of every route of the REST API (not the operator page's `/ui`),
    /// e.g. `GET /api/v1/workflow/token/{uuid}`.
    public static var routeSignatures: [String] {
        router.routes.filter { !$0.path.hasPrefix("/ui") }.map(\.signature)
    }

    /// Checks the request's API key for `route`. - Returns: the key's name, or the 401/403/429.
    func authorize(
        _ request: HTTPRequest, for route: Route, now: ContinuousClock.Instant = .now
    ) -> Result<(name: String, isAdmin: Bool)?, Problem> {
        guard let authenticator, let needed = route.permission else { return .success(nil) }
        switch authenticator.authenticate(request.headers, from: request.remoteAddress, now: now) {
        case .failure(let problem): return .failure(problem)
        case .success(let key):
            let granted = Permission(rawValue: key.permissions)
            return granted.allows(needed)
                ? .success((key.name, granted.contains(.admin)))
                : .failure(Authenticator.forbidden(needed))
        }
    }

    /// Refuses a request from its head, before its body is read: unknown routes and missing or
    /// insufficient keys, so that an anonymous client cannot make the server buffer a body.
    public func respondBeforeBody(to head: HTTPRequest) -> HTTPResponse? {
        let problem: Problem
        switch Self.router.resolve(head) {
        case .failure(let refusal): problem = refusal
        case .success(let resolution):
            let route = resolution.route
            // With a store whose calls block, only a key the cache knows is judged here; any other
            // is looked up with the whole request, on a worker thread.
            if requestThreads != nil, let authenticator, route.permission != nil {
                guard let known = authenticator.authenticateFromCache(head.headers, from: head.remoteAddress) else {
                    return nil
                }
                switch known {
                case .failure(let refusal):
                    return answer(refusal, requestID: incomingRequestID(head), at: route.signature)
                case .success(let key):
                    guard let needed = route.permission, !Permission(rawValue: key.permissions).allows(needed) else {
                        return nil
                    }
                    return answer(
                        Authenticator.forbidden(needed), requestID: incomingRequestID(head), at: route.signature)
                }
            }
            guard case .failure(let refusal) = authorize(head, for: route) else { return nil }
            problem = refusal
        }
        return answer(problem, requestID: incomingRequestID(head), at: "\(head.method.rawValue) \(head.path)")
    }

    /// Handles one request; `respond` is called exactly once, possibly later from the writer thread.
    ///
    /// A client's usable `X-Request-Id` is echoed on every response; an error response carries one
    /// (the client's, or a new one) in the header and as the problem's `instance`, and every 5xx
    /// is logged with it. Successes without an incoming id carry none (the poll stays lean).
    public func handle(_ request: HTTPRequest, respond answer: @escaping Respond) {
        if let threads = requestThreads, !answersOnLoop(request) {
            threads.post { [self] in dispatch(request, respond: answer) }
        } else {
            dispatch(request, respond: answer)
        }
    }

    /// Whether `request` is answered on the event loop although the store's calls block: it
    /// reaches no route (404, 405, 400) or one that answers from memory.
    private func answersOnLoop(_ request: HTTPRequest) -> Bool {
        switch Self.router.resolve(request) {
        case .failure: true
        case .success(let resolution): resolution.route.answersFromMemory
        }
    }

    /// ``handle(_:respond:)`` on the thread that runs it.
    private func dispatch(_ request: HTTPRequest, respond answer: @escaping Respond) {
        let started = ContinuousClock.now
        let incoming = incomingRequestID(request)
        let metrics = self.metrics
        switch Self.router.resolve(request) {
        case .failure(let problem):
            let response = self.answer(problem, requestID: incoming, at: "\(request.method.rawValue) \(request.path)")
            Self.finish(response, incoming: incoming, started: started, route: -1, metrics: metrics, answer)
        case .success(let resolution):
            let route = resolution.route
            let index = route.index
            // A function, not a closure value: its context is made only where a handler keeps it.
            @Sendable func respond(_ response: HTTPResponse) {
                Self.finish(response, incoming: incoming, started: started, route: index, metrics: metrics, answer)
            }
            switch authorize(request, for: route, now: started) {
            case .failure(let problem):
                respond(self.answer(problem, requestID: incoming, at: route.signature))
            case .success(let key):
                let context = RequestContext(
                    request: request, parameters: resolution.parameters, keyName: key?.name,
                    isAdmin: key?.isAdmin ?? false, incomingRequestID: incoming, route: route)
                switch route.action {
                case .responds(let handler):
                    do {
                        try handler(self, context, respond)
                    } catch {
                        respond(self.answer(error, context))
                    }
                case .answers(let ready):
                    // Answered here on return: no closure is made for `respond`.
                    let response: HTTPResponse
                    do {
                        response = try ready(self, context)
                    } catch {
                        response = self.answer(error, context)
                    }
                    respond(response)
                }
            }
        }
    }

    /// Sends `response` through `answer`: the client's request id echoed, the request counted.
    private static func finish(
        _ response: HTTPResponse, incoming: String?, started: ContinuousClock.Instant, route: Int, metrics: Metrics,
        _ answer: Respond
    ) {
        metrics.recordRequest(
            route: route, status: response.status.code, seconds: Metrics.seconds(ContinuousClock.now - started))
        // The response is copied only to add the echo (most requests send no id).
        if let incoming, response.headers["X-Request-Id"] == nil {
            var echoed = response
            echoed.headers.add("X-Request-Id", incoming)
            answer(echoed)
        } else {
            answer(response)
        }
    }

    /// The one mapping of a problem to its response: the request id (the client's, else a new
    /// one) in `X-Request-Id` and as the problem's `instance`. Every 5xx is logged with the id,
    /// the route and its cause, which the client never sees.
    func answer(_ problem: Problem, requestID: String?, at location: String) -> HTTPResponse {
        let id = requestID ?? requestIDs.next()
        if problem.status.code >= 500 {
            logger.error(
                "\(problem.cause ?? problem.detail)",
                metadata: ["requestId": "\(id)", "status": "\(problem.status.code)", "route": "\(location)"])
        }
        return problem.response(requestID: id)
    }

    /// ``answer(_:requestID:at:)`` for a request being handled.
    func answer(_ problem: Problem, _ context: RequestContext) -> HTTPResponse {
        answer(problem, requestID: context.incomingRequestID, at: context.route.signature)
    }

    /// The client's `X-Request-Id` when it is 1 to 128 characters from `A-Z a-z 0-9 . _ : + / = -`
    /// (safe in logs, headers and URNs); nil otherwise (a new id is made where one is needed).
    private static let requestIDField = HTTPFieldName("X-Request-Id")

    func incomingRequestID(_ request: HTTPRequest) -> String? {
        guard let incoming = request.headers[Self.requestIDField], (1...128).contains(incoming.utf8.count),
            incoming.utf8.allSatisfy(Self.isRequestIDByte)
        else { return nil }
        return incoming
    }

    static func isRequestIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"),
            UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    // MARK: Shared by the handlers

    static func json(_ status: HTTPStatus, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", "application/json")]), body: body)
    }

    /// A token the server makes for a new workflow (an upload's, a create's without one): time-ordered,
    /// so that consecutive ones share a leaf of the store's token index (``Token/timeOrdered(at:)``).
    func newToken() -> Token { Token.timeOrdered(at: store.options.clock()) }

    /// A token for bomflow's own endpoints (problem+json on error).
    func ownToken(_ context: RequestContext) throws(Problem) -> Token {
        guard let token = context.token else {
            throw Problem.validation("'\(context.rawToken)' is not a UUID")
        }
        return token
    }

    /// The `{step}` parameter.
    func stepParameter(_ context: RequestContext) throws(Problem) -> StepName {
        let text = context.parameters["step"] ?? ""
        guard let name = StepName(text) else {
            throw Problem.validation(WorkflowError.invalidStepName(text).description)
        }
        return name
    }

    /// Who asks: an ADMIN key may change any step; otherwise the `worker` the body names (a
    /// claimed step accepts only its holder), or anyone.
    func actor(worker: String?, _ context: RequestContext) throws(Problem) -> Actor {
        if context.isAdmin { return .admin }
        guard let worker else { return .anyone }
        do { try Workflow.validateWorker(worker) } catch { throw Problem.refused(error) }
        return .worker(worker)
    }

    /// `operation` attributed to the worker the body names, with the request's key: the history
    /// says which worker acted also when an ADMIN key (whose actor is `admin`) sends it.
    func byWorker(_ operation: WriteOperation, _ worker: String?, _ context: RequestContext) throws(Problem)
        -> WriteOperation
    {
        guard let worker else { return operation }
        do { try Workflow.validateWorker(worker) } catch { throw Problem.refused(error) }
        return .attributed(operation, to: .worker(worker, key: context.keyName))
    }

    /// Runs a storage read, turning its failure into the one error type.
    func reading<T>(_ body: () throws(StoreError) -> T) throws(Problem) -> T {
        do { return try body() } catch { throw Problem.storage(error) }
    }

    /// Queues `operations`, attributed to the request's key (the event history says who), and
    /// answers with `render` of their results after the commit.
    func write(
        _ operations: [WriteOperation], _ context: RequestContext, _ respond: @escaping Respond,
        render: @escaping @Sendable ([Result<WriteOutcome, WorkflowError>]) -> HTTPResponse
    ) {
        writer.submit(operations.map { .attributed($0, to: .key(context.keyName)) }) { [self] result in
            switch result {
            case .success(let results): respond(render(results))
            case .failure(let error): respond(answer(Problem.storage(error), context))
            }
        }
    }

    /// Renders the single outcome of a one-operation write.
    func single(
        _ results: [Result<WriteOutcome, WorkflowError>], _ context: RequestContext, created: HTTPStatus = .ok
    ) -> HTTPResponse {
        switch results[0] {
        case .failure(let refusal): return answer(Problem.refused(refusal), context)
        case .success(.created(let workflow)): return Self.json(created, WorkflowShapes.json(workflow))
        case .success(.alreadyExists(let workflow)), .success(.updated(let workflow, _)):
            return Self.json(.ok, WorkflowShapes.json(workflow))
        case .success(.deleted): return HTTPResponse(status: .noContent)
        case .success(.claimed(let claims)): return Self.json(.ok, WorkflowShapes.claims(claims))
        case .success(.uploaded(let workflow, _)): return Self.json(created, WorkflowShapes.json(workflow))
        case .success(.projectCreated), .success(.projectDeleted), .success(.webhook), .success(.webhookDeleted),
            .success(.queued), .success(.queuePaused):
            return answer(Problem.internalError("a workflow write answered with another outcome"), context)
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
}

/// Request ids made by this process: a random 32-bit prefix and a counter in one number, in
/// base 36 (at most 13 characters), unique within the process and unlikely to repeat across.
private final class RequestIDs: Sendable {
    private let counter: Atomic<UInt64>

    init() {
        var generator = SystemRandomNumberGenerator()
        counter = Atomic(UInt64(UInt32.random(in: 0...UInt32.max, using: &generator)) << 32)
    }

    func next() -> String { String(counter.wrappingAdd(1, ordering: .relaxed).newValue, radix: 36) }
}

/// Serial dispatch queues, one per core, taken in turn: bounded parallel work off the event loops.
final class UploadQueues: Sendable {
    private let queues: [DispatchQueue]
    private let turn = Atomic<Int>(0)

    init(count: Int = ProcessInfo.processInfo.activeProcessorCount, label: String = "bomflow-upload") {
        queues = (0..<max(1, count)).map { DispatchQueue(label: "\(label)-\($0)") }
    }

    func next() -> DispatchQueue {
        queues[turn.wrappingAdd(1, ordering: .relaxed).oldValue % queues.count]
    }
}

/// The product's version: served at `/api/version`, in the OpenAPI document and by `--version`.
public enum BomflowVersion {
    public static let current = "0.1.0"
}
