internal import HTTP1
internal import Interchange
internal import Storage
internal import WorkflowModel

/// bomflow's own workflow endpoints: create, get (and watch), list, add steps, restart, cancel, delete,
/// and the event history (and its tail).
extension WorkflowService {
    static let workflowRoutes: [Route] = [
        Route(.get, "/api/v1/workflow/token/{uuid}", .read) { service, context, respond throws(Problem) in
            try service.workflow(context, respond)
        },
        Route(.get, "/api/v1/workflow/token/{uuid}/events", .read) { service, context, respond throws(Problem) in
            try service.history(context, respond)
        },
        Route(.delete, "/api/v1/workflow/token/{uuid}", .admin) { service, context, respond throws(Problem) in
            let token = try service.ownToken(context)
            service.write([.delete(token: token)], context, respond) { service.single($0, context) }
        },
        Route(.post, "/api/v1/workflow", .write) { service, context, respond throws(Problem) in
            let body = try CreateWorkflowRequest.decode(context.request.body)
            let operation = WriteOperation.create(
                token: body.token ?? service.newToken(), definition: body.definition, labels: body.labels,
                createdBy: context.keyName, concurrencyKey: body.concurrencyKey)
            service.write([operation], context, respond) { service.single($0, context, created: .created) }
        },
        Route(.get, "/api/v1/workflow", .read) { service, context, respond throws(Problem) in
            respond(try service.list(context))
        },
        Route(.post, "/api/v1/workflow/token/{uuid}/steps", .write) { service, context, respond throws(Problem) in
            let token = try service.ownToken(context)
            let body = try AddStepsRequest.decode(context.request.body)
            service.write([.addSteps(token: token, steps: body.steps)], context, respond) {
                service.single($0, context)
            }
        },
        Route(.post, "/api/v1/workflow/token/{uuid}/restart", .write) { service, context, respond throws(Problem) in
            let token = try service.ownToken(context)
            let body = try RestartRequest.decode(context.request.body)
            service.write([.restart(token: token, step: body.step)], context, respond) { service.single($0, context) }
        },
        // ADMIN: a cancel also takes steps from the workers holding their claims.
        Route(.post, "/api/v1/workflow/token/{uuid}/cancel", .admin) { service, context, respond throws(Problem) in
            let token = try service.ownToken(context)
            let body = try CancelRequest.decode(context.request.body)
            service.write([.cancel(token: token, reason: body.reason)], context, respond) {
                service.single($0, context)
            }
        },
    ]

    /// The whole workflow; with `?wait=S&since=V` a watch: answered as soon as the workflow's
    /// version exceeds `V` (at once when it already does), else after `S` seconds (at most 60)
    /// with the workflow as it is.
    func workflow(_ context: RequestContext, _ respond: @escaping Respond) throws(Problem) {
        let token = try ownToken(context)
        var wait = 0.0
        var since: UInt64?
        let limit = APILimits.waitSeconds
        for (name, value) in try Self.queryItems(context.request.query) {
            switch name {
            case "wait":
                guard let seconds = Double(value), seconds.isFinite, limit.contains(seconds) else {
                    throw Problem.validation("wait is 0 to \(Int(limit.upperBound)) seconds")
                }
                wait = seconds
            case "since":
                guard let version = UInt64(value) else { throw Problem.validation("since is a workflow version") }
                since = version
            default: throw Problem.validation("Unknown query parameter '\(name)'")
            }
        }
        let seen = try reading { () throws(StoreError) in try store.changeCounter() }
        guard let current = try reading({ () throws(StoreError) in try store.workflow(token) }) else {
            throw Problem.notFound(WorkflowError.unknownWorkflow(token).description)
        }
        wait = min(wait, maxWaitSeconds)
        guard let since, wait > 0, current.version <= since else {
            return respond(Self.json(.ok, WorkflowShapes.json(current)))
        }
        guard
            waiters.add(
                .watch(token: token, since: since), seconds: wait, seen: seen, requestID: context.incomingRequestID,
                respond: respond)
        else {
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

    /// The workflow's event history after `?after=SEQ` (default 0: from the start), at most
    /// `limit` (1 to 500, default 100) events; with `wait=S` a tail: answered as soon as there
    /// are events after `SEQ` (at once when there are), else after `S` seconds (at most 60) with
    /// none.
    func history(_ context: RequestContext, _ respond: @escaping Respond) throws(Problem) {
        let token = try ownToken(context)
        var wait = 0.0
        var after: UInt64 = 0
        var limit = 100
        for (name, value) in try Self.queryItems(context.request.query) {
            switch name {
            case "wait":
                let range = APILimits.waitSeconds
                guard let seconds = Double(value), seconds.isFinite, range.contains(seconds) else {
                    throw Problem.validation("wait is 0 to \(Int(range.upperBound)) seconds")
                }
                wait = seconds
            case "after":
                guard let sequence = UInt64(value) else {
                    throw Problem.validation("after is an event's sequence number")
                }
                after = sequence
            case "limit":
                guard let number = Int(value), (1...HistoryEvent.limit).contains(number) else {
                    throw Problem.validation("limit is 1 to \(HistoryEvent.limit)")
                }
                limit = number
            default: throw Problem.validation("Unknown query parameter '\(name)'")
            }
        }
        let seen = try reading { () throws(StoreError) in try store.changeCounter() }
        guard let page = try reading({ () throws(StoreError) in try store.history(token, after: after, limit: limit) })
        else {
            throw Problem.notFound(WorkflowError.unknownWorkflow(token).description)
        }
        wait = min(wait, maxWaitSeconds)
        guard wait > 0, page.events.isEmpty else { return respond(historyResponse(token, page)) }
        guard
            waiters.add(
                .history(token: token, after: after, limit: limit), seconds: wait, seen: seen,
                requestID: context.incomingRequestID, respond: respond)
        else {
            throw Problem.unavailable("Too many waiting requests in this process; retry without wait")
        }
    }

    /// A history page, or 404 when the workflow is gone (nil).
    func historyResponse(_ token: Token, _ page: HistoryPage?) -> HTTPResponse {
        guard let page else { return Problem.notFound(WorkflowError.unknownWorkflow(token).description).response }
        return Self.json(.ok, HistoryShapes.json(token, page))
    }

    /// A page of workflows: `?label=key:value&state=processing|done&limit=N&cursor=C`.
    func list(_ context: RequestContext) throws(Problem) -> HTTPResponse {
        var query = WorkflowQuery()
        let limits = APILimits.listLimit
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
                guard let limit = Int(value), limits.contains(limit) else {
                    throw Problem.validation("limit is \(limits.lowerBound) to \(limits.upperBound)")
                }
                query.limit = limit
            case "cursor":
                guard let cursor = UInt64(value) else { throw Problem.validation("cursor is a value from nextCursor") }
                query.cursor = cursor
            default:
                throw Problem.validation("Unknown query parameter '\(name)'")
            }
        }
        let page = try reading { () throws(StoreError) in try store.list(query) }
        return Self.json(.ok, WorkflowShapes.json(page))
    }
}
