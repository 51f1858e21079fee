internal import Dispatch
public import Sockets
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#endif

/// An HTTP/1.1 server on POSIX sockets and epoll: one loop per core, each with its own
/// `SO_REUSEPORT` listener, so several processes can also serve one port.
///
/// ```swift
/// let server = HTTPServer(configuration: configuration, handler: MyHandler())
/// let port = try server.start()
/// server.waitUntilSignalled()   // SIGTERM/SIGINT: graceful shutdown, then return
/// ```
public final class HTTPServer: Sendable {
    /// The configuration it was created with.
    public let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler

    /// Counted once per connection, by whichever loop accepts or closes it (the limit on open
    /// connections is the process's, so this one is shared).
    let openConnections = Atomic<Int>(0)
    let connectionsRefused = Atomic<Int>(0)
    let acceptPauses = Atomic<Int>(0)
    /// Counted per request, each loop into its own (a counter both loops add to on every
    /// request kept a cache line moving between the cores, with a strong retain of this
    /// object through the loops' `unowned` reference each time); summed when read.
    let loopCounters: [LoopCounters]

    /// Counters of this server since it started.
    public struct Statistics: Sendable, Equatable {
        /// Open connections of this process, across loops.
        public var openConnections: Int
        /// Connections refused with 503 because ``HTTPServerConfiguration/maxConnections`` was reached.
        public var connectionsRefused: Int
        /// Requests handed to the handler.
        public var requestsHandled: Int
        /// Requests answered with a parse error (4xx/5xx from the parser).
        public var parseErrors: Int
        /// Connections closed, or answered 408, by a timeout.
        public var timeouts: Int
        /// Times accepting paused because the process was out of file descriptors.
        public var acceptPauses: Int
    }

    /// A snapshot of the counters.
    public var statistics: Statistics {
        Statistics(
            openConnections: openConnections.load(ordering: .relaxed),
            connectionsRefused: connectionsRefused.load(ordering: .relaxed),
            requestsHandled: loopCounters.reduce(0) { $0 + $1.requestsHandled.load(ordering: .relaxed) },
            parseErrors: loopCounters.reduce(0) { $0 + $1.parseErrors.load(ordering: .relaxed) },
            timeouts: loopCounters.reduce(0) { $0 + $1.timeouts.load(ordering: .relaxed) },
            acceptPauses: acceptPauses.load(ordering: .relaxed))
    }

    private let state = Locked<State>(State())
    private let stopped = DispatchGroup()

    private struct State: @unchecked Sendable {
        var loops: [EventLoop] = []
        var port: Int?
        var shuttingDown = false
        var catchesSignals = false
    }

    /// Creates a server; nothing is bound until ``start()``.
    public init(configuration: HTTPServerConfiguration = HTTPServerConfiguration(), handler: any HTTPHandler) {
        self.configuration = configuration
        self.handler = handler
        self.loopCounters = (0..<max(1, configuration.loops)).map { _ in LoopCounters() }
    }

    /// Binds the listeners and starts the loops.
    /// - Returns: the bound port (useful with port 0).
    /// - Throws: ``SyscallError`` when the address cannot be bound (in use, permission, bad host).
    @discardableResult
    public func start() throws(SyscallError) -> Int {
        Posix.ignoreSIGPIPE()
        let count = loopCounters.count
        var port = configuration.port
        var loops: [EventLoop] = []
        for index in 0..<count {
            do {
                let listener = try Posix.listen(
                    host: configuration.host, port: port, backlog: configuration.backlog, reusePort: true)
                port = listener.port
                do {
                    loops.append(
                        try EventLoop(
                            index: index, listener: listener.fd, configuration: configuration, handler: handler,
                            server: self, counters: loopCounters[index]))
                } catch {
                    Posix.close(listener.fd)
                    throw error
                }
            } catch let error as SyscallError {
                for loop in loops { loop.closeUnstarted() }
                throw error
            } catch {
                preconditionFailure("unexpected error \(error)")
            }
        }
        let shutDownEarly = state.withLock { state -> Bool in
            state.loops = loops
            state.port = port
            return state.shuttingDown
        }
        for loop in loops {
            stopped.enter()
            PosixThread.start(name: "http-loop-\(loop.index)", stackSize: 1 << 20) { [stopped] in
                loop.run()
                stopped.leave()
            }
        }
        // A signal that arrived between shutdownOnSignals() and here found no loops to stop.
        if shutDownEarly { shutdown() }
        return port
    }

    /// The bound port, once started.
    public var port: Int? { state.withLock { $0.port } }

    /// Starts a graceful shutdown: stop accepting, close idle keep-alive connections, answer
    /// in-flight requests with `Connection: close` within ``HTTPServerConfiguration/shutdownGracePeriod``,
    /// then close the rest. Returns at once; ``waitUntilStopped()`` waits for the end.
    public func shutdown() {
        let (loops, first) = state.withLock { state -> ([EventLoop], Bool) in
            defer { state.shuttingDown = true }
            return (state.loops, !state.shuttingDown)
        }
        if first { handler.serverWillShutDown() }
        for loop in loops { loop.shutdown() }
    }

    /// Blocks until every loop has stopped.
    public func waitUntilStopped() { stopped.wait() }

    /// Shuts down gracefully on SIGTERM or SIGINT from now on. Call it before ``start()`` when a
    /// caller may signal as soon as the server answers (a test harness does): a signal between
    /// ``start()`` and ``waitUntilSignalled()`` would otherwise be lost. Calling it again has no effect.
    public func shutdownOnSignals() {
        let first = state.withLock { state in
            defer { state.catchesSignals = true }
            return !state.catchesSignals
        }
        // In effect when this returns (a sigaction handler, not a dispatch source registered later).
        if first { ShutdownSignals.onSignal { [weak self] in self?.shutdown() } }
    }

    /// Shuts down gracefully on SIGTERM or SIGINT (``shutdownOnSignals()``), and returns when
    /// every loop has stopped.
    public func waitUntilSignalled() {
        shutdownOnSignals()
        waitUntilStopped()
    }
}

/// One loop's per-request counters, on cache lines of their own.
final class LoopCounters: Sendable {
    let requestsHandled = Atomic<Int>(0)
    let parseErrors = Atomic<Int>(0)
    let timeouts = Atomic<Int>(0)
    /// Keeps the next loop's counters (allocated right after) off these counters' cache line.
    private let padding = CacheLinePadding()
}
