internal import Dispatch
internal import FoundationEssentials
internal import Logging
internal import Sockets
public import Storage
internal import Synchronization
public import WorkflowModel

/// The writer threads of a process: they take every write queued by the HTTP loops, commit
/// them in one store transaction and one sync per group (group commit), then answer each.
/// LMDB has one writer at a time, so it gets one writer thread; a store whose transactions wait
/// on another server (PostgreSQL: row locks, each group on its own connection) gets several, so
/// that groups overlap their round trips and commits.
///
/// A request's operations stay together in one transaction; a refused operation fails alone
/// (``WorkflowStorage/perform(_:)``). A storage failure fails the whole group,
/// and nothing of it is acknowledged. Nothing waits inside a write transaction: the queue is
/// filled under a lock, the transaction runs outside it.
public final class WriteQueue: @unchecked Sendable {
    /// What a submitter gets back: one result per operation, or the storage failure of the group.
    public typealias Completion = @Sendable (Result<[Result<WriteOutcome, WorkflowError>], StoreError>) -> Void

    /// One request's operations on their way through the queue. Exactly one of the writer (which
    /// admits it once the write lock is held) and the watchdog (which gives up on it after the
    /// write timeout) wins its state, so a write answered 503 is never applied later.
    private final class Ticket: Sendable {
        let operations: [WriteOperation]
        let completion: Completion
        let enqueued = ContinuousClock.now
        /// 0 waiting, 1 admitted by the writer, 2 given up by the watchdog.
        let state = Atomic<UInt8>(0)

        init(_ operations: [WriteOperation], _ completion: @escaping Completion) {
            self.operations = operations
            self.completion = completion
        }

        func claim(_ to: UInt8) -> Bool {
            state.compareExchange(expected: 0, desired: to, ordering: .acquiringAndReleasing).exchanged
        }
    }

    private let store: any WorkflowStorage
    private let condition = Condition()
    private var pending: [Ticket] = []
    /// The group each writer is committing (or waiting for the lock to commit).
    private var inFlight: [[Ticket]]
    private var stopping = false
    private var running = true
    /// Writer threads still running (the last to end marks the queue stopped).
    private var activeWriters: Int
    private let maxOperationsPerCommit: Int
    private let writeTimeout: Duration
    private let onFatal: @Sendable (StoreError) -> Void
    /// Called after each committed group (``afterEachCommit(_:)``).
    private let commitObservers = Mutex<[@Sendable () -> Void]>([])
    private let finished = DispatchSemaphore(value: 0)
    /// Wakes the watchdog when writes arrive at an idle queue (it sleeps while nothing is queued).
    private let watchdogWake = DispatchSemaphore(value: 0)
    /// Completions (rendering a response is part of them) run on a thread of their own, in
    /// commit order, so that the writer thread starts the next transaction while the last group
    /// is answered. A plain thread, not a dispatch queue: a process has a fixed set of threads
    /// (libdispatch may add pool threads under a burst).
    private let answers = WorkThreads(count: 1, name: "bomflow-answers")
    private let logger = Logger(label: "bomflow.writer")

    private let commitCount = Atomic<Int>(0)
    private let operationCount = Atomic<Int>(0)
    private let timeoutCount = Atomic<Int>(0)
    /// Nanoseconds the writer spent waiting for the write lock, in total.
    private let lockWaitNanoseconds = Atomic<Int>(0)
    /// When the writer began waiting for the lock (ContinuousClock nanoseconds since `origin`), 0 when not waiting.
    private let lockWaitStarted = Atomic<Int>(0)
    private let origin = ContinuousClock.now

    /// Calls `body` on the writer's thread after each group it commits (e.g. to wake the webhook
    /// delivery at once instead of at its next look). `body` must not block.
    public func afterEachCommit(_ body: @escaping @Sendable () -> Void) {
        commitObservers.withLock { $0.append(body) }
    }

