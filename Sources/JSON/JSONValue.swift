/// A parsed JSON document with strict types: `true` is never a number and `1` never a Boolean.
/// Request bodies and import lines are decoded into this tree first, so that unknown fields and
/// wrong types can be reported precisely before anything is written.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue {
    /// Parses `bytes` (UTF-8 JSON) with the strict parser.
    /// - Parameter what: names the document in messages ("The request body", "line 3").
    /// - Throws: ``JSONError`` naming what is wrong and the byte offset.
    public static func parse(
        _ bytes: [UInt8], what: String = "The request body", keepDepth: Int = .max
    ) throws(JSONError) -> JSONValue {
        guard !bytes.isEmpty else {
            throw JSONError(path: "", message: "\(what) is empty; a JSON object is expected")
        }
        do {
            return try JSONParser.parse(bytes, keepDepth: keepDepth)
        } catch {
            throw JSONError(
                path: "", message: "\(what) is not valid JSON: \(error.reason) at byte \(error.offset)",
                offset: error.offset)
        }
    }
}
