internal import HTTP1
internal import Sockets
internal import Synchronization

/// One epoll loop on its own thread with its own `SO_REUSEPORT` listener: accepts, reads,
/// parses, dispatches to the handler, writes, and runs the timeouts of its connections.
///
/// All connection state is confined to the loop's thread. Other threads reach the loop only
/// through ``deliver(_:to:)`` and ``shutdown()``, which queue a message and signal an eventfd.
final class EventLoop: @unchecked Sendable {
    enum Message {
        case response(ConnectionID, HTTPResponse)
        case shutdown
    }

    static let listenerToken = UInt64.max
    static let wakeupToken = UInt64.max - 1
    static let lingerBytes = 64 * 1024

    let index: Int
    let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler
    unowned let server: HTTPServer
    /// This loop's own per-request counters (no cache line shared with the other loops).
    let counters: LoopCounters

    private let epoll: Epoll
    private let wakeup: EventFD
    private let mailbox = Locked<[Message]>([])
    private let loopThread = Atomic<UInt>(0)

    // Confined to the loop thread from here on.
    private var listener: Int32?
    private var listenerPausedUntil: ContinuousClock.Instant?
    private var reserveDescriptor: Int32?
    private var connections = ConnectionTable()
    private var nextGeneration: UInt64 = 1
    private var draining = false
    private var drainDeadline = ContinuousClock.now
    private var dateSecond: Int64 = -1
    private var dateBytes: [UInt8] = []
    private var lastSweep = ContinuousClock.now
    /// The loop's clock: connection times are durations since `origin` (`Duration` is a plain
    /// value, so storing one in a connection costs no copy through a value witness and no
    /// dynamic exclusivity check), and `now` is read once per wake, not per request.
    private let origin = ContinuousClock.now
    private var now = Duration.zero
    private let sweepInterval: Duration
    /// ``sweepInterval`` in milliseconds, epoll's timeout (worked out once: reading a
    /// `Duration`'s components is a 128-bit division).
    private let waitMilliseconds: Int32

    init(
        index: Int, listener: Int32, configuration: HTTPServerConfiguration, handler: any HTTPHandler,
        server: HTTPServer, counters: LoopCounters
    ) throws(SyscallError) {
        self.index = index
        self.configuration = configuration
        self.handler = handler
        self.server = server
        self.counters = counters
        self.epoll = try Epoll()
        self.wakeup = try EventFD()
        self.listener = listener
        self.reserveDescriptor = Posix.openReserve()
        let shortest = min(
            configuration.headerTimeout, configuration.bodyTimeout, configuration.keepAliveTimeout,
            configuration.sendTimeout)
        self.sweepInterval = max(.milliseconds(10), min(.milliseconds(250), shortest / 4))
        let (seconds, attoseconds) = sweepInterval.components
        self.waitMilliseconds = Int32(max(seconds * 1000 + attoseconds / 1_000_000_000_000_000, 1))
        try epoll.add(listener, events: Posix.eventIn, token: Self.listenerToken)
        try epoll.add(wakeup.fd, events: Posix.eventIn, token: Self.wakeupToken)
    }

    // MARK: Cross-thread entry points

    /// Queues `response` for `connection` (any thread) and wakes the loop; on the loop's own
    /// thread it is handled at once.
    func deliver(_ response: HTTPResponse, to connection: ConnectionID) {
        if System.currentThread == loopThread.load(ordering: .acquiring) {
            handleResponse(response, for: connection)
        } else {
            mailbox.withLock { $0.append(.response(connection, response)) }
            wakeup.signal()
        }
    }

    /// Closes the listener of a loop whose thread never started (a failed ``HTTPServer/start()``).
    func closeUnstarted() {
        if let listener { Posix.close(listener) }
        listener = nil
        if let reserveDescriptor { Posix.close(reserveDescriptor) }
        reserveDescriptor = nil
    }

