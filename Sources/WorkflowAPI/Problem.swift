public import HTTP1
internal import WorkflowModel
internal import WorkflowStore

/// An error answer in RFC 9457 `application/problem+json`, with a stable `type` per kind.
///
/// This is the one place where errors become statuses (STYLE.md rule 9): model refusals,
/// storage failures and request validation all end here; anything else becomes a 500 with a
/// generic body and is never echoed to the client.
public struct Problem: Error, Equatable, Sendable {
    /// The status.
    public let status: HTTPStatus
    /// A stable URI naming the kind (`https://bomflow.dev/problems/validation`, …).
    public let type: String
    /// A short, stable summary of the kind.
    public let title: String
    /// What went wrong with this request.
    public let detail: String
    /// Extra headers (`Retry-After`, `WWW-Authenticate`).
    public var headers: [(String, String)] = []

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

    static func storageFull() -> Problem {
        Problem(
            status: .insufficientStorage, type: base + "storage-full", title: "Storage full",
            detail: StoreError.storageFull.description)
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

    static func internalError() -> Problem {
        Problem(
            status: .internalServerError, type: base + "internal", title: "Internal error",
            detail: "The server failed; the error is logged")
    }

    /// The problem for a model refusal.
    static func refused(_ error: WorkflowError) -> Problem {
        if error.isNotFound { return .notFound(error.description) }
        if case .invalidTransition = error { return .invalidTransition(error.description) }
        if case .stepFinished = error { return .invalidTransition(error.description) }
        if error.isConflict { return .conflict(error.description) }
        return .validation(error.description)
    }

    /// The problem for a storage failure (never a bare 500 for a known condition).
    static func storage(_ error: StoreError) -> Problem {
        switch error {
        case .storageFull: return .storageFull()
        case .unavailable(let why): return .unavailable(why)
        case .fatal: return .unavailable("Storage failed; this process is restarting")
        case .corrupted, .newerFormat, .failed, .unsafeLocation: return .internalError()
        }
    }

    /// The response carrying this problem.
    public var response: HTTPResponse {
        var json = JSONWriter()
        json.beginObject()
        json.member("type", type)
        json.member("title", title)
        json.member("status", Int64(status.code))
        json.member("detail", detail)
        json.endObject()
        var fields = HTTPHeaders([("Content-Type", "application/problem+json")])
        for (name, value) in headers { fields.add(name, value) }
        return HTTPResponse(status: status, headers: fields, body: json.bytes)
    }
}
