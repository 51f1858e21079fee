internal import Dispatch
internal import FoundationEssentials
internal import Logging
public import Notifications
internal import Sockets
public import Storage
internal import Synchronization
internal import WorkflowModel

#if canImport(Glibc)
    internal import Glibc
#endif

/// How a serving process delivers webhooks (`bomflow serve --webhook-…`).
public struct DeliveryConfiguration: Sendable {
    /// Retries, backoff and the dead state (an attempt's lease is its timeout + 5 s).
    public var policy: RetryPolicy
    /// How long one attempt may take, connecting included (default 10 s).
    public var attemptTimeoutSeconds: Double
    /// Attempts under way at once in this process (default 16).
    public var concurrency: Int
    /// PEM file of the CA certificates to trust for https instead of the system's.
    public var caFile: String?
    /// Deliver at all (`--webhook-delivery off` leaves it to other processes).
    public var enabled: Bool

    public init(
        policy: RetryPolicy = RetryPolicy(), attemptTimeoutSeconds: Double = 10, concurrency: Int = 16,
        caFile: String? = nil, enabled: Bool = true
    ) {
        self.policy = policy
        self.attemptTimeoutSeconds = attemptTimeoutSeconds
        self.concurrency = concurrency
        self.caFile = caFile
        self.enabled = enabled
    }

    /// The lease of an attempt: its timeout and a margin for reporting it.
    var leaseMilliseconds: Int64 { Int64(attemptTimeoutSeconds * 1000) + 5000 }

    /// The transport of this build, or why there is none (built without the trait Webhooks) or
    /// the CA file is unusable.
    public func makeTransport() throws(TransportSetupError) -> any DeliveryTransport {
        #if Webhooks
            return try NIOTransport(caFile: caFile)
        #else
            throw TransportSetupError(
                "this build has no webhook delivery (built without the package trait Webhooks); "
                    + "deliveries stay queued for a process that has it")
        #endif
    }
}

/// One attempt: the request to send and, later, how it ended.
public protocol DeliveryTransport: Sendable {
    /// Sends `body` to `url` and calls `done` once (from any thread) with the outcome.
    func send(
        url: WebhookURL, headers: [(String, String)], body: [UInt8], timeoutSeconds: Double,
        done: @escaping @Sendable (DeliveryReport.Outcome) -> Void)
    /// Ends the transport's connections (after the last attempt).
    func shutdown()
}

/// The delivering thread of a serving process: claims due deliveries from the outbox (the lease
/// makes each one this process's alone), sends them through the transport with at most
/// ``DeliveryConfiguration/concurrency`` under way, and records each outcome in the store
/// (delivered, retried later with backoff, or dead). Several processes and hosts may run one
/// each over the same store.
public final class DeliveryService: @unchecked Sendable {
    let store: any WorkflowStorage
    let configuration: DeliveryConfiguration
    let transport: any DeliveryTransport
    public let counters: DeliveryCounters
    let logger = Logger(label: "bomflow.webhooks")
    /// This process's lease holder name.
    let holder: String
    private let condition = Condition()
    private var reports: [DeliveryReport] = []
    private var inFlight = 0
    private var stopping = false
    /// Set by ``poke()``: something committed in this process.
    private var poked = false
    private let ended = DispatchSemaphore(value: 0)

    public init(
        store: any WorkflowStorage, configuration: DeliveryConfiguration, transport: any DeliveryTransport,
        counters: DeliveryCounters = DeliveryCounters()
    ) {
        self.store = store
        self.configuration = configuration
        self.transport = transport
        self.counters = counters
        var random = SystemRandomNumberGenerator()
        holder =
            "\(ProcessInfo.processInfo.hostName.prefix(64))/\(getpid())/\(String(random.next() as UInt32, radix: 36))"
    }

    public func start() {
        PosixThread.start(name: "bomflow-webhooks") { [self] in loop() }
    }

    /// Wakes the thread at once: this process committed something (which may have queued a
    /// delivery). Other processes' commits are seen at the next look.
    public func poke() {
        condition.lock()
        poked = true
        condition.signal()
        condition.unlock()
    }

