internal import JSON
public import WorkflowModel

/// The response bodies Dependency-Track clients parse, byte-for-byte in shape (DESIGN.md §2).
public enum DependencyTrackShapes {
    /// `GET /api/v1/event/token/{uuid}` and `/api/v1/bom/token/{uuid}`: `{"processing":true}`.
    /// Never more fields: a DT client accepts only this shape.
    public static func processing(_ isProcessing: Bool) -> [UInt8] {
        Array((isProcessing ? #"{"processing":true}"# : #"{"processing":false}"#).utf8)
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
