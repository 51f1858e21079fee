internal import HTTP1
internal import JSON
internal import Notifications
internal import Storage
internal import Synchronization
internal import WorkflowModel

/// Webhooks and their deliveries (docs/NOTIFICATIONS.md): ADMIN only, since a webhook sends
/// workflow data (and BOMs, when asked) to another server.
extension WorkflowService {
    static let notificationRoutes: [Route] = [
        Route(.get, "/api/v1/notification/webhook", .admin) { service, _, respond throws(Problem) in
            let webhooks = try service.reading { () throws(StoreError) in try service.store.webhooks() }
            var json = JSONWriter()
            json.beginArray()
            for webhook in webhooks { webhook.write(to: &json) }
            json.endArray()
            respond(WorkflowService.json(.ok, json.bytes))
        },
        Route(.post, "/api/v1/notification/webhook", .admin) { service, context, respond throws(Problem) in
            let draft = try decodeBody(context.request.body) { body in try WebhookDraft.decode(body) }
            let webhook: Webhook
            let now = service.store.options.clock()
            do throws(WebhookError) {
                webhook = try draft.webhook(id: Token.random(), createdAt: now)
            } catch { throw Problem.validation(WorkflowError.invalidWebhook(error.description).description) }
            try service.refuseSelfDelivery(webhook.url)
            service.write([.createWebhook(webhook)], context, respond) { service.webhookAnswer($0, context) }
        },
        Route(.get, "/api/v1/notification/webhook/{uuid}", .admin) { service, context, respond throws(Problem) in
            let id = try service.ownToken(context)
            let webhooks = try service.reading { () throws(StoreError) in try service.store.webhooks() }
            guard let webhook = webhooks.first(where: { $0.id == id }) else {
                throw Problem.notFound(WorkflowError.unknownWebhook(id).description)
            }
            var json = JSONWriter()
            webhook.write(to: &json)
            respond(WorkflowService.json(.ok, json.bytes))
        },
        Route(.patch, "/api/v1/notification/webhook/{uuid}", .admin) { service, context, respond throws(Problem) in
            let id = try service.ownToken(context)
            let draft = try decodeBody(context.request.body) { body in try WebhookDraft.decode(body) }
            if let url = draft.url {
                let parsed: WebhookURL
                do throws(WebhookError) { parsed = try WebhookURL.parse(url) } catch {
                    throw Problem.validation(WorkflowError.invalidWebhook(error.description).description)
                }
                try service.refuseSelfDelivery(parsed)
            }
            service.write([.updateWebhook(id, draft)], context, respond) { service.webhookAnswer($0, context) }
        },
        Route(.delete, "/api/v1/notification/webhook/{uuid}", .admin) { service, context, respond throws(Problem) in
            let id = try service.ownToken(context)
            service.write([.deleteWebhook(id)], context, respond) { service.webhookAnswer($0, context) }
        },
        Route(.post, "/api/v1/notification/webhook/{uuid}/test", .admin) { service, context, respond throws(Problem) in
            let id = try service.ownToken(context)
            service.write([.testWebhook(id)], context, respond) { service.webhookAnswer($0, context) }
        },
        Route(.get, "/api/v1/notification/delivery", .admin) { service, context, respond throws(Problem) in
            respond(try service.deliveryList(context))
        },
        Route(.post, "/api/v1/notification/delivery/{sequence}/redeliver", .admin) {
            service, context, respond throws(Problem) in
            guard let sequence = UInt64(context.parameters["sequence"] ?? ""), sequence > 0 else {
                throw Problem.validation("A delivery is named by its sequence number")
            }
            service.write([.redeliver(sequence)], context, respond) { service.webhookAnswer($0, context) }
        },
    ]

    /// A webhook may not point at this server's own port on this machine: each delivery would be
    /// an API request to bomflow itself.
    func refuseSelfDelivery(_ url: WebhookURL) throws(Problem) {
        guard url.isLoopback, ownPorts.withLock({ $0.contains(url.port) }) else { return }
        throw Problem.validation(
            WorkflowError.invalidWebhook("url: \(url) is this bomflow server itself; deliveries would loop back to it")
                .description)
    }

    /// The answer of a webhook or delivery write.
    func webhookAnswer(_ results: [Result<WriteOutcome, WorkflowError>], _ context: RequestContext) -> HTTPResponse {
        switch results[0] {
        case .success(.webhook(let webhook, let created)):
            var json = JSONWriter()
            webhook.write(to: &json)
            return Self.json(created ? .created : .ok, json.bytes)
        case .success(.webhookDeleted): return HTTPResponse(status: .noContent)
        case .success(.queued(let delivery)): return Self.json(.accepted, Self.deliveryJSON([delivery], next: nil))
        case .success: return answer(Problem.internalError("a webhook write answered with another outcome"), context)
        case .failure(let refusal): return answer(Problem.refused(refusal), context)
        }
    }

    /// `GET /api/v1/notification/delivery?state=&webhook=&id=&before=&limit=`.
    func deliveryList(_ context: RequestContext) throws(Problem) -> HTTPResponse {
        var query = DeliveryQuery()
        for (name, value) in try Self.queryItems(context.request.query) {
            switch name {
            case "state":
                guard let state = DeliveryState(name: value) else {
                    throw Problem.validation("state is PENDING, DELIVERED or DEAD")
                }
                query.state = state
            case "webhook":
                guard let id = Token(value) else { throw Problem.validation("webhook is a webhook's UUID") }
                query.webhook = id
            case "id":
                guard let id = Token(value) else { throw Problem.validation("id is a notification's UUID") }
                query.id = id
            case "before":
                guard let before = UInt64(value) else { throw Problem.validation("before is a sequence number") }
                query.before = before
            case "limit":
                guard let limit = Int(value), (1...1000).contains(limit) else {
                    throw Problem.validation("limit is 1 to 1000")
                }
                query.limit = limit
            default: throw Problem.validation("Unknown query parameter '\(name.prefix(64))'")
            }
        }
        let page = try reading { () throws(StoreError) in try store.deliveries(query) }
        return Self.json(.ok, Self.deliveryJSON(page.deliveries, next: page.nextBefore))
    }

    /// `{"deliveries": [...], "nextBefore": N?}`.
    static func deliveryJSON(_ deliveries: [Delivery], next: UInt64?) -> [UInt8] {
        var json = JSONWriter()
        Delivery.write(deliveries, next: next, to: &json)
        return json.bytes
    }
}
