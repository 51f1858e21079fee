/// A parsed JSON document with strict types: `true` is never a number and `1` never a Boolean.
/// Request bodies are decoded into this tree first, so that unknown fields and wrong types can
/// be reported precisely (400) before anything is written.
enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}
