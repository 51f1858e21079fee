internal import HTTP1
internal import Interchange
internal import JSON
internal import Storage
internal import WorkflowModel

/// Claims and heartbeats: workers take ready steps under leases (DESIGN.md, orchestration).
extension WorkflowService {
    static let orchestrationRoutes: [Route] = [
        Route(.post, "/api/v1/workflow/claim", .write) { service, context, respond throws(Problem) in
            try service.claim(context, respond)
        },
        Route(.post, "/api/v1/workflow/token/{uuid}/step/{step}/heartbeat", .write) {
            service, context, respond throws(Problem) in
            try service.heartbeat(context, respond)
        },
    ]

    /// `{steps, worker, leaseSeconds, max?, waitSeconds?}` → `{"claims": [...]}`; with
    /// `waitSeconds` an empty claim waits (as an entry of ``Waiters``) for work.
    func claim(_ context: RequestContext, _ respond: @escaping Respond) throws(Problem) {
        let body = try ClaimRequest.decode(context.request.body)
        let wait = min(body.waitSeconds, maxWaitSeconds)
        let seen = try reading { () throws(StoreError) in try store.changeCounter() }
        let lease = body.leaseSeconds * 1000
        let operation = WriteOperation.attributed(
            .claim(steps: body.steps, worker: body.worker, leaseMilliseconds: lease, max: body.max),
            to: .key(context.keyName))
        let waiters = self.waiters
        writer.submit([operation]) { [self] result in
            if wait > 0, case .success(let results) = result, case .success(.claimed(let claims)) = results.first,
                claims.isEmpty
            {
                let kind = Waiters.Kind.claim(operation)
                if waiters.add(kind, seconds: wait, seen: seen, requestID: context.incomingRequestID, respond: respond)
                {
                    return
                }
            }
            switch result {
            case .success(let results): respond(claimResponse(results, requestID: context.incomingRequestID))
            case .failure(let error): respond(answer(Problem.storage(error), context))
            }
        }
    }

    /// The claim answer (`requestID`: the client's, also after the claim waited).
    func claimResponse(_ results: [Result<WriteOutcome, WorkflowError>], requestID: String?) -> HTTPResponse {
        let problem: Problem
        switch results[0] {
        case .success(.claimed(let claims)): return Self.json(.ok, WorkflowShapes.claims(claims))
        case .failure(let refusal): problem = Problem.refused(refusal)
        case .success(let outcome): problem = Problem.internalError("a claim answered \(outcome)")
        }
        return answer(problem, requestID: requestID, at: "POST /api/v1/workflow/claim")
    }

    /// `{worker, leaseSeconds}` → `{token, step, attempt, leaseExpiresAt}`.
    func heartbeat(_ context: RequestContext, _ respond: @escaping Respond) throws(Problem) {
        let token = try ownToken(context)
        let step = try stepParameter(context)
        let body = try HeartbeatRequest.decode(context.request.body, isAdmin: context.isAdmin)
        let actor = try actor(worker: body.worker, context)
        let command = StepCommand.heartbeat(leaseMilliseconds: body.leaseSeconds * 1000)
        let operation = try byWorker(
            .update(token: token, step: step, command: command, actor: actor), body.worker, context)
        write([operation], context, respond) {
            [self] results in
            switch results[0] {
            case .failure(let refusal): return answer(Problem.refused(refusal), context)
            case .success(let outcome):
                guard let claim = outcome.workflow?.step(step)?.claim else {
                    return answer(Problem.internalError("a heartbeat left \(step) without a claim"), context)
                }
                return Self.json(
                    .ok,
                    JSONWriter.object { json in
                        json.member("token", token.description)
                        json.member("step", step.rawValue)
                        json.member("attempt", Int64(claim.attempt))
                        json.member("leaseExpiresAt", claim.leaseExpiresAt.milliseconds)
                    })
            }
        }
    }
}
