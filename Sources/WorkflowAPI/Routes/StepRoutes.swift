internal import HTTP1
internal import JSON
internal import Storage
internal import WorkflowModel

/// Step writes: one step's status or start, progress counters, and batches of updates.
extension WorkflowService {
    static let stepRoutes: [Route] = [
        Route(.patch, "/api/v1/workflow/token/{uuid}/step/{step}", .write) {
            service, context, respond throws(Problem) in
            let token = try service.ownToken(context)
            let step = try service.stepParameter(context)
            let body = try StepUpdateRequest.decode(context.request.body)
            let actor = try service.actor(worker: body.worker, context)
            service.write([.update(token: token, step: step, command: body.command, actor: actor)], context, respond) {
                service.single($0, context)
            }
        },
        Route(.post, "/api/v1/workflow/token/{uuid}/step/{step}/progress", .write) {
            service, context, respond throws(Problem) in
            let token = try service.ownToken(context)
            let step = try service.stepParameter(context)
            let body = try ProgressRequest.decode(context.request.body)
            let actor = try service.actor(worker: body.worker, context)
            let operation = WriteOperation.update(
                token: token, step: step, command: .progress(body.update), actor: actor)
            service.write([operation], context, respond) { service.single($0, context) }
        },
        Route(.post, "/api/v1/workflow/steps", .write) { service, context, respond throws(Problem) in
            let body = try BatchRequest.decode(context.request.body)
            service.write(body.operations, context, respond) { WorkflowService.json(.ok, batchResults($0)) }
        },
    ]

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