    /// Stops claiming, waits up to 3 s for attempts under way and records them; an attempt
    /// still running then is left to its lease (delivered again: at least once).
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        _ = ended.wait(timeout: DispatchTime.now() + 5)
        transport.shutdown()
    }

    /// Idle (nothing under way, nothing found at the last look), the thread looks every 250 ms and
    /// whenever this process commits (``poke()``); busy, every 10 ms. An idle server so costs a
    /// few wake-ups per second, and a delivery queued by this process starts at once.
    private func loop() {
        var lastCounter: Int?
        var nextLook = ContinuousClock.now
        var stopDeadline: ContinuousClock.Instant?
        var busy = false
        while true {
            condition.lock()
            let finished = reports
            reports.removeAll()
            let running = inFlight
            let stop = stopping
            condition.unlock()
            if !finished.isEmpty { record(finished) }
            if stop {
                let deadline = stopDeadline ?? .now + .seconds(3)
                stopDeadline = deadline
                if running == 0 || ContinuousClock.now >= deadline { break }
            } else if running < configuration.concurrency {
                // Look when anything committed (a new delivery), and at least every 250 ms (a
                // retry's time or a lease's end comes without a commit).
                let counter = try? store.changeCounter()
                let now = ContinuousClock.now
                if counter != lastCounter || now >= nextLook {
                    lastCounter = counter
                    nextLook = now + .milliseconds(250)
                    busy = claimAndSend(room: configuration.concurrency - running) || running > 0
                }
            } else {
                busy = true
            }
            condition.lock()
            if reports.isEmpty && !poked {
                let wait = stopping ? 0.05 : busy ? 0.01 : 0.25
                condition.wait(seconds: wait)
            }
            poked = false
            condition.unlock()
        }
        ended.signal()
    }

    /// Claims and sends what is due. - Returns: whether anything was claimed.
    private func claimAndSend(room: Int) -> Bool {
        let tasks: [DeliveryTask]
        do {
            guard try store.hasDueDeliveries() else { return false }
            tasks = try store.claimDeliveries(
                holder: holder, max: room, leaseMilliseconds: configuration.leaseMilliseconds)
        } catch {
            logger.error("cannot claim webhook deliveries", metadata: ["error": "\(error)"])
            PosixThread.sleep(seconds: 1)
            return false
        }
        guard !tasks.isEmpty else { return false }
        condition.lock()
        inFlight += tasks.count
        condition.unlock()
        for task in tasks { send(task) }
        return true
    }

    private func send(_ task: DeliveryTask) {
        let delivery = task.delivery
        let webhook = task.webhook
        var headers: [(String, String)] = [
            ("Content-Type", "application/json"), ("User-Agent", "bomflow"), ("Connection", "close"),
            ("X-Bomflow-Notification-Id", delivery.id.description),
            ("X-Bomflow-Attempt", String(delivery.attempts + 1)),
        ]
        if let secret = webhook.secret {
            let seconds = Int64(Date().timeIntervalSince1970)
            headers.append(
                (
                    DeliverySignature.header,
                    DeliverySignature.value(secret: secret, body: delivery.payload, unixSeconds: seconds)
                ))
        }
        for header in webhook.headers { headers.append((header.name, header.value)) }
        let sequence = delivery.sequence
        let holder = self.holder
        transport.send(
            url: webhook.url, headers: headers, body: delivery.payload,
            timeoutSeconds: configuration.attemptTimeoutSeconds
        ) { [self] outcome in
            condition.lock()
            reports.append(DeliveryReport(sequence: sequence, holder: holder, outcome: outcome))
            inFlight -= 1
            condition.broadcast()
            condition.unlock()
        }
    }

    private func record(_ finished: [DeliveryReport]) {
        let stored: [Delivery]
        do {
            stored = try store.finishDeliveries(finished, policy: configuration.policy)
        } catch {
            // The leases end and the deliveries are attempted again: at least once.
            logger.error(
                "cannot record webhook deliveries; they will be attempted again",
                metadata: ["error": "\(error)", "count": "\(finished.count)"])
            return
        }
        for delivery in stored {
            counters.record(delivery)
            switch delivery.state {
            case .delivered:
                logger.debug("webhook delivered", metadata: ["webhook": "\(delivery.webhook)", "id": "\(delivery.id)"])
            case .pending:
                logger.warning(
                    "webhook delivery failed; retrying",
                    metadata: [
                        "webhook": "\(delivery.webhook)", "sequence": "\(delivery.sequence)",
                        "attempt": "\(delivery.attempts)", "error": "\(delivery.lastError ?? "")",
                        "nextAttemptAt": "\(delivery.dueAt.milliseconds)",
                    ])
            case .dead:
                logger.error(
                    "webhook delivery is dead after its last attempt",
                    metadata: [
                        "webhook": "\(delivery.webhook)", "sequence": "\(delivery.sequence)",
                        "attempts": "\(delivery.attempts)", "error": "\(delivery.lastError ?? "")",
                    ])
            }
        }
    }
}

/// Why the transport could not be set up (a bad CA file, or a build without delivery).
public struct TransportSetupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