    /// Group commits performed (read from any thread, for metrics).
    public var commits: Int { commitCount.load(ordering: .relaxed) }
    /// Operations committed (read from any thread, for metrics).
    public var operationsWritten: Int { operationCount.load(ordering: .relaxed) }
    /// Requests answered 503 because the write lock was not had within the write timeout.
    public var writesTimedOut: Int { timeoutCount.load(ordering: .relaxed) }
    /// Seconds the writer waited for the write lock, in total (for metrics).
    public var lockWaitSeconds: Double { Double(lockWaitNanoseconds.load(ordering: .relaxed)) / 1e9 }

    /// How long the writer has been waiting for the write lock now, or nil when it is not.
    public var currentLockWait: Duration? {
        let started = lockWaitStarted.load(ordering: .relaxed)
        guard started != 0 else { return nil }
        return (ContinuousClock.now - origin) - .nanoseconds(started)
    }

    /// The write lock has been waited for longer than the write timeout: the holder is stalled.
    public var isStalled: Bool { currentLockWait.map { $0 > writeTimeout } ?? false }

    /// Starts the writer thread and its watchdog.
    /// - Parameters:
    ///   - maxOperationsPerCommit: a group never holds more operations than this (one request's
    ///     operations are never split). Default 512.
    ///   - writeTimeout: a request whose write has not had the write lock after this long is
    ///     answered 503 (`Retry-After`) and will not be applied. Default 10 s.
    ///   - writers: writer threads, each committing its own group; default
    ///     ``defaultWriters(for:)``. Groups of different writers commit in any order; one
    ///     request's operations stay in one group, and a client that waits for an answer before
    ///     its next write sees its writes in order.
    ///   - onFatal: called with the error when the store failed fatally (`MDB_PANIC`): the
    ///     process must stop taking writes and exit non-zero. A full disk is not fatal.
    public init(
        store: any WorkflowStorage, maxOperationsPerCommit: Int = 512, writeTimeout: Duration = .seconds(10),
        writers: Int? = nil, onFatal: @escaping @Sendable (StoreError) -> Void = { _ in }
    ) {
        self.store = store
        self.maxOperationsPerCommit = maxOperationsPerCommit
        self.writeTimeout = writeTimeout
        self.onFatal = onFatal
        let writers = max(1, writers ?? Self.defaultWriters(for: store))
        inFlight = Array(repeating: [], count: writers)
        activeWriters = writers
        for index in 0..<writers {
            PosixThread.start(name: writers == 1 ? "bomflow-writer" : "bomflow-writer-\(index + 1)") { [self] in
                run(writer: index)
            }
        }
        PosixThread.start(name: "bomflow-watchdog") { [self] in watch() }
    }

    /// One writer for a store whose writes are serialised anyway (LMDB's single write lock); 4 for
    /// a store whose calls wait on another server (PostgreSQL), so that groups on separate
    /// connections overlap their round trips and commits (``WorkflowStorage/callsMayBlock``).
    public static func defaultWriters(for store: any WorkflowStorage) -> Int { store.callsMayBlock ? 4 : 1 }

    /// Queues `operations` (one request's); `completion` runs after the commit, on the thread
    /// that answers groups in commit order (or with 503 when the write timeout passed first).
    public func submit(_ operations: [WriteOperation], completion: @escaping Completion) {
        condition.lock()
        guard running && !stopping else {
            condition.unlock()
            completion(.failure(.unavailable("the server is shutting down")))
            return
        }
        let wasIdle = pending.isEmpty && inFlight.allSatisfy(\.isEmpty)
        pending.append(Ticket(operations, completion))
        condition.signal()
        condition.unlock()
        if wasIdle { watchdogWake.signal() }
    }

    /// ``submit(_:completion:)`` for a thread that may block (the simulator): waits for the
    /// commit and returns its result. Never call it on an event loop.
    public func submitAndWait(_ operations: [WriteOperation]) -> Result<
        [Result<WriteOutcome, WorkflowError>], StoreError
    > {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<[Result<WriteOutcome, WorkflowError>], StoreError>?>(nil)
        submit(operations) { outcome in
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return result.withLock { $0 } ?? .failure(.unavailable("the write queue gave no answer"))
    }

    /// Commits what is queued, then stops the threads; later submissions are refused (503).
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
        watchdogWake.signal()
        answers.stop(wait: true)
    }

