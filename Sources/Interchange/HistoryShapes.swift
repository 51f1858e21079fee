public import JSON
public import WorkflowModel

/// The JSON shape of a workflow's event history (docs/HISTORY.md), for the API and the CLI.
public enum HistoryShapes {
    /// `{"token", "first", "last", "events": [...]}`.
    public static func json(_ token: Token, _ page: HistoryPage) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.member("token", token.description)
        json.member("first", Int64(clamping: page.first))
        json.member("last", Int64(clamping: page.last))
        json.key("events")
        json.beginArray()
        for event in page.events { write(event, into: &json) }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// One event: members that do not apply are left out.
    public static func write(_ event: HistoryEvent, into json: inout JSONWriter) {
        json.beginObject()
        json.member("sequence", Int64(clamping: event.sequence))
        json.member("at", event.at.milliseconds)
        json.member("type", event.kind.rawValue)
        json.key("by")
        json.beginObject()
        json.member("kind", event.origin.kind.rawValue)
        if let name = event.origin.name { json.member("name", name) }
        if let key = event.origin.key { json.member("key", key) }
        json.endObject()
        if let version = event.version { json.member("version", Int64(clamping: version)) }
        if let step = event.step { json.member("step", step.rawValue) }
        if let from = event.from { json.member("from", from.rawValue) }
        if let to = event.to { json.member("to", to.rawValue) }
        if let attempt = event.attempt { json.member("attempt", Int64(attempt)) }
        if event.kind.isCounted { json.member("count", Int64(event.count)) }
        if let firstAt = event.firstAt { json.member("firstAt", firstAt.milliseconds) }
        if let detail = event.detail { json.member("detail", detail) }
        if let reason = event.reason { json.member("reason", reason) }
        if let webhook = event.webhook { json.member("webhook", webhook.description) }
        if let delivery = event.delivery { json.member("delivery", Int64(clamping: delivery)) }
        json.endObject()
    }

    /// One line of text for a terminal: `#3 2026-12-02T08:00:00.123Z STATUS BOM_CONSUMPTION PENDING → COMPLETED by key ci`.
    public static func line(_ event: HistoryEvent, time: String) -> String {
        var parts = ["#\(event.sequence)", time, event.kind.rawValue]
        if let step = event.step { parts.append(step.rawValue) }
        if let from = event.from, let to = event.to { parts.append("\(from.rawValue) → \(to.rawValue)") }
        if let attempt = event.attempt { parts.append("attempt \(attempt)") }
        if event.kind.isSummarised {
            parts.append("×\(event.count)")
        } else if event.kind.isCounted {
            parts.append("(\(event.count) step\(event.count == 1 ? "" : "s"))")
        }
        if let detail = event.detail { parts.append(detail) }
        if let reason = event.reason { parts.append("(\(reason))") }
        parts.append("by " + describe(event.origin))
        return parts.joined(separator: " ")
    }

    /// `key ci`, `worker w-1 (key ci)`, `maintenance`, `system concurrency`.
    public static func describe(_ origin: Origin) -> String {
        var text = origin.kind.rawValue
        if let name = origin.name { text += " " + name }
        if let key = origin.key { text += " (key \(key))" }
        return text
    }
}
