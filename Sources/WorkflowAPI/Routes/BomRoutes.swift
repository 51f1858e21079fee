internal import Dispatch
public import HTTP1
internal import Interchange
internal import Storage
internal import WorkflowModel

/// Dependency-Track's BOM intake (`PUT`/`POST /api/v1/bom`) and the worker's fetch of a stored
/// BOM (`GET /api/v1/workflow/token/{uuid}/bom`).
extension WorkflowService {
    static let bomRoutes: [Route] = [
        Route(.put, "/api/v1/bom", .write) { service, context, respond throws(Problem) in
            service.decodeUpload(context, respond) { () throws(Problem) in
                try BomUploadFields.json(context.request.body, maxBomBytes: service.maxBomBytes)
            }
        },
        Route(.post, "/api/v1/bom", .write) { service, context, respond throws(Problem) in
            service.decodeUpload(context, respond) { () throws(Problem) in
                try BomUploadFields.multipart(context.request, maxBomBytes: service.maxBomBytes)
            }
        },
        Route(.get, "/api/v1/workflow/token/{uuid}/bom", .read) { service, context, respond throws(Problem) in
            let token = try service.ownToken(context)
            guard let document = try service.reading({ () throws(StoreError) in try service.store.bom(token) }) else {
                throw Problem.notFound("No BOM is stored with workflow \(token)")
            }
            respond(
                HTTPResponse(
                    status: .ok, headers: HTTPHeaders([("Content-Type", document.format.mediaType)]),
                    body: document.bytes))
        },
    ]

    /// The body limits of the upload routes: the BOM limit plus room for the other fields (and,
    /// for `PUT`, base64's third).
    public static func bomBodyLimits(maxBomBytes: Int) -> [RouteBodyLimit] {
        let room = 64 << 10
        return [
            RouteBodyLimit(method: .put, path: "/api/v1/bom", bytes: (maxBomBytes + 2) / 3 * 4 + room),
            RouteBodyLimit(method: .post, path: "/api/v1/bom", bytes: maxBomBytes + room),
        ]
    }

    /// Decodes an upload off the event loop (base64, multipart, checking the whole BOM can take
    /// tens of milliseconds per MB, and the loop serves other connections meanwhile), on one of the
    /// service's upload queues (one per core, so uploads never take more than the cores), then
    /// queues its write. Refusals are Dependency-Track's `text/plain`.
    func decodeUpload(
        _ context: RequestContext, _ respond: @escaping Respond,
        _ decode: @escaping @Sendable () throws(Problem) -> BomUploadFields
    ) {
        uploadQueues.next().async { [self] in
            do throws(Problem) {
                try upload(try decode(), context, respond)
            } catch {
                respond(answer(error.inDependencyTrackWords, context))
            }
        }
    }

    /// One upload as one write: DT's `{"token","projectUuid"}` after the commit, or its refusal.
    func upload(_ fields: BomUploadFields, _ context: RequestContext, _ respond: @escaping Respond) throws(Problem) {
        let upload = try fields.upload(token: newToken(), createdBy: context.keyName, maxBomBytes: maxBomBytes)
        write([.upload(upload)], context, respond) { [self] results in
            switch results[0] {
            case .success(.uploaded(let workflow, let project)):
                return Self.json(.ok, DependencyTrackShapes.uploaded(token: workflow.token, project: project.uuid))
            case .success: return answer(Problem.internalError("an upload answered with another outcome"), context)
            case .failure(let refusal): return answer(Problem.refused(refusal).inDependencyTrackWords, context)
            }
        }
    }

}
