extension JSONValue {
    /// Parses `bytes` (UTF-8 JSON) with ``JSONParser``.
    /// - Throws: ``Problem`` (400) naming what is wrong and where.
    static func parse(_ bytes: [UInt8], what: String = "The request body") throws(Problem) -> JSONValue {
        guard !bytes.isEmpty else { throw Problem.validation("\(what) is empty; a JSON object is expected") }
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw Problem.validation("\(what) is not valid JSON: \(error.reason) at byte \(error.offset)")
        }
    }
}

/// Reads the members of a JSON object, each at most once, and rejects the unknown ones.
struct JSONObjectReader {
    private let members: [String: JSONValue]
    private let context: String

    init(_ value: JSONValue, context: String = "body") throws(Problem) {
        guard case .object(let members) = value else { throw Problem.validation("\(context) must be a JSON object") }
        self.members = members
        self.context = context
    }

    /// Refuses members other than `allowed` (a typo must not silently do nothing).
    func allowOnly(_ allowed: Set<String>) throws(Problem) {
        let unknown = Set(members.keys).subtracting(allowed).sorted()
        guard unknown.isEmpty else {
            throw Problem.validation(
                "Unknown field\(unknown.count > 1 ? "s" : "") in \(context): \(unknown.joined(separator: ", "))")
        }
    }

    func has(_ key: String) -> Bool { members[key] != nil && members[key] != .null }

    /// The raw member, for nested objects.
    func value(_ key: String) -> JSONValue? { members[key] }

    func string(_ key: String) throws(Problem) -> String? {
        switch members[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw Problem.validation("\(key) must be a string")
        }
    }

    func integer(_ key: String) throws(Problem) -> Int64? {
        switch members[key] {
        case nil, .null?: return nil
        case .integer(let value)?: return value
        default: throw Problem.validation("\(key) must be an integer")
        }
    }

    func number(_ key: String) throws(Problem) -> Double? {
        switch members[key] {
        case nil, .null?: return nil
        case .integer(let value)?: return Double(value)
        case .number(let value)?: return value
        default: throw Problem.validation("\(key) must be a number")
        }
    }

    func bool(_ key: String) throws(Problem) -> Bool? {
        switch members[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw Problem.validation("\(key) must be true or false")
        }
    }

    func array(_ key: String) throws(Problem) -> [JSONValue]? {
        switch members[key] {
        case nil, .null?: return nil
        case .array(let value)?: return value
        default: throw Problem.validation("\(key) must be an array")
        }
    }

    func stringMap(_ key: String) throws(Problem) -> [String: String]? {
        switch members[key] {
        case nil, .null?: return nil
        case .object(let value)?:
            var result: [String: String] = [:]
            for (name, member) in value {
                guard case .string(let text) = member else {
                    throw Problem.validation("\(key).\(name) must be a string")
                }
                result[name] = text
            }
            return result
        default: throw Problem.validation("\(key) must be an object of strings")
        }
    }
}
