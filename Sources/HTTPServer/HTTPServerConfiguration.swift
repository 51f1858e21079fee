public import HTTP1
internal import Sockets

/// Settings of an ``HTTPServer``; every limit has its status documented in docs/HTTP.md.
public struct HTTPServerConfiguration: Sendable {
    /// The address to bind: an IPv4 or IPv6 literal. Default `127.0.0.1`.
    public var host = "127.0.0.1"
    /// The port; 0 picks a free one (``HTTPServer/port`` tells which). Default 8080.
    public var port = 8080
    /// Event loops (threads), each with its own `SO_REUSEPORT` listener. Default: one per core.
    public var loops = HTTPServerConfiguration.coreCount
    /// Parser limits (request line, headers, body).
    public var limits = HTTPLimits()
    /// From the first byte of a request until its head is complete; then 408 and close. 10 s.
    public var headerTimeout: Duration = .seconds(10)
    /// Without body bytes arriving while a body is expected; then 408 and close. 10 s.
    public var bodyTimeout: Duration = .seconds(10)
    /// An idle keep-alive connection is closed silently after this. 30 s.
    public var keepAliveTimeout: Duration = .seconds(30)
    /// A client that reads nothing of a pending response for this long is disconnected. 30 s.
    public var sendTimeout: Duration = .seconds(30)
    /// Open connections per process; the next one gets 503 and is closed. 1,024.
    public var maxConnections = 1024
    /// Requests served on one connection before it is closed (`Connection: close`). 1,000.
    public var maxRequestsPerConnection = 1000
    /// Pending output bytes on a connection above which no further pipelined request is
    /// processed until the client has read (bounds per-connection memory). 256 KiB.
    public var maxPendingOutputBytes = 256 * 1024
    /// On shutdown, in-flight requests get this long to finish. 10 s.
    public var shutdownGracePeriod: Duration = .seconds(10)
    /// Listen backlog. 1,024.
    public var backlog: Int32 = 1024

    /// The defaults.
    public init() {}

    /// The number of online processors.
    public static var coreCount: Int { max(1, System.activeProcessorCount) }
}
