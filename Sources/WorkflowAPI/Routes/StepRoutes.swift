internal import HTTP1
internal import JSON
internal import Storage
internal import WorkflowModel

/// Step writes: one step's status or start, progress counters, a claim given up or taken back, and
/// batches of updates.
extension WorkflowService {
    static let stepRoutes: [Route] = [
        Route(.patch, "/api/v1/workflow/token/{uuid}/step/{step}", .write) {
            service, context, respond throws(Problem) in
            try service.updateStep(context, respond) { body throws(Problem) in
                let request = try StepUpdateRequest.decode(body)
                return (request.command, request.worker)
            }
        },
        Route(.post, "/api/v1/workflow/token/{uuid}/step/{step}/progress", .write) {
            service, context, respond throws(Problem) in
            try service.updateStep(context, respond) { body throws(Problem) in
                let request = try ProgressRequest.decode(body)
                return (.progress(request.update), request.worker)
            }
        },
        // The holder gives the step up, or an ADMIN key takes it back from a stuck worker.
        Route(.post, "/api/v1/workflow/token/{uuid}/step/{step}/release", .write) {
            service, context, respond throws(Problem) in
            try service.updateStep(context, respond) { body throws(Problem) in
                (.release, try ReleaseRequest.decode(body).worker)
            }
        },
        Route(.post, "/api/v1/workflow/steps", .write) { service, context, respond throws(Problem) in
            let body = try BatchRequest.decode(context.request.body)
            service.write(body.operations, context, respond) { WorkflowService.json(.ok, batchResults($0)) }
        },
    ]

    /// One step's change as one write: `{uuid}` and `{step}` from the path (checked first), the
    /// command and the claimed `worker` from the body by `decode`, answered with the workflow.
    func updateStep(
        _ context: RequestContext, _ respond: @escaping Respond,
        _ decode: ([UInt8]) throws(Problem) -> (command: StepCommand, worker: String?)
    ) throws(Problem) {
        let token = try ownToken(context)
        let step = try stepParameter(context)
        let (command, worker) = try decode(context.request.body)
        let actor = try actor(worker: worker, context)
        let operation = try byWorker(.update(token: token, step: step, command: command, actor: actor), worker, context)
        write([operation], context, respond) { [self] in
            single($0, context)
        }
    }

    /// `{"results": [{status: 200, version} | {status, type, detail}]}`, one per update.
    static func batchResults(_ results: [Result<WriteOutcome, WorkflowError>]) -> [UInt8] {
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
        return json.bytes
    }
}
