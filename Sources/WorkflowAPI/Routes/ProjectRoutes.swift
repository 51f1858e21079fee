internal import HTTP1
internal import Interchange
internal import JSON
internal import Storage
internal import WorkflowModel

/// The small project registry in Dependency-Track's shapes: look up, get, list, create, delete.
extension WorkflowService {
    static let projectRoutes: [Route] = [
        Route(.get, "/api/v1/project/lookup", .read) { service, context, respond throws(Problem) in
            var name: String?
            var version: String?
            for (key, value) in try WorkflowService.queryItems(context.request.query) {
                switch key {
                case "name": name = value
                case "version": version = value
                default: throw Problem.dependencyTrack(.badRequest, "Unknown query parameter '\(key.prefix(64))'")
                }
            }
            guard let name = name?.nonEmpty else { throw Problem.dependencyTrack(.badRequest, "name is required") }
            respond(try service.projectAnswer(.name(name, version: version?.nonEmpty)))
        },
        Route(.get, "/api/v1/project/{uuid}", .read) { service, context, respond throws(Problem) in
            let uuid = try service.dependencyTrackToken(context, method: "getProject")
            respond(try service.projectAnswer(.uuid(uuid)))
        },
        Route(.get, "/api/v1/project", .read) { service, context, respond throws(Problem) in
            respond(try service.projectList(context))
        },
        Route(.put, "/api/v1/project", .write) { service, context, respond throws(Problem) in
            let draft: ProjectDraft
            do throws(Problem) { draft = try ProjectRequest.decode(context.request.body) } catch {
                throw error.inDependencyTrackWords
            }
            service.write([.createProject(draft)], context, respond) { [service] results in
                switch results[0] {
                case .success(.projectCreated(let project, let parent)):
                    return WorkflowService.json(.created, DependencyTrackShapes.project(project, parent: parent))
                case .success: return service.answer(Problem.internalError("create project: another outcome"), context)
                case .failure(let refusal):
                    return service.answer(Problem.refused(refusal).inDependencyTrackWords, context)
                }
            }
        },
        Route(.delete, "/api/v1/project/{uuid}", .admin) { service, context, respond throws(Problem) in
            let uuid = try service.dependencyTrackToken(context, method: "deleteProject")
            service.write([.deleteProject(uuid)], context, respond) { [service] results in
                switch results[0] {
                case .success: return HTTPResponse(status: .noContent)
                case .failure(let refusal):
                    return service.answer(Problem.refused(refusal).inDependencyTrackWords, context)
                }
            }
        },
    ]

    /// The project, with its parent's name and version, or DT's 404.
    func projectAnswer(_ reference: ProjectReference) throws(Problem) -> HTTPResponse {
        guard let project = try reading({ () throws(StoreError) in try store.project(reference) }) else {
            throw Problem.dependencyTrack(.notFound, WorkflowError.unknownProject("").description)
        }
        let parent = try project.parent.flatMap { uuid throws(Problem) in
            try reading({ () throws(StoreError) in try store.project(.uuid(uuid)) })
        }
        return Self.json(.ok, DependencyTrackShapes.project(project, parent: parent))
    }

    /// `GET /api/v1/project?name=&pageNumber=&pageSize=` (also `page`/`limit`, `offset`): a
    /// JSON array in name order, the count of all matches in `X-Total-Count`, as DT pages.
    func projectList(_ context: RequestContext) throws(Problem) -> HTTPResponse {
        var name: String?
        var page = 1
        var size = 100
        var offset: Int?
        for (key, value) in try WorkflowService.queryItems(context.request.query) {
            func number(_ range: ClosedRange<Int>) throws(Problem) -> Int {
                guard let number = Int(value), range.contains(number) else {
                    throw Problem.dependencyTrack(
                        .badRequest, "\(key) must be a number from \(range.lowerBound) to \(range.upperBound)")
                }
                return number
            }
            switch key {
            case "name": name = value
            case "pageNumber", "page": page = try number(1...1_000_000)
            case "pageSize", "limit": size = try number(1...APILimits.listLimit.upperBound)
            case "offset": offset = try number(0...Int(Int32.max))
            default: throw Problem.dependencyTrack(.badRequest, "Unknown query parameter '\(key.prefix(64))'")
            }
        }
        let start = offset ?? (page - 1) * size
        let found = try reading { () throws(StoreError) in
            try store.projects(named: name?.nonEmpty, offset: start, limit: size)
        }
        var parents: [Token: Project] = [:]
        for parent in Set(found.projects.compactMap(\.parent)) {
            parents[parent] = try reading({ () throws(StoreError) in try store.project(.uuid(parent)) })
        }
        var response = Self.json(.ok, DependencyTrackShapes.projects(found.projects, parents: parents))
        response.headers.add("X-Total-Count", String(found.total))
        return response
    }
}

/// `PUT /api/v1/project`: Dependency-Track's project object. bomflow keeps `name`, `version`,
/// `parent` (`{"uuid"}`), `tags` (`[{"name"}]`), `active`, `isLatest`; DT's descriptive fields
/// `classifier`, `description`, `group`, `author`, `publisher`, `purl`, `cpe`, `swidTagId` are
/// accepted and not kept; anything else is refused.
struct ProjectRequest {
    static func decode(_ body: [UInt8]) throws(Problem) -> ProjectDraft {
        let draft = try decodeBody(body) { body in
            try body.allowOnly([
                "name", "version", "parent", "tags", "active", "isLatest", "classifier", "description", "group",
                "author", "publisher", "purl", "cpe", "swidTagId",
            ])
            guard let name = try body.string("name")?.nonEmpty else {
                throw JSONError.invalid("name", "name is required")
            }
            var draft = ProjectDraft(name: name, version: try body.string("version")?.nonEmpty)
            if body.has("parent") {
                let parent = try JSONObjectReader(body.value("parent") ?? .null, context: "parent")
                try parent.allowOnly(["uuid", "name", "version"])
                guard let text = try parent.string("uuid"), let uuid = Token(text) else {
                    throw JSONError.invalid("parent.uuid", "parent.uuid must be a UUID")
                }
                draft.parent = .uuid(uuid)
            }
            for (index, tag) in (try body.array("tags") ?? []).enumerated() {
                let item = try JSONObjectReader(tag, context: "tags[\(index)]")
                try item.allowOnly(["name"])
                guard let tagName = try item.string("name") else {
                    throw JSONError.invalid("tags[\(index)].name", "a tag needs a name")
                }
                draft.tags.append(tagName)
            }
            draft.active = try body.bool("active") ?? true
            draft.isLatest = try body.bool("isLatest") ?? false
            // Accepted, not kept; still checked to be text so that a wrong type is not silent.
            for field in ["classifier", "description", "group", "author", "publisher", "purl", "cpe", "swidTagId"] {
                _ = try body.string(field)
            }
            return draft
        }
        return draft
    }
}
