internal import HTTP1

/// One client connection's state. Confined to its event loop's thread.
///
/// Life cycle: reading a request (head, then body) → awaiting the handler's response → writing
/// it → reading the next request (keep-alive) or closing. A close after a final response is
/// staged (RFC 9112 §9.6, H36): shut down writing, read and discard what the client still sends
/// for up to 1 s or 64 KiB, then close, so the client sees the response instead of a reset.
final class Connection {
    let id: ConnectionID
    /// The client's IP address, read once at accept.
    let remoteAddress: String?
    var parser: RequestParser
    var output: [UInt8] = []
    var outputOffset = 0
    /// A request was handed to the handler and its response has not come back.
    var awaitingResponse = false
    var respondingToHead = false
    var responseKeepAlive = true
    var responseVersion = HTTPVersion.http11
    /// Write what is pending, then close (parse error, `Connection: close`, 408, …).
    var closeAfterOutput = false
    /// The client shut down its sending side (EOF or EPOLLRDHUP): finish, then close.
    var peerClosedWriting = false
    var lingering = false
    /// Times here are durations since the event loop started, on its clock read once per wake.
    var lingerDeadline = Duration.zero
    var lingerDiscarded = 0
    var interest: UInt32 = 0
    var requestsServed = 0
    /// Set while the head of a request is incomplete (the header timeout counts from it).
    var headStartedAt: Duration?
    /// Last time bytes arrived or a response was completed (body and keep-alive timeouts).
    var lastActivity: Duration
    /// Last time the client took some of the pending output (send timeout).
    var lastSendProgress: Duration
    var isProcessing = false
    var isClosed = false
    /// This connection's responder, made at its first request and given to every one after it.
    var responder: HTTPResponder?

    init(id: ConnectionID, remoteAddress: String?, limits: HTTPLimits, now: Duration) {
        self.id = id
        self.remoteAddress = remoteAddress
        self.parser = RequestParser(limits: limits)
        self.lastActivity = now
        self.lastSendProgress = now
    }

    var pendingOutputBytes: Int { output.count - outputOffset }
}

/// The loop's connections by descriptor: an array indexed by the descriptor (descriptors are
/// small integers the kernel reuses lowest first), so finding a connection for an event or a
/// response is one index instead of a dictionary's hash and probe.
struct ConnectionTable {
    private var slots: [Connection?] = []
    /// The number of connections.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    subscript(fd: Int32) -> Connection? {
        get {
            let index = Int(fd)
            return index >= 0 && index < slots.count ? slots[index] : nil
        }
        set {
            let index = Int(fd)
            guard index >= 0 else { return }
            if index >= slots.count {
                guard newValue != nil else { return }
                slots.append(contentsOf: repeatElement(nil, count: max(index + 1 - slots.count, slots.count)))
            }
            if slots[index] == nil && newValue != nil { count += 1 }
            if slots[index] != nil && newValue == nil { count -= 1 }
            slots[index] = newValue
        }
    }

    /// Every connection, in descriptor order (a copy: closing them while iterating is fine).
    func all() -> [Connection] { slots.compactMap { $0 } }
}