    private func run(writer: Int) {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty && stopping {
                activeWriters -= 1
                let last = activeWriters == 0
                if last { running = false }
                condition.broadcast()
                condition.unlock()
                if last { finished.signal() }
                return
            }
            var group: [Ticket] = []
            var count = 0
            while let first = pending.first, group.isEmpty || count + first.operations.count <= maxOperationsPerCommit {
                group.append(pending.removeFirst())
                count += first.operations.count
            }
            inFlight[writer] = group
            condition.unlock()
            commit(group)
            condition.lock()
            inFlight[writer] = []
            condition.unlock()
        }
    }

    private func commit(_ group: [Ticket]) {
        let waitStart = ContinuousClock.now
        lockWaitStarted.store(max(1, nanoseconds(waitStart - origin)), ordering: .relaxed)
        do {
            let results = try store.perform(group.map(\.operations)) { [self] in
                lockWaitStarted.store(0, ordering: .relaxed)
                lockWaitNanoseconds.add(nanoseconds(ContinuousClock.now - waitStart), ordering: .relaxed)
                return group.map { $0.claim(1) }
            }
            lockWaitStarted.store(0, ordering: .relaxed)
            let admitted = zip(group, results).compactMap { ticket, result in result.map { (ticket, $0) } }
            commitCount.add(1, ordering: .relaxed)
            operationCount.add(admitted.reduce(0) { $0 + $1.1.count }, ordering: .relaxed)
            answers.post { for (ticket, result) in admitted { ticket.completion(.success(result)) } }
            for observer in commitObservers.withLock({ $0 }) { observer() }
        } catch {
            lockWaitStarted.store(0, ordering: .relaxed)
            // Admitted or not yet: nothing of the group was written. A ticket the watchdog took
            // has had its answer.
            let unanswered = group.filter { $0.claim(1) || $0.state.load(ordering: .relaxed) == 1 }
            answers.post { for ticket in unanswered { ticket.completion(.failure(error)) } }
            if store.isFatallyFailed { onFatal(error) }
        }
    }

    /// The watchdog: answers 503 to every request that has waited longer than the write timeout
    /// (the write lock is held elsewhere, e.g. by a stopped process), and says once per stall
    /// who holds the lock.
    private func watch() {
        var stallLogged = false
        while true {
            condition.lock()
            let idle = pending.isEmpty && inFlight.allSatisfy(\.isEmpty)
            let ended = !running
            condition.unlock()
            if ended { return }
            if idle && !stallLogged {
                watchdogWake.wait()
                continue
            }
            PosixThread.sleep(seconds: 0.1)
            condition.lock()
            let now = ContinuousClock.now
            var expired: [Ticket] = []
            pending.removeAll { ticket in
                guard now - ticket.enqueued > writeTimeout, ticket.claim(2) else { return false }
                expired.append(ticket)
                return true
            }
            for ticket in inFlight.joined() where now - ticket.enqueued > writeTimeout && ticket.claim(2) {
                expired.append(ticket)
            }
            condition.unlock()
            if !expired.isEmpty {
                timeoutCount.add(expired.count, ordering: .relaxed)
                let detail = stallDetail()
                answers.post {
                    for ticket in expired { ticket.completion(.failure(.unavailable(detail))) }
                }
            }
            if isStalled && !stallLogged {
                stallLogged = true
                logger.warning("writes are stalled", metadata: ["detail": "\(stallDetail())"])
            } else if stallLogged, currentLockWait == nil {
                stallLogged = false
                logger.notice("the write lock is free again; writes go on")
            }
        }
    }

    /// Why writes wait: the holder of the write lock, when known, and for how long.
    private func stallDetail() -> String {
        let seconds = currentLockWait.map { Int($0.components.seconds) } ?? Int((writeTimeout).components.seconds)
        if let holder = store.writeLockHolder() {
            return
                "the write lock is held by process \(holder.pid) and this write waited \(seconds) s for it; it was not applied"
        }
        return "this write waited \(seconds) s for the write lock without getting it; it was not applied"
    }

    private func nanoseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds) * 1_000_000_000 + Int(duration.components.attoseconds / 1_000_000_000)
    }
}
