internal import HTTP1
internal import JSON
internal import Storage

/// For operators and tools: version, the OpenAPI document, health and metrics (no key needed).
extension WorkflowService {
    static let operationsRoutes: [Route] = [
        Route(.get, "/api/version", nil) { service, _, respond in
            respond(
                WorkflowService.json(
                    .ok,
                    JSONWriter.object { json in
                        json.member("application", "bomflow")
                        json.member("version", service.version)
                    }))
        },
        Route(.get, "/api/openapi.json", nil) { _, _, respond in
            respond(WorkflowService.json(.ok, OpenAPIDocument.bytes))
        },
        Route(.get, "/health", nil) { service, _, respond in respond(service.health()) },
        Route(.get, "/health/live", nil) { service, _, respond in respond(service.health()) },
        Route(.get, "/health/ready", nil) { service, _, respond in respond(service.health()) },
        Route(.get, "/metrics", nil) { service, _, respond in
            let text = service.metrics.render(
                store: service.store, writer: service.writer, waiting: service.waiters.count)
            respond(
                HTTPResponse(
                    status: .ok, headers: HTTPHeaders([("Content-Type", "text/plain; version=0.0.4; charset=utf-8")]),
                    body: Array(text.utf8)))
        },
    ]

    /// MicroProfile-style health: `{"status": "UP"|"DOWN", "checks": [{"name": "storage", …}]}`.
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
}
