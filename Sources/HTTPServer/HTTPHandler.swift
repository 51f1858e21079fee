public import HTTP1

/// What the server calls for each request. Implementations never see a socket, so they are
/// tested by calling them directly (STYLE.md rule 9).
public protocol HTTPHandler: Sendable {
    /// Handles a complete request. Answer exactly once through `responder`: right away on the
    /// calling (event-loop) thread, or later from any thread (a group-committed write, a
    /// long-poll). Do not block: the loop serves other connections.
    func handle(_ request: HTTPRequest, responder: HTTPResponder)

    /// Called when the head of a request with a body is complete, before the body is read.
    /// Return a response to refuse the request early (401, 413, …); the server sends it without
    /// `100 Continue` and closes the connection afterwards (RFC 9112 §9.3). Default: nil.
    func respondBeforeBody(to head: HTTPRequest) -> HTTPResponse?

    /// Called once when a graceful shutdown begins, before in-flight requests are waited for:
    /// a handler holding long-polls answers them now. Default: nothing.
    func serverWillShutDown()
}

extension HTTPHandler {
    public func respondBeforeBody(to head: HTTPRequest) -> HTTPResponse? { nil }
    public func serverWillShutDown() {}
}

/// Delivers the response to one request, from any thread, once.
///
/// Answers are written in request order on their connection, so a pipelined request is not
/// started before the previous one was answered. A response for a connection that has since
/// closed is dropped.
public struct HTTPResponder: Sendable {
    /// ``respond(_:)`` as a closure, made once per connection (at its first request): a handler
    /// that passes it on as its answer callback allocates nothing per request.
    public let send: @Sendable (HTTPResponse) -> Void

    init(loop: EventLoop, connection: ConnectionID) {
        send = { response in loop.deliver(response, to: connection) }
    }

    /// Sends `response`. Calling it more than once has no effect after the first call.
    public func respond(_ response: HTTPResponse) { send(response) }
}

/// A connection's identity: the fd and a generation, so that a late response never reaches a
/// new connection that reused the fd.
struct ConnectionID: Hashable, Sendable {
    let fd: Int32
    let generation: UInt64
}
