internal import HTTP1
public import JSON
internal import WorkflowModel

/// A typed client of bomflow's own API for workers and tests: claim, heartbeat, report, get.
/// Blocking, one connection per client; not thread-safe (give each thread its own).
public final class BomflowAPIClient {
    /// A step a claim handed out.
    public struct ClaimedStep: Sendable, Equatable {
        public let token: String
        public let step: String
        public let attempt: Int
        public let labels: [String: String]
        public let leaseExpiresAt: Int64
    }

    /// What a step's worker reports.
    public enum Outcome: Sendable, Equatable {
        case completed
        case failed(reason: String)
    }

    /// Why a call failed.
    public enum Failure: Error, CustomStringConvertible {
        /// No answer: the server is unreachable, or the connection broke.
        case transport(String)
        /// The server answered with an error status; `body` is its problem+json (or other) text.
        case refused(status: Int, body: String)
        /// The answer was not what the API documents.
        case malformed(String)

        public var description: String {
            switch self {
            case .transport(let why): "no answer: \(why)"
            case .refused(let status, let body): "the server answered \(status): \(body)"
            case .malformed(let why): "an unexpected answer: \(why)"
            }
        }

        /// The key was missing, wrong or lacked the permission (retrying will not help).
        public var isAuthorization: Bool {
            if case .refused(let status, _) = self { return status == 401 || status == 403 }
            return false
        }
    }

    /// The server's base URL, `http://IP:PORT`.
    public let url: String
    private let client: HTTPClient
    private let headers: [(String, String)]

    /// A client of the server at `url` (`http://IP:PORT`), with an API key or none
    /// (`--insecure-no-auth` servers). - Returns: nil for a URL it cannot use.
    public init?(url: String, apiKey: String?) {
        guard let endpoint = HTTPClient.endpoint(url) else { return nil }
        self.url = url
        client = HTTPClient(host: endpoint.host, port: endpoint.port)
        var headers = [("Content-Type", "application/json")]
        if let apiKey { headers.append(("X-Api-Key", apiKey)) }
        self.headers = headers
    }

    /// `POST /api/v1/workflow/claim`: up to `max` ready steps named in `steps`, waiting up to
    /// `waitSeconds` for one.
    public func claim(
        steps: [String], worker: String, leaseSeconds: Int64, max: Int = 1, waitSeconds: Double = 0
    ) throws(Failure) -> [ClaimedStep] {
        var body = JSONWriter()
        body.beginObject()
        body.key("steps")
        body.beginArray()
        for step in steps { body.string(step) }
        body.endArray()
        body.member("worker", worker)
        body.member("leaseSeconds", leaseSeconds)
        body.member("max", Int64(max))
        body.member("waitSeconds", double: waitSeconds)
        body.endObject()
        let answer = try call("POST", "/api/v1/workflow/claim", body.bytes, timeout: waitSeconds + 10)
        guard case .array(let claims)? = answer["claims"] else { throw .malformed("no claims array") }
        var result: [ClaimedStep] = []
        for value in claims {
            guard case .object(let claim) = value, case .string(let token)? = claim["token"],
                case .string(let step)? = claim["step"], case .integer(let attempt)? = claim["attempt"],
                case .integer(let lease)? = claim["leaseExpiresAt"]
            else { throw .malformed("a claim without token, step, attempt or leaseExpiresAt") }
            var labels: [String: String] = [:]
            if case .object(let members)? = claim["labels"] {
                for (key, value) in members {
                    if case .string(let text) = value { labels[key] = text }
                }
            }
            result.append(
                ClaimedStep(token: token, step: step, attempt: Int(attempt), labels: labels, leaseExpiresAt: lease))
        }
        return result
    }

    /// `POST …/step/{step}/heartbeat`: extends the lease. - Returns: the new lease end (epoch ms).
    @discardableResult
    public func heartbeat(token: String, step: String, worker: String, leaseSeconds: Int64) throws(Failure) -> Int64 {
        let body = JSONWriter.object { json in
            json.member("worker", worker)
            json.member("leaseSeconds", leaseSeconds)
        }
        let answer = try call("POST", try stepPath(token, step) + "/heartbeat", body)
        guard case .integer(let lease)? = answer["leaseExpiresAt"] else { throw .malformed("no leaseExpiresAt") }
        return lease
    }

    /// `PATCH …/step/{step}`: the step's outcome, as its worker. A failure reason is cut to the
    /// model's limit. - Returns: the workflow as the server has it now.
    @discardableResult
    public func report(token: String, step: String, worker: String, _ outcome: Outcome) throws(Failure) -> [String:
        JSONValue]
    {
        let body = JSONWriter.object { json in
            switch outcome {
            case .completed:
                json.member("status", "COMPLETED")
            case .failed(let reason):
                var text = reason
                while text.utf8.count > Limits.maxFailureReasonBytes { text.removeLast() }
                json.member("status", "FAILED")
                json.member("failureReason", text.isEmpty ? "failed" : text)
            }
            json.member("worker", worker)
        }
        return try call("PATCH", try stepPath(token, step), body)
    }

    /// `GET /api/v1/workflow/token/{uuid}`: the workflow as a JSON object, nil when unknown.
    public func workflow(_ token: String) throws(Failure) -> [String: JSONValue]? {
        guard let parsed = Token(token) else { throw .malformed("'\(token)' is not a UUID") }
        do {
            return try call("GET", "/api/v1/workflow/token/\(parsed)", [])
        } catch .refused(404, _) {
            return nil
        }
    }

    private func stepPath(_ token: String, _ step: String) throws(Failure) -> String {
        guard let parsed = Token(token), let name = StepName(step) else {
            throw .malformed("'\(token)' / '\(step)' is not a token and a step name")
        }
        return "/api/v1/workflow/token/\(parsed)/step/\(name.rawValue)"
    }

    private func call(_ method: String, _ path: String, _ body: [UInt8], timeout: Double = 10) throws(Failure)
        -> [String: JSONValue]
    {
        let response: HTTPClient.Response
        do {
            response = try client.request(
                method, path, headers: method == "GET" ? headersWithoutBody : headers, body: body, timeout: timeout)
        } catch {
            throw .transport(error.description)
        }
        guard (200..<300).contains(response.status) else {
            throw .refused(status: response.status, body: String(decoding: response.body, as: UTF8.self))
        }
        do {
            guard case .object(let object) = try JSONValue.parse(response.body, what: "The answer") else {
                throw Failure.malformed("not a JSON object")
            }
            return object
        } catch let error as JSONError {
            throw .malformed(error.message)
        } catch {
            throw .malformed("\(error)")
        }
    }

    private var headersWithoutBody: [(String, String)] { headers.filter { $0.0 != "Content-Type" } }
}
