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
        }.fromMemory(),
        Route(.get, "/api/openapi.json", nil) { _, _, respond in
            respond(WorkflowService.json(.ok, OpenAPIDocument.bytes))
        }.fromMemory(),
        Route(.get, "/health", nil) { service, _, respond in respond(service.health(readiness: true)) }.fromMemory(),
        Route(.get, "/health/live", nil) { service, _, respond in respond(service.health(readiness: false)) }
            .fromMemory(),
        Route(.get, "/health/ready", nil) { service, _, respond in respond(service.health(readiness: true)) }
            .fromMemory(),
        Route(.get, "/metrics", nil) { service, _, respond in
            let text = service.metrics.render(
                store: service.store, writer: service.writer, waiting: service.waiters.count)
            respond(
                HTTPResponse(
                    status: .ok, headers: HTTPHeaders([("Content-Type", "text/plain; version=0.0.4; charset=utf-8")]),
                    body: Array(text.utf8)))
        },
    ]

    /// The store's condition, with this process's writer: stalled when its writes have waited
    /// longer than the write timeout for a lock another process holds.
    func condition() -> StorageCondition {
        var condition = store.condition()
        if writer.isStalled, let waited = writer.currentLockWait {
            condition.stalledWriter = StalledWriter(
                pid: store.writeLockHolder()?.pid,
                waitedMilliseconds: Int64(waited.components.seconds) * 1000 + waited.components.attoseconds
                    / 1_000_000_000_000_000)
        }
        return condition
    }

    /// MicroProfile-style health: `{"status": "UP"|"DOWN", "checks": [{"name", "status", "data"?}]}`.
    /// Liveness fails only when the store failed fatally (the process must restart); readiness
    /// also fails while writes are refused for lack of space or wait on a stalled writer, with
    /// the reason (and the PID holding the lock, when known) in the check's `data`.
    func health(readiness: Bool) -> HTTPResponse {
        let condition = self.condition()
        var checks: [(name: String, up: Bool, data: [(String, JSONValue)])] = [
            ("storage", condition.fatal == nil, condition.fatal.map { [("reason", .string($0))] } ?? [])
        ]
        if readiness {
            checks.append(
                (
                    "storage-space", condition.full == nil,
                    condition.full.map { [("reason", .string($0.reason)), ("since", .integer($0.since))] } ?? []
                ))
            var writer: [(String, JSONValue)] = []
            if let stalled = condition.stalledWriter {
                writer.append(("waitedMilliseconds", .integer(stalled.waitedMilliseconds)))
                if let pid = stalled.pid { writer.append(("lockHolderPid", .integer(Int64(pid)))) }
            }
            checks.append(("writer", condition.stalledWriter == nil, writer))
            if store.callsMayBlock {
                checks.append(
                    (
                        "database", condition.unreachable == nil,
                        condition.unreachable.map { [("reason", .string($0))] } ?? []
                    ))
            }
        }
        let up = checks.allSatisfy(\.up)
        var json = JSONWriter()
        json.beginObject()
        json.member("status", up ? "UP" : "DOWN")
        json.key("checks")
        json.beginArray()
        for check in checks {
            json.beginObject()
            json.member("name", check.name)
            json.member("status", check.up ? "UP" : "DOWN")
            if !check.data.isEmpty {
                json.key("data")
                json.beginObject()
                for (key, value) in check.data { json.member(key, value) }
                json.endObject()
            }
            json.endObject()
        }
        json.endArray()
        json.endObject()
        var response = Self.json(up ? .ok : .serviceUnavailable, json.bytes)
        response.headers.add(Self.storeHeader, storeTag)
        return response
    }
}
