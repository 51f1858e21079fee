/// Why a JSON document was refused: malformed text, or a member of the wrong type, missing,
/// unknown or out of range. `path` names the place (`body`, `steps[2].status`); `message` is
/// the sentence shown to a client or an operator.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Where in the document (empty for the document as a whole).
    public let path: String
    /// What is wrong, as a whole sentence.
    public let message: String
    /// The byte offset of a syntax error, nil otherwise.
    public let offset: Int?

    public init(path: String, message: String, offset: Int? = nil) {
        self.path = path
        self.message = message
        self.offset = offset
    }

    /// A refusal of the member `path` with `message`.
    public static func invalid(_ path: String, _ message: String) -> JSONError {
        JSONError(path: path, message: message)
    }

    public var description: String { message }
}