    /// Starts a graceful shutdown of this loop (any thread).
    func shutdown() {
        mailbox.withLock { $0.append(.shutdown) }
        wakeup.signal()
    }

    // MARK: The loop

    func run() {
        loopThread.store(System.currentThread, ordering: .releasing)
        var tokens = [UInt64](repeating: 0, count: 256)
        var events = [UInt32](repeating: 0, count: 256)
        // The buffer every read of this loop goes through. Owned by this frame and passed down,
        // not a property: reading into a property is a runtime exclusivity check per read.
        var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = epoll.wait(tokens: &tokens, events: &events, timeout: waitMilliseconds)
            now = ContinuousClock.now - origin
            for slot in 0..<count {
                switch tokens[slot] {
                case Self.listenerToken: acceptConnections()
                case Self.wakeupToken: drainMailbox()
                default:
                    let fd = Int32(truncatingIfNeeded: tokens[slot])
                    if let connection = connections[fd] {
                        handleEvents(events[slot], on: connection, readBuffer: &readBuffer)
                    }
                }
            }
            // After a batch, the threads waiting for this core go first (docs/HTTP.md, "Yielding
            // after a batch"): beside busy neighbours (clients, workers on the same cores) a loop
            // that keeps its core until the scheduler preempts it holds every answer of its
            // connections meanwhile (p99 at 64 connections on two shared cores 7.8 → 1.4 ms).
            if count > 0 { PosixThread.yield() }
            let instant = ContinuousClock.now
            if instant - lastSweep >= sweepInterval {
                lastSweep = instant
                now = instant - origin
                sweep(instant: instant)
            }
            if draining && (connections.isEmpty || instant >= drainDeadline) { break }
        }
        for connection in connections.all() { close(connection) }
        if let listener { Posix.close(listener) }
        listener = nil
        if let reserveDescriptor { Posix.close(reserveDescriptor) }
        reserveDescriptor = nil
    }

    private func drainMailbox() {
        wakeup.drain()
        let messages = mailbox.withLock { queue -> [Message] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        for message in messages {
            switch message {
            case .response(let id, let response): handleResponse(response, for: id)
            case .shutdown: beginDraining()
            }
        }
    }

    private func beginDraining() {
        guard !draining else { return }
        draining = true
        drainDeadline = ContinuousClock.now + configuration.shutdownGracePeriod
        if let listener {
            epoll.remove(listener)
            Posix.close(listener)
            self.listener = nil
        }
        listenerPausedUntil = nil
        for connection in connections.all() where isIdle(connection) { close(connection) }
    }

    private func isIdle(_ connection: Connection) -> Bool {
        connection.parser.isIdle && !connection.awaitingResponse && connection.pendingOutputBytes == 0
    }

    // MARK: Accepting

    private func acceptConnections() {
        guard let listener else { return }
        for _ in 0..<64 {
            switch Posix.accept(listener) {
            case .accepted(let fd):
                if server.openConnections.add(1, ordering: .relaxed).newValue > configuration.maxConnections {
                    // Over the cap (H42): a canned 503 into the empty socket buffer, then close.
                    // Counted first: a client that has read the 503 finds it in the statistics.
                    server.openConnections.subtract(1, ordering: .relaxed)
                    server.connectionsRefused.add(1, ordering: .relaxed)
                    let refusal = ResponseSerializer.bytes(
                        HTTPResponse.tooManyConnections, keepAlive: false,
                        date: currentDate())
                    _ = Posix.send(fd, refusal, from: 0)
                    Posix.close(fd)
                    continue
                }
                let connection = Connection(
                    id: ConnectionID(fd: fd, generation: nextGeneration), remoteAddress: Posix.peerAddress(fd),
                    limits: configuration.limits, now: now)
                nextGeneration += 1
                connections[fd] = connection
                connection.interest = Posix.eventIn | Posix.eventReadHangUp
                do {
                    try epoll.add(fd, events: connection.interest, token: UInt64(UInt32(bitPattern: fd)))
                } catch {
                    close(connection)
                }
            case .wouldBlock:
                return
            case .outOfDescriptors:
                // H43: free the reserve descriptor to accept and drop one client, then stop
                // listening for a moment instead of spinning on a readable listener.
                if let reserve = reserveDescriptor {
                    Posix.close(reserve)
                    reserveDescriptor = nil
                    if case .accepted(let fd) = Posix.accept(listener) { Posix.close(fd) }
                    reserveDescriptor = Posix.openReserve()
                }
                server.acceptPauses.add(1, ordering: .relaxed)
                epoll.remove(listener)
                listenerPausedUntil = ContinuousClock.now + .milliseconds(100)
                return
            case .failed:
                return
            }
        }
    }

    // MARK: Connection events

    private func handleEvents(_ events: UInt32, on connection: Connection, readBuffer: inout [UInt8]) {
        if events & (Posix.eventHangUp | Posix.eventError) != 0 && events & Posix.eventIn == 0 {
            close(connection)
            return
        }
        if events & Posix.eventOut != 0 {
            flush(connection)
            if connection.isClosed { return }
            if connection.pendingOutputBytes < configuration.maxPendingOutputBytes { process(connection) }
            if connection.isClosed { return }
        }
        if events & (Posix.eventIn | Posix.eventReadHangUp) != 0 {
            readAvailable(connection, readBuffer: &readBuffer)
        }
    }

    private func readAvailable(_ connection: Connection, readBuffer: inout [UInt8]) {
        for _ in 0..<4 {
            switch Posix.read(connection.id.fd, into: &readBuffer) {
            case .transferred(let count):
                if connection.lingering {
                    connection.lingerDiscarded += count
                    if connection.lingerDiscarded > Self.lingerBytes { close(connection) }
                    if connection.isClosed { return }
                    continue
                }
                connection.parser.append(readBuffer[0..<count])
                connection.lastActivity = now
                if count < readBuffer.count { break }
                continue
            case .endOfStream:
                if connection.lingering {
                    close(connection)
                    return
                }
                connection.peerClosedWriting = true
            case .wouldBlock:
                break
            case .failed:
                close(connection)
                return
            }
            break
        }
        if connection.lingering { return }
        process(connection)
    }

    /// Parses and dispatches buffered requests, one at a time, in order. Stops while a response
    /// is awaited, before closing, or while the pending output is over its bound; EPOLLOUT
    /// progress resumes it.
    private func process(_ connection: Connection) {
        guard !connection.isProcessing, !connection.isClosed, !connection.lingering else { return }
        connection.isProcessing = true
        defer { connection.isProcessing = false }
        while true {
            var blockedByOutput = false
            parsing: while !connection.awaitingResponse && !connection.closeAfterOutput {
                guard connection.pendingOutputBytes < configuration.maxPendingOutputBytes else {
                    blockedByOutput = true
                    break parsing
                }
                switch connection.parser.next() {
                case .needMoreBytes:
                    break parsing
                case .head(var head, let expectContinue):
                    head.remoteAddress = connection.remoteAddress
                    if let refusal = handler.respondBeforeBody(to: head) {
                        queue(
                            refusal, on: connection, isHead: head.method == .head, keepAlive: false,
                            version: head.version)
                        break parsing
                    }
                    if expectContinue { connection.output.append(contentsOf: ResponseSerializer.continueResponse) }
                case .request(var request):
                    request.remoteAddress = connection.remoteAddress
                    connection.awaitingResponse = true
                    connection.respondingToHead = request.method == .head
                    connection.responseVersion = request.version
                    connection.responseKeepAlive =
                        request.keepAlive && !draining
                        && connection.requestsServed + 1 < configuration.maxRequestsPerConnection
                    counters.requestsHandled.add(1, ordering: .relaxed)
                    let responder = connection.responder ?? HTTPResponder(loop: self, connection: connection.id)
                    connection.responder = responder
                    handler.handle(request, responder: responder)
                    if connection.isClosed { return }
                case .failed(let error):
                    counters.parseErrors.add(1, ordering: .relaxed)
                    queue(
                        HTTPResponse.problem(for: error), on: connection, isHead: false,
                        keepAlive: false, version: .http11)
                    break parsing
                }
            }
            updateHeadTimer(connection)
            if connection.peerClosedWriting && !connection.awaitingResponse && connection.pendingOutputBytes == 0
                && !connection.closeAfterOutput && !blockedByOutput
            {
                // The client sent everything it will send; nothing more can complete.
                close(connection)
                return
            }
            flush(connection)
            // Go on only if parsing stopped for lack of output room and the send made room.
            guard blockedByOutput, !connection.isClosed, !connection.lingering,
                connection.pendingOutputBytes < configuration.maxPendingOutputBytes
            else { return }
        }
    }

    private func updateHeadTimer(_ connection: Connection) {
        if connection.parser.isIdle || connection.parser.hasCompleteHead || connection.awaitingResponse {
            connection.headStartedAt = nil
        } else if connection.headStartedAt == nil {
            connection.headStartedAt = now
        }
    }

    private func handleResponse(_ response: HTTPResponse, for id: ConnectionID) {
        guard let connection = connections[id.fd], connection.id == id, connection.awaitingResponse,
            !connection.isClosed
        else {
            return
        }
        connection.awaitingResponse = false
        connection.requestsServed += 1
        connection.lastActivity = now
        queue(
            response, on: connection, isHead: connection.respondingToHead,
            keepAlive: connection.responseKeepAlive && !draining, version: connection.responseVersion)
        if connection.isProcessing { return }
        flush(connection)
        if !connection.isClosed && !connection.closeAfterOutput {
            if draining && isIdle(connection) {
                close(connection)
                return
            }
            process(connection)
        }
    }

    private func queue(
        _ response: HTTPResponse, on connection: Connection, isHead: Bool, keepAlive: Bool, version: HTTPVersion
    ) {
        let date = currentDate()
        if Self.append(
            response, isHead: isHead, keepAlive: keepAlive, version: version, date: date, to: &connection.output,
            consumed: connection.outputOffset)
        {
            connection.outputOffset = 0
        }
        if !keepAlive { connection.closeAfterOutput = true }
    }

    /// Serializes `response` onto `output`, first emptying it when all of it (`consumed` bytes)
    /// was sent; says whether it did. One access to the output for both: each access to a
    /// connection's output from the loop is a runtime exclusivity check.
    private static func append(
        _ response: HTTPResponse, isHead: Bool, keepAlive: Bool, version: HTTPVersion, date: [UInt8],
        to output: inout [UInt8], consumed: Int
    ) -> Bool {
        let emptied = consumed == output.count
        if emptied { output.removeAll(keepingCapacity: true) }
        ResponseSerializer.serialize(
            response, isHead: isHead, keepAlive: keepAlive, version: version, date: date, into: &output)
        return emptied
    }

    private func flush(_ connection: Connection) {
        guard !connection.isClosed else { return }
        let start = connection.outputOffset
        switch Self.drain(&connection.output, to: connection.id.fd, from: start) {
        case .blocked(let offset):
            connection.outputOffset = offset
            if offset > start { connection.lastSendProgress = now }
            updateInterest(connection)
            return
        case .failed:
            close(connection)
            return
        case .sent:
            break
        }
        connection.outputOffset = 0
        connection.lastSendProgress = now
        if connection.closeAfterOutput {
            startLingering(connection)
            return
        }
        if connection.peerClosedWriting && !connection.awaitingResponse && connection.parser.isIdle {
            close(connection)
            return
        }
        updateInterest(connection)
    }

    /// How far ``drain(_:to:from:)`` got.
    private enum Drained {
        /// Everything was sent and the output emptied.
        case sent
        /// The socket is full; sent up to this offset.
        case blocked(Int)
        /// The peer is gone or the send failed.
        case failed
    }

    /// Sends `output` from `offset` until all of it is sent (then empties it, keeping a buffer of
    /// up to 64 KiB) or the socket is full. One access to the connection's output for the whole
    /// send: each access from the loop is a runtime exclusivity check.
    private static func drain(_ output: inout [UInt8], to fd: Int32, from offset: Int) -> Drained {
        var offset = offset
        while offset < output.count {
            switch Posix.send(fd, output, from: offset) {
            case .transferred(let count): offset += count
            case .wouldBlock: return .blocked(offset)
            case .endOfStream, .failed: return .failed
            }
        }
        output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
        return .sent
    }

    private func startLingering(_ connection: Connection) {
        Posix.shutdownWrite(connection.id.fd)
        connection.lingering = true
        connection.lingerDeadline = now + .seconds(1)
        if connection.peerClosedWriting {
            close(connection)
            return
        }
        updateInterest(connection)
    }

    private func updateInterest(_ connection: Connection) {
        guard !connection.isClosed else { return }
        var wanted: UInt32 = 0
        // Read once: each read of the output array is a runtime exclusivity check.
        let pending = connection.pendingOutputBytes
        let wantsRead =
            connection.lingering
            || (!connection.awaitingResponse && !connection.closeAfterOutput && !connection.peerClosedWriting
                && pending < configuration.maxPendingOutputBytes)
        if wantsRead { wanted |= Posix.eventIn }
        if !connection.peerClosedWriting { wanted |= Posix.eventReadHangUp }
        if pending > 0 { wanted |= Posix.eventOut }
        if wanted != connection.interest {
            connection.interest = wanted
            epoll.modify(connection.id.fd, events: wanted, token: UInt64(UInt32(bitPattern: connection.id.fd)))
        }
    }

    private func close(_ connection: Connection) {
        guard !connection.isClosed else { return }
        connection.isClosed = true
        connections[connection.id.fd] = nil
        Posix.close(connection.id.fd)
        server.openConnections.subtract(1, ordering: .relaxed)
    }

    // MARK: Timers

    private func sweep(instant: ContinuousClock.Instant) {
        if let paused = listenerPausedUntil, instant >= paused, let listener {
            listenerPausedUntil = nil
            try? epoll.add(listener, events: Posix.eventIn, token: Self.listenerToken)
        }
        for connection in connections.all() {
            if connection.lingering {
                if now >= connection.lingerDeadline { close(connection) }
                continue
            }
            if connection.pendingOutputBytes > 0 && now - connection.lastSendProgress > configuration.sendTimeout {
                counters.timeouts.add(1, ordering: .relaxed)
                close(connection)
                continue
            }
            if connection.awaitingResponse || connection.closeAfterOutput { continue }
            if let started = connection.headStartedAt, now - started > configuration.headerTimeout {
                timeOut(connection)
            } else if connection.parser.hasCompleteHead && now - connection.lastActivity > configuration.bodyTimeout {
                timeOut(connection)
            } else if isIdle(connection) && (draining || now - connection.lastActivity > configuration.keepAliveTimeout)
            {
                close(connection)
            }
        }
    }

    /// 408 and close (H29, H30).
    private func timeOut(_ connection: Connection) {
        counters.timeouts.add(1, ordering: .relaxed)
        queue(
            HTTPResponse.layerProblem(
                .requestTimeout, kind: "request-timeout", detail: "The request did not arrive in time"), on: connection,
            isHead: false, keepAlive: false,
            version: .http11)
        flush(connection)
    }

    private func currentDate() -> [UInt8] {
        let seconds = WallClock.secondsSinceEpoch()
        if seconds != dateSecond {
            dateSecond = seconds
            dateBytes = Array(HTTPDate.format(epochSeconds: seconds).utf8)
        }
        return dateBytes
    }
}
