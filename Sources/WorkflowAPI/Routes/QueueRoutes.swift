internal import HTTP1
internal import JSON
internal import Storage
internal import WorkflowModel

/// The ready queues (issue 14): their figures, and pausing one (ADMIN: it stops every worker of
/// that step name, on every process and host).
extension WorkflowService {
    static let queueRoutes: [Route] = [
        Route(.get, "/api/v1/queue", .read) { service, context, respond throws(Problem) in
            guard (context.request.query ?? "").isEmpty else {
                throw Problem.validation("GET /api/v1/queue takes no query parameters")
            }
            let queues = try service.reading { () throws(StoreError) in try service.store.queues() }
            let now = service.store.options.clock()
            var json = JSONWriter()
            json.beginObject()
            json.key("queues")
            json.beginArray()
            for queue in queues { WorkflowService.writeQueue(queue, now: now, to: &json) }
            json.endArray()
            json.endObject()
            respond(WorkflowService.json(.ok, json.bytes))
        },
        Route(.patch, "/api/v1/queue/{step}", .admin) { service, context, respond throws(Problem) in
            let name = try service.stepParameter(context)
            let paused = try decodeBody(context.request.body) { body in
                try body.allowOnly(["paused"])
                guard let paused = try body.bool("paused") else {
                    throw JSONError.invalid("paused", "paused (true or false) is required")
                }
                return paused
            }
            // Answered from the outcome: the answer thread renders in commit order and must not
            // wait on a read (GET /api/v1/queue has the counts).
            service.write([.pauseQueue(name, paused: paused)], context, respond) { [service] results in
                switch results[0] {
                case .success(.queuePaused(let name, let paused, let changed)):
                    return WorkflowService.json(
                        .ok,
                        JSONWriter.object { json in
                            json.member("step", name.rawValue)
                            json.member("paused", paused)
                            json.member("changed", changed)
                        })
                case .success: return service.answer(Problem.internalError("pause: another outcome"), context)
                case .failure(let refusal): return service.answer(Problem.refused(refusal), context)
                }
            }
        },
    ]

    /// `{step, ready, claimed, oldestReadyAt?, oldestReadySeconds?, paused}`.
    static func writeQueue(_ queue: QueueFigures, now: Timestamp, to json: inout JSONWriter) {
        json.beginObject()
        json.member("step", queue.step.rawValue)
        json.member("ready", Int64(queue.ready))
        json.member("claimed", Int64(queue.claimed))
        if let oldest = queue.oldestReady {
            json.member("oldestReadyAt", oldest.milliseconds)
            json.member("oldestReadySeconds", double: Double(max(0, now.milliseconds - oldest.milliseconds)) / 1000)
        }
        json.member("paused", queue.paused)
        json.endObject()
    }
}
