public import HTTP1
internal import Interchange
internal import JSON
internal import Storage
internal import WorkflowModel

/// The one error type of the API: every handler throws it, and ``response(requestID:)`` is the
/// one place where an error becomes a status and a body (STYLE.md rule 9).
///
/// Most problems are RFC 9457 `application/problem+json` with a stable `type` per kind; a few
/// Dependency-Track endpoints answer in DT's own shape instead (``body`` is then set). Model
/// refusals, storage failures and request validation all end here; anything else becomes a 500
/// with a generic body, is logged by the service with the request id, and is never echoed.
public struct Problem: Error, Equatable, Sendable {
    /// The status.
    public let status: HTTPStatus
    /// A stable URI naming the kind (`https://bomflow.dev/problems/validation`, …).
    public let type: String
    /// A short, stable summary of the kind.
    public let title: String
    /// What went wrong with this request.
    public let detail: String
    /// Extra headers (`Retry-After`, `WWW-Authenticate`, `Allow`).
    public var headers: [(String, String)] = []
    /// A body in another shape than problem+json (Dependency-Track's), with its content type.
    var body: (contentType: String, bytes: [UInt8])?
    /// What the server log should say about a 5xx (never sent to the client).
    var cause: String?

    public static func == (lhs: Problem, rhs: Problem) -> Bool {
        lhs.status == rhs.status && lhs.type == rhs.type && lhs.detail == rhs.detail
    }

    static let base = "https://bomflow.dev/problems/"

    static func validation(_ detail: String) -> Problem {
        Problem(status: .badRequest, type: base + "validation", title: "Invalid request", detail: detail)
    }

    static func notFound(_ detail: String) -> Problem {
        Problem(status: .notFound, type: base + "not-found", title: "Not found", detail: detail)
    }

    static func invalidTransition(_ detail: String) -> Problem {
        Problem(status: .conflict, type: base + "invalid-transition", title: "Invalid transition", detail: detail)
    }

    static func conflict(_ detail: String) -> Problem {
        Problem(status: .conflict, type: base + "conflict", title: "Conflict", detail: detail)
    }

    static func storageFull(_ error: StoreError = .storageFull) -> Problem {
        Problem(
            status: .insufficientStorage, type: base + "storage-full", title: "Storage full",
            detail: error.description)
    }

    static func unavailable(_ detail: String) -> Problem {
        Problem(
            status: .serviceUnavailable, type: base + "unavailable", title: "Service unavailable", detail: detail,
            headers: [("Retry-After", "1")])
    }

    static func methodNotAllowed(_ allowed: [HTTPMethod]) -> Problem {
        let list = allowed.map(\.rawValue).joined(separator: ", ")
        return Problem(
            status: .methodNotAllowed, type: base + "method-not-allowed", title: "Method not allowed",
            detail: "Allowed: \(list)", headers: [("Allow", list)])
    }

    /// A failure of the server itself; `cause` goes to the log, never to the client.
    static func internalError(_ cause: String) -> Problem {
        Problem(
            status: .internalServerError, type: base + "internal", title: "Internal error",
            detail: "The server failed; the error is logged with this request's id", cause: cause)
    }

    /// The problem for a model refusal.
    static func refused(_ error: WorkflowError) -> Problem {
        if error.isNotFound { return .notFound(error.description) }
        if case .invalidTransition = error { return .invalidTransition(error.description) }
        if case .stepFinished = error { return .invalidTransition(error.description) }
        if error.isConflict { return .conflict(error.description) }
        return .validation(error.description)
    }

    /// The problem for a request body or query that does not decode.
    static func refused(_ error: JSONError) -> Problem { .validation(error.message) }

    /// The problem for a storage failure (never a bare 500 for a known condition).
    static func storage(_ error: StoreError) -> Problem {
        switch error {
        case .storageFull, .diskFull: return .storageFull(error)
        case .unavailable(let why): return .unavailable(why)
        case .fatal(let why):
            var problem = Problem.unavailable("Storage failed; this process is restarting")
            problem.cause = "storage failed fatally: \(why)"
            return problem
        case .corrupted, .newerFormat, .failed, .unsafeLocation: return .internalError(error.description)
        }
    }

    /// An answer to a Dependency-Track client (BOM upload, projects): the status with the
    /// message as `text/plain`, as Dependency-Track words its refusals.
    static func dependencyTrack(_ status: HTTPStatus, _ message: String) -> Problem {
        let kind =
            switch status.code {
            case 404: "not-found"
            case 409: "conflict"
            case 413: "content-too-large"
            default: "validation"
            }
        var problem = Problem(status: status, type: base + kind, title: "Refused", detail: message)
        problem.body = ("text/plain; charset=utf-8", Array(message.utf8))
        return problem
    }

    /// This problem as Dependency-Track words it: the same status with the detail as
    /// `text/plain` (a problem that already has its own body, and a 5xx, stay as they are).
    var inDependencyTrackWords: Problem {
        guard body == nil, status.code < 500 else { return self }
        return .dependencyTrack(status, detail)
    }

    /// A BOM over `--max-bom-size` (413).
    static func bomTooLarge(_ limit: Int) -> Problem {
        dependencyTrack(
            .contentTooLarge, "The BOM is larger than the server's limit of \(limit) bytes (--max-bom-size)")
    }

    /// Dependency-Track's 400 for a malformed `{uuid}`: its bean-validation violation list.
    static func dependencyTrackInvalidUUID(_ value: String, method: String) -> Problem {
        var problem = Problem.validation("'\(value)' is not a UUID")
        problem.body = ("application/json", DependencyTrackShapes.invalidUUID(value, method: method))
        return problem
    }

    /// The response carrying this problem; `requestID` becomes the problem's `instance` and the
    /// `X-Request-Id` header.
    public func response(requestID: String? = nil) -> HTTPResponse {
        var fields = HTTPHeaders()
        let bytes: [UInt8]
        if let body {
            fields.add("Content-Type", body.contentType)
            bytes = body.bytes
        } else {
            fields.add("Content-Type", "application/problem+json")
            bytes = JSONWriter.object { json in
                json.member("type", type)
                json.member("title", title)
                json.member("status", Int64(status.code))
                json.member("detail", detail)
                if let requestID { json.member("instance", "urn:bomflow:request:" + requestID) }
            }
        }
        for (name, value) in headers { fields.add(name, value) }
        if let requestID { fields.add("X-Request-Id", requestID) }
        return HTTPResponse(status: status, headers: fields, body: bytes)
    }

    /// The response without a request id (tests, and answers made outside a request).
    public var response: HTTPResponse { response() }
}
