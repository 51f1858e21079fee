internal import HTTP1
internal import Interchange
internal import Storage
internal import WorkflowModel

/// The endpoints Dependency-Track clients call, answered in DT's own shapes (DESIGN.md §2).
extension WorkflowService {
    static let dependencyTrackRoutes: [Route] = [
        Route(.get, "/api/v1/event/token/{uuid}", .read) { service, context throws(Problem) in
            try service.poll(context, method: "isTokenBeingProcessed")
        },
        Route(.get, "/api/v1/bom/token/{uuid}", .read) { service, context throws(Problem) in
            try service.poll(context, method: "isTokenBeingProcessed")
        },
        Route(.get, "/api/v1/workflow/token/{uuid}/status", .read) { service, context throws(Problem) in
            try service.status(context)
        },
    ]

    /// The poll answers, built and their header fields serialized once (the poll is the hottest
    /// path): unknown, then one per status.
    static let unknownToken = json(.ok, DependencyTrackShapes.processing(nil)).prepared()
    static let pending = json(.ok, DependencyTrackShapes.processing(.pending)).prepared()
    static let running = json(.ok, DependencyTrackShapes.processing(.running)).prepared()
    static let completed = json(.ok, DependencyTrackShapes.processing(.completed)).prepared()
    static let failed = json(.ok, DependencyTrackShapes.processing(.failed)).prepared()

    /// A `{uuid}` for DT's endpoints: a malformed one gets DT's own 400 body.
    func dependencyTrackToken(_ context: RequestContext, method: String) throws(Problem) -> Token {
        guard let token = context.token else {
            throw Problem.dependencyTrackInvalidUUID(context.rawToken, method: method)
        }
        return token
    }

    /// `{"processing": true|false, "status": …}` as Dependency-Track 5 answers; an unknown token
    /// is `{"processing": false}` without `status`.
    func poll(_ context: RequestContext, method: String) throws(Problem) -> HTTPResponse {
        let token = try dependencyTrackToken(context, method: method)
        switch try reading({ () throws(StoreError) in try store.tokenStatus(token) }) {
        case nil: return Self.unknownToken
        case .pending?: return Self.pending
        case .running?: return Self.running
        case .completed?: return Self.completed
        case .failed?: return Self.failed
        }
    }

    /// The steps of a workflow in DT's `WorkflowState` shape, or DT's text/plain 404.
    func status(_ context: RequestContext) throws(Problem) -> HTTPResponse {
        let token = try dependencyTrackToken(context, method: "getWorkflowStates")
        guard let workflow = try reading({ () throws(StoreError) in try store.workflow(token) }) else {
            return HTTPResponse.text(.notFound, DependencyTrackShapes.unknownToken(token.description))
        }
        return Self.json(.ok, DependencyTrackShapes.workflowStatus(workflow))
    }
}
