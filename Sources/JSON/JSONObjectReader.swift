/// Reads the members of a JSON object, each at most once, and rejects the unknown ones.
public struct JSONObjectReader: Sendable {
    private let members: [String: JSONValue]
    private let context: String

    /// Reads `value`, which must be an object; `context` names it in messages (`body`, `steps[0]`).
    public init(_ value: JSONValue, context: String = "body") throws(JSONError) {
        guard case .object(let members) = value else { throw .invalid(context, "\(context) must be a JSON object") }
        self.members = members
        self.context = context
    }

    /// Refuses members other than `allowed` (a typo must not silently do nothing).
    public func allowOnly(_ allowed: Set<String>) throws(JSONError) {
        let unknown = Set(members.keys).subtracting(allowed).sorted()
        guard unknown.isEmpty else {
            throw .invalid(
                context,
                "Unknown field\(unknown.count > 1 ? "s" : "") in \(context): \(unknown.joined(separator: ", "))")
        }
    }

    /// The path of member `key` (`steps[0].step`).
    private func path(_ key: String) -> String { context + "." + key }

    /// Whether `key` is present and not `null`.
    public func has(_ key: String) -> Bool { members[key] != nil && members[key] != .null }

    /// The raw member, for nested objects.
    public func value(_ key: String) -> JSONValue? { members[key] }

    public func string(_ key: String) throws(JSONError) -> String? {
        switch members[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw .invalid(path(key), "\(key) must be a string")
        }
    }

    public func integer(_ key: String) throws(JSONError) -> Int64? {
        switch members[key] {
        case nil, .null?: return nil
        case .integer(let value)?: return value
        default: throw .invalid(path(key), "\(key) must be an integer")
        }
    }

    public func number(_ key: String) throws(JSONError) -> Double? {
        switch members[key] {
        case nil, .null?: return nil
        case .integer(let value)?: return Double(value)
        case .number(let value)?: return value
        default: throw .invalid(path(key), "\(key) must be a number")
        }
    }

    public func bool(_ key: String) throws(JSONError) -> Bool? {
        switch members[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw .invalid(path(key), "\(key) must be true or false")
        }
    }

    public func array(_ key: String) throws(JSONError) -> [JSONValue]? {
        switch members[key] {
        case nil, .null?: return nil
        case .array(let value)?: return value
        default: throw .invalid(path(key), "\(key) must be an array")
        }
    }

    public func stringMap(_ key: String) throws(JSONError) -> [String: String]? {
        switch members[key] {
        case nil, .null?: return nil
        case .object(let value)?:
            var result: [String: String] = [:]
            for (name, member) in value {
                guard case .string(let text) = member else {
                    throw .invalid(path(key), "\(key).\(name) must be a string")
                }
                result[name] = text
            }
            return result
        default: throw .invalid(path(key), "\(key) must be an object of strings")
        }
    }
}
