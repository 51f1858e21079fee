internal import Codecs
internal import JSON
public import WorkflowModel

/// The body of a delivery: Dependency-Track's webhook JSON, `{"notification": {...}}`
/// (docs/NOTIFICATIONS.md and docs/notification.schema.json describe every field).
public enum NotificationPayload {
    /// What a payload of Dependency-Track's groups says about the project and the BOM.
    public struct Context: Sendable {
        public var project: Project?
        public var bom: BomDocument?

        public init(project: Project? = nil, bom: BomDocument? = nil) {
            self.project = project
            self.bom = bom
        }
    }

    /// Renders one notification. `id` stays the same across redeliveries (and is the same for
    /// every webhook the notification goes to).
    public static func render(
        id: Token, event: NotificationEvent, workflow: Workflow, at time: Timestamp, context: Context,
        includeBom: Bool
    ) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("notification")
        json.beginObject()
        json.member("id", id.description)
        json.member("level", event.group.level)
        json.member("scope", "PORTFOLIO")
        json.member("group", event.group.rawValue)
        json.member("timestamp", ISOTime.string(time))
        json.member("title", event.group.title)
        json.member("content", content(event, workflow: workflow, bom: context.bom))
        json.key("subject")
        json.beginObject()
        if event.group.isDependencyTrack {
            writeProject(context.project, workflow: workflow, to: &json)
            json.key("bom")
            json.beginObject()
            json.member("content", includeBom ? context.bom.map { Base64.encode($0.bytes) } ?? "" : "(Omitted)")
            json.member("format", "CycloneDX")
            if let version = context.bom?.specVersion { json.member("specVersion", version) }
            json.endObject()
            json.member("token", workflow.token.description)
            if event.group == .bomProcessingFailed { json.member("cause", event.cause ?? "") }
        } else {
            if let step = event.step { json.member("step", step.rawValue) }
            if let cause = event.cause { json.member("cause", cause) }
            json.key("workflow")
            writeWorkflow(workflow, to: &json)
        }
        json.endObject()
        json.endObject()
        json.endObject()
        return json.bytes
    }

    /// A test notification (`POST /api/v1/notification/webhook/{uuid}/test`): the webhook's first
    /// group's envelope with an empty subject and `"test": true`.
    public static func renderTest(id: Token, group: NotificationGroup, at time: Timestamp) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("notification")
        json.beginObject()
        json.member("id", id.description)
        json.member("level", "INFORMATIONAL")
        json.member("scope", "PORTFOLIO")
        json.member("group", group.rawValue)
        json.member("timestamp", ISOTime.string(time))
        json.member("title", "Test notification")
        json.member("content", "A test notification from bomflow: this webhook's configuration works")
        json.key("subject")
        json.beginObject()
        json.endObject()
        json.member("test", true)
        json.endObject()
        json.endObject()
        return json.bytes
    }

    private static func content(_ event: NotificationEvent, workflow: Workflow, bom: BomDocument?) -> String {
        switch event.group {
        case .bomConsumed: "A CycloneDX BOM was consumed and will be processed"
        case .bomProcessed: "A CycloneDX BOM was processed"
        case .bomProcessingFailed: "An error occurred while processing a BOM"
        case .workflowCompleted: "Workflow \(workflow.token) completed"
        case .workflowFailed: "Workflow \(workflow.token) failed" + (event.cause.map { ": \($0)" } ?? "")
        case .stepFailed:
            "Step \(event.step?.rawValue ?? "?") of workflow \(workflow.token) failed"
                + (event.cause.map { ": \($0)" } ?? "")
        }
    }

    /// Dependency-Track's project subject; from the workflow's labels when the project is gone.
    private static func writeProject(_ project: Project?, workflow: Workflow, to json: inout JSONWriter) {
        json.key("project")
        json.beginObject()
        if let project {
            json.member("uuid", project.uuid.description)
            json.member("name", project.name)
            if let version = project.version { json.member("version", version) }
            json.member("tags", project.tags.joined(separator: ","))
        } else {
            if let uuid = workflow.labels["project"] { json.member("uuid", uuid) }
            if let name = workflow.labels["projectName"] { json.member("name", name) }
            if let version = workflow.labels["projectVersion"] { json.member("version", version) }
            json.member("tags", "")
        }
        json.endObject()
    }

    /// bomflow's workflow subject: token, template, labels, and every step with its status.
    private static func writeWorkflow(_ workflow: Workflow, to json: inout JSONWriter) {
        json.beginObject()
        json.member("token", workflow.token.description)
        if let template = workflow.template { json.member("template", template.rawValue) }
        json.key("labels")
        json.beginObject()
        for label in workflow.labels { json.member(label.key, label.value) }
        json.endObject()
        json.member("version", Int64(workflow.version))
        json.key("steps")
        json.beginArray()
        for step in workflow.steps {
            json.beginObject()
            json.member("step", step.name.rawValue)
            json.member("status", step.status.rawValue)
            if let reason = step.failureReason { json.member("failureReason", reason) }
            json.member("updatedAt", step.updatedAt.milliseconds)
            json.endObject()
        }
        json.endArray()
        json.endObject()
    }
}

/// ISO 8601 UTC with milliseconds (`2026-12-02T05:00:00.000Z`), as Dependency-Track's timestamps.
public enum ISOTime {
    public static func string(_ time: Timestamp) -> String {
        let millis = time.milliseconds
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let fraction = Int(millis - seconds * 1000)
        var days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = Int(seconds - days * 86400)
        // Howard Hinnant's civil_from_days.
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(Int64(secondOfDay / 3600), 2)):"
            + "\(pad(Int64(secondOfDay / 60 % 60), 2)):\(pad(Int64(secondOfDay % 60), 2)).\(pad(Int64(fraction), 3))Z"
    }
}
