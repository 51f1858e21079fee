internal import HTTP1
internal import Interchange
internal import Logging
internal import Sockets
internal import Storage
internal import WorkflowModel

/// Long-polls waiting for a change: watches (`GET …/token/{uuid}?wait=&since=`) and claims with
/// `waitSeconds`. A waiting request costs an entry here, no thread: one thread per process
/// notices changes by reading the environment's last transaction ID every
/// ``checkInterval`` (a word in the shared lock file, so commits of *other* processes count too)
/// and re-examines only the waiters that have not seen the current value: a watch reads its
/// workflow's version, a claim looks for an entry in its ready queues and only then claims
/// through the write queue. The thread sleeps on a condition while nobody waits.
final class Waiters: @unchecked Sendable {
    /// How often changes are looked for while someone waits.
    static let checkInterval = 0.02
    /// Waiting requests a process holds at most; more get 503.
    static let capacity = 10_000

    enum Kind {
        case watch(token: Token, since: UInt64)
        /// A claim (``WriteOperation/claim(steps:worker:leaseMilliseconds:max:)``, attributed).
        case claim(WriteOperation)
        /// A tail of a workflow's history: answered when it has events after `after`.
        case history(token: Token, after: UInt64, limit: Int)
    }

    private struct Waiter {
        let kind: Kind
        let deadline: ContinuousClock.Instant
        let respond: WorkflowService.Respond
        /// The client's `X-Request-Id`, for an error answered after the wait.
        let requestID: String?
        /// The change counter this waiter was last examined at.
        var seen: Int
        /// A claim of this waiter is in the write queue.
        var busy = false
    }

    private let condition = Condition()
    private var waiters: [Int: Waiter] = [:]
    private var nextID = 0
    private var started = false
    private var stopping = false
    private weak var service: WorkflowService?

    init() {}

    func attach(_ service: WorkflowService) { self.service = service }

    /// Requests waiting now.
    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return waiters.count
    }

    /// Parks a request until ``Kind`` is satisfied or `seconds` pass. `seen` is the change
    /// counter read before the caller's own check, so a change in between is not missed.
    /// - Returns: false when the process holds ``capacity`` waiters already, or is stopping.
    func add(
        _ kind: Kind, seconds: Double, seen: Int, requestID: String?, respond: @escaping WorkflowService.Respond
    ) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping, waiters.count < Self.capacity else { return false }
        nextID += 1
        waiters[nextID] = Waiter(
            kind: kind, deadline: .now + .milliseconds(Int64(seconds * 1000)), respond: respond, requestID: requestID,
            seen: seen
        )
        if !started {
            started = true
            PosixThread.start(name: "bomflow-waiters") { [self] in run() }
        }
        condition.signal()
        return true
    }

    /// Answers every waiter now (the server is shutting down): watches with the current state,
    /// claims with nothing.
    func drain() {
        condition.lock()
        stopping = true
        let all = waiters
        waiters.removeAll()
        condition.signal()
        condition.unlock()
        for (_, waiter) in all { answerAtDeadline(waiter) }
    }

    private func run() {
        while true {
            condition.lock()
            while waiters.isEmpty && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            condition.wait(seconds: Self.checkInterval)
            condition.unlock()
            examine()
        }
    }

    /// One round: answer what expired, then re-examine waiters that have not seen the latest change.
    private func examine() {
        guard let service else { return }
        let now = ContinuousClock.now
        let counter: Int
        do { counter = try service.store.changeCounter() } catch {
            logStorageError(error)
            counter = -1
        }
        condition.lock()
        var expired: [Waiter] = []
        var due: [(Int, Waiter)] = []
        for (id, waiter) in waiters {
            if waiter.deadline <= now && !waiter.busy {
                expired.append(waiter)
                waiters[id] = nil
            } else if waiter.seen != counter && !waiter.busy {
                waiters[id]?.seen = counter
                due.append((id, waiter))
            }
        }
        condition.unlock()
        for waiter in expired { answerAtDeadline(waiter) }
        guard !due.isEmpty else { return }
        due.sort { $0.0 < $1.0 }  // first come, first served

        var watchTokens: [Token] = []
        for (_, waiter) in due {
            if case .watch(let token, _) = waiter.kind { watchTokens.append(token) }
        }
        var versions: [Token: UInt64?] = [:]
        if !watchTokens.isEmpty {
            do { versions = try service.store.versions(of: watchTokens) } catch { logStorageError(error) }
        }
        for (id, waiter) in due {
            switch waiter.kind {
            case .watch(let token, let since):
                guard let found = versions[token] else { continue }
                if let version = found, version <= since { continue }
                guard take(id) != nil else { continue }
                waiter.respond(service.workflowResponse(token))
            case .history(let token, let after, let limit):
                let page: HistoryPage?
                do { page = try service.store.history(token, after: after, limit: limit) } catch {
                    logStorageError(error)
                    continue
                }
                if let page, page.events.isEmpty { continue }
                guard take(id) != nil else { continue }
                waiter.respond(service.historyResponse(token, page))
            case .claim(let operation):
                guard case .claim(let names, _, _, _) = operation.unattributed.operation else { continue }
                let claimable: Bool
                do { claimable = try service.store.hasClaimable(names) } catch {
                    logStorageError(error)
                    continue
                }
                guard claimable else { continue }
                setBusy(id, true)
                service.writer.submit([operation]) { [self] result in
                    if case .success(let results) = result, case .success(.claimed(let claims)) = results.first,
                        claims.isEmpty
                    {
                        setBusy(id, false)  // someone else was faster: keep waiting
                        return
                    }
                    guard let waiter = take(id) else { return }
                    switch result {
                    case .success(let results):
                        waiter.respond(service.claimResponse(results, requestID: waiter.requestID))
                    case .failure(let error):
                        waiter.respond(
                            service.answer(
                                Problem.storage(error), requestID: nil, at: "POST /api/v1/workflow/claim (waiting)"))
                    }
                }
            }
        }
    }

    /// A waiter keeps waiting through a failed read (it is answered at its deadline at the
    /// latest), but the failure is said once per round.
    private func logStorageError(_ error: StoreError) {
        Logger(label: "bomflow.waiters").error("reading for waiting requests failed", metadata: ["error": "\(error)"])
    }

    private func take(_ id: Int) -> Waiter? {
        condition.lock()
        defer { condition.unlock() }
        return waiters.removeValue(forKey: id)
    }

    private func setBusy(_ id: Int, _ busy: Bool) {
        condition.lock()
        waiters[id]?.busy = busy
        condition.unlock()
    }

    private func answerAtDeadline(_ waiter: Waiter) {
        switch waiter.kind {
        case .watch(let token, _):
            waiter.respond(service?.workflowResponse(token) ?? Problem.unavailable("shutting down").response)
        case .claim:
            waiter.respond(WorkflowService.json(.ok, WorkflowShapes.claims([])))
        case .history(let token, let after, let limit):
            guard let service else { return waiter.respond(Problem.unavailable("shutting down").response) }
            do {
                waiter.respond(
                    service.historyResponse(token, try service.store.history(token, after: after, limit: limit)))
            } catch {
                waiter.respond(Problem.storage(error).response)
            }
        }
    }
}
