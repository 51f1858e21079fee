public import JSON
public import Storage
public import WorkflowModel

/// bomflow's own JSON shape of a whole workflow: metadata, steps in tree order with readiness,
/// and progress (DESIGN.md §2, `GET /api/v1/workflow/token/{uuid}`).
public enum WorkflowShapes {
    /// Writes `workflow` as one JSON object.
    public static func write(_ workflow: Workflow, into json: inout JSONWriter) {
        json.beginObject()
        writeMetadata(of: workflow, into: &json)
        json.member("processing", workflow.isProcessing)
        json.key("steps")
        json.beginArray()
        for index in workflow.indicesInTreeOrder {
            let step = workflow.steps[index]
            json.beginObject()
            json.member("step", step.name.rawValue)
            if let parent = step.parent { json.member("parent", parent.rawValue) }
            json.member("status", step.status.rawValue)
            json.member("ready", workflow.isReady(index))
            if let startedAt = step.startedAt { json.member("startedAt", startedAt.milliseconds) }
            json.member("updatedAt", step.updatedAt.milliseconds)
            if let reason = step.failureReason { json.member("failureReason", reason) }
            WorkflowShapes.writeWork(of: step, into: &json)
            json.endObject()
        }
        json.endArray()
        json.endObject()
    }

    /// The workflow's own members, shared by the API's shape and the export format: `token`,
    /// `createdAt`, `template`, `createdBy`, `labels`, `version`, `priority` (the export writes it
    /// only when it is not the default, so that older bomflows read what it writes).
    public static func writeMetadata(of workflow: Workflow, into json: inout JSONWriter, defaultPriority: Bool = true) {
        json.member("token", workflow.token.description)
        json.member("createdAt", workflow.createdAt.milliseconds)
        if let template = workflow.template { json.member("template", template.rawValue) }
        if let createdBy = workflow.createdBy { json.member("createdBy", createdBy) }
        json.key("labels")
        json.beginObject()
        for label in workflow.labels { json.member(label.key, label.value) }
        json.endObject()
        json.member("version", Int64(clamping: workflow.version))
        if defaultPriority || workflow.priority != Workflow.defaultPriority {
            json.member("priority", Int64(workflow.priority))
        }
        if let key = workflow.concurrencyKey {
            json.member("concurrencyKey", key)
            json.member("held", workflow.isHeld)
        }
    }

    /// The members describing work on a step, shared by the API's shape and the export format:
    /// `attempts` (when claimed before), `claim` (while held) and `progress` (when reported).
    public static func writeWork(of step: Step, into json: inout JSONWriter) {
        if step.attempts > 0 { json.member("attempts", Int64(step.attempts)) }
        if let claim = step.claim {
            json.key("claim")
            json.beginObject()
            json.member("worker", claim.worker)
            json.member("attempt", Int64(claim.attempt))
            json.member("leaseExpiresAt", claim.leaseExpiresAt.milliseconds)
            json.endObject()
        }
        if let progress = step.progress {
            json.key("progress")
            json.beginObject()
            if let expected = progress.expected { json.member("expected", expected) }
            json.member("completed", progress.completed)
            json.member("failed", progress.failed)
            json.key("failureThreshold")
            json.number(progress.failureThreshold)
            json.endObject()
        }
    }

    /// A list page: `{"workflows": [...], "nextCursor": "…" | null}` (the API's and the CLI's).
    public static func json(_ page: WorkflowPage) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("workflows")
        json.beginArray()
        for workflow in page.workflows { write(workflow, into: &json) }
        json.endArray()
        json.key("nextCursor")
        if let next = page.nextCursor { json.string(String(next)) } else { json.null() }
        json.endObject()
        return json.bytes
    }

    /// A claim answer: `{"claims": [{token, step, labels, attempt, leaseExpiresAt}]}`.
    public static func claims(_ claims: [ClaimedStep]) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("claims")
        json.beginArray()
        for claimed in claims {
            json.beginObject()
            json.member("token", claimed.token.description)
            json.member("step", claimed.step.rawValue)
            json.key("labels")
            json.beginObject()
            for label in claimed.labels { json.member(label.key, label.value) }
            json.endObject()
            json.member("attempt", Int64(claimed.claim.attempt))
            json.member("leaseExpiresAt", claimed.claim.leaseExpiresAt.milliseconds)
            if let bom = claimed.bom {
                json.key("bom")
                json.beginObject()
                json.member("size", Int64(bom.size))
                json.member("mediaType", bom.format.mediaType)
                json.endObject()
            }
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// `workflow` as JSON text.
    public static func json(_ workflow: Workflow) -> [UInt8] {
        var json = JSONWriter()
        write(workflow, into: &json)
        return json.bytes
    }
}
