internal import JSON
public import WorkflowModel

/// The response bodies Dependency-Track clients parse, byte-for-byte in shape (DESIGN.md §2).
public enum DependencyTrackShapes {
    /// `GET /api/v1/event/token/{uuid}` and `/api/v1/bom/token/{uuid}` as Dependency-Track 5
    /// answers them (PR #7127): `{"processing":true,"status":"RUNNING"}`; an unknown token is
    /// `{"processing":false}` without `status`.
    public static func processing(_ status: TokenStatus?) -> [UInt8] {
        JSONWriter.object { json in
            json.member("processing", status == .pending || status == .running)
            if let status { json.member("status", status.rawValue) }
        }
    }

    /// `PUT`/`POST /api/v1/bom`: `{"token":"…","projectUuid":"…"}`.
    public static func uploaded(token: Token, project: Token) -> [UInt8] {
        JSONWriter.object { json in
            json.member("token", token.description)
            json.member("projectUuid", project.description)
        }
    }

    /// A project in Dependency-Track's shape for the fields bomflow keeps (null fields omitted,
    /// as DT's `@JsonInclude(NON_NULL)`); `parent` is `{"uuid","name","version"}` when known.
    public static func project(_ project: Project, parent: Project?) -> [UInt8] {
        var json = JSONWriter()
        write(project, parent: parent, into: &json)
        return json.bytes
    }

    /// A list of projects (`GET /api/v1/project`); `parents` by UUID.
    public static func projects(_ projects: [Project], parents: [Token: Project]) -> [UInt8] {
        var json = JSONWriter()
        json.beginArray()
        for project in projects { write(project, parent: project.parent.flatMap { parents[$0] }, into: &json) }
        json.endArray()
        return json.bytes
    }

    private static func write(_ project: Project, parent: Project?, into json: inout JSONWriter) {
        json.beginObject()
        json.member("name", project.name)
        if let version = project.version { json.member("version", version) }
        json.member("uuid", project.uuid.description)
        if let uuid = project.parent {
            json.key("parent")
            json.beginObject()
            json.member("uuid", uuid.description)
            if let parent {
                json.member("name", parent.name)
                if let version = parent.version { json.member("version", version) }
            }
            json.endObject()
        }
        json.key("tags")
        json.beginArray()
        for tag in project.tags {
            json.beginObject()
            json.member("name", tag)
            json.endObject()
        }
        json.endArray()
        json.member("isLatest", project.isLatest)
        json.member("active", project.active)
        if let last = project.lastBomImport { json.member("lastBomImport", last.milliseconds) }
        if let format = project.lastBomImportFormat { json.member("lastBomImportFormat", format) }
        json.member("created", project.createdAt.milliseconds)
        json.endObject()
    }

    /// `GET /api/v1/workflow/token/{uuid}/status`: an array of
    /// `{"token","step","status","startedAt"?,"updatedAt","failureReason"?}` in tree order,
    /// timestamps as epoch milliseconds, null fields omitted.
    public static func workflowStatus(_ workflow: Workflow) -> [UInt8] {
        var json = JSONWriter()
        json.beginArray()
        for step in workflow.stepsInTreeOrder {
            json.beginObject()
            json.member("token", workflow.token.description)
            json.member("step", step.name.rawValue)
            json.member("status", step.status.rawValue)
            if let startedAt = step.startedAt { json.member("startedAt", startedAt.milliseconds) }
            json.member("updatedAt", step.updatedAt.milliseconds)
            if let reason = step.failureReason { json.member("failureReason", reason) }
            json.endObject()
        }
        json.endArray()
        return json.bytes
    }

    /// The 400 body for a malformed `{uuid}`: Dependency-Track's bean-validation violation list,
    /// `[{"message","messageTemplate","path","invalidValue"}]`; `method` is DT's Java method name.
    public static func invalidUUID(_ value: String, method: String) -> [UInt8] {
        var json = JSONWriter()
        json.beginArray()
        json.beginObject()
        json.member("message", "Invalid UUID")
        json.member("messageTemplate", "Invalid UUID")
        json.member("path", "\(method).uuid")
        json.member("invalidValue", value)
        json.endObject()
        json.endArray()
        return json.bytes
    }

    /// The 404 body of the status endpoint (text/plain), as Dependency-Track words it.
    public static func unknownToken(_ token: String) -> String { "Provided token \(token) does not exist." }
}
