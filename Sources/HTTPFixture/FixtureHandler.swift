import Dispatch
import HTTP1
import HTTPServer

/// Answers by path, for the HTTP layer's tests and benchmark: `/fixed` a 20-byte JSON body (and
/// so does every path under `/api/v1/event/token/`, so that the benchmark can send the API's
/// poll request, bytes for bytes, to the HTTP layer alone),
/// `/echo` the request body, `/delay?ms=N` from another thread after N ms, `/big?bytes=N` N bytes;
/// anything else its path as text. `/private` is refused before its body is read (401).
///
/// With ``pollWork`` (`--poll-cpu-ns`), the poll's path first keeps the loop's thread busy that
/// long: the benchmark's control of what the API's own CPU time per poll does to the latency of
/// the HTTP layer (scripts/benchmarks/api.py).
struct FixtureHandler: HTTPHandler {
    /// How long a poll spins on the loop's thread before its answer.
    var pollWork = Duration.zero

    /// The canned answer, its header fields serialized once as the API's poll answers are.
    static let fixed = HTTPResponse(
        status: .ok, headers: HTTPHeaders([("Content-Type", "application/json")]),
        body: Array(#"{"processing":false}"#.utf8)
    ).prepared()

    /// The poll's path up to its token (WorkflowAPI's `GET /api/v1/event/token/{uuid}`).
    static let pollPrefix = "/api/v1/event/token/"

    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        switch request.path {
        case "/fixed":
            responder.respond(Self.fixed)
        case "/echo":
            responder.respond(
                HTTPResponse(
                    status: .ok, headers: HTTPHeaders([("X-Method", request.method.rawValue)]), body: request.body))
        case "/delay":
            let milliseconds = number(in: request.query)
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) {
                responder.respond(HTTPResponse.text(.ok, request.target))
            }
        case "/big":
            responder.respond(
                HTTPResponse(status: .ok, body: [UInt8](repeating: UInt8(ascii: "b"), count: number(in: request.query)))
            )
        default:
            if request.path.utf8.starts(with: Self.pollPrefix.utf8) {
                if pollWork > .zero { spin(for: pollWork) }
                responder.respond(Self.fixed)
            } else {
                responder.respond(HTTPResponse.text(.ok, request.path))
            }
        }
    }

    func respondBeforeBody(to head: HTTPRequest) -> HTTPResponse? {
        head.path == "/private" ? HTTPResponse.text(.unauthorized, "no\n") : nil
    }

    /// Busy until `duration` has passed (reading the clock, in user space through the vDSO).
    private func spin(for duration: Duration) {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end {}
    }

    /// The integer after the last `=` of the query (`ms=80` → 80), 0 if none.
    private func number(in query: String?) -> Int {
        query.flatMap { $0.split(separator: "=").last.flatMap { Int($0) } } ?? 0
    }
}
