internal import HTTP1
internal import JSON

/// Errors the HTTP layer answers itself (before any handler runs: framing, limits, timeouts,
/// too many connections), as `application/problem+json` in the shape the API uses, so that a
/// client reads every error the same way.
extension HTTPResponse {
    /// `{"type","title","status","detail"}` with `https://bomflow.dev/problems/<kind>`.
    static func layerProblem(_ status: HTTPStatus, kind: String, detail: String) -> HTTPResponse {
        let body = JSONWriter.object { json in
            json.member("type", "https://bomflow.dev/problems/" + kind)
            json.member("title", status.reason)
            json.member("status", Int64(status.code))
            json.member("detail", detail)
        }
        return HTTPResponse(
            status: status, headers: HTTPHeaders([("Content-Type", "application/problem+json")]), body: body)
    }

    /// The answer when the process holds its most connections (with `Retry-After`).
    static let tooManyConnections: HTTPResponse = {
        var response = layerProblem(
            .serviceUnavailable, kind: "too-many-connections",
            detail: "This process serves its most connections; retry shortly")
        response.headers.add("Retry-After", "1")
        return response
    }()

    /// The answer to a request that could not be parsed.
    static func problem(for error: ParseError) -> HTTPResponse {
        let kind =
            switch error {
            case .badRequest: "bad-request"
            case .uriTooLong: "uri-too-long"
            case .headerFieldsTooLarge: "header-fields-too-large"
            case .contentTooLarge: "content-too-large"
            case .notImplemented: "not-implemented"
            case .versionNotSupported: "version-not-supported"
            case .expectationFailed: "expectation-failed"
            }
        return layerProblem(error.status, kind: kind, detail: error.description)
    }
}
