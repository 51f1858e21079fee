internal import Foundation
public import Storage
internal import Synchronization
public import WorkflowModel

/// The one writer thread of a process: it takes every write queued by the HTTP loops, commits
/// them in one LMDB transaction and one sync (group commit), then answers each.
///
/// A request's operations stay together in one transaction; a refused operation fails alone
/// (``WorkflowStorage/perform(_:)``). A storage failure fails the whole group,
/// and nothing of it is acknowledged. Nothing waits inside a write transaction: the queue is
/// filled under a lock, the transaction runs outside it.
public final class WriteQueue: @unchecked Sendable {
    /// What a submitter gets back: one result per operation, or the storage failure of the group.
    public typealias Completion = @Sendable (Result<[Result<WriteOutcome, WorkflowError>], StoreError>) -> Void

    private struct Entry {
        let operations: [WriteOperation]
        let completion: Completion
    }

    private let store: any WorkflowStorage
    private let condition = NSCondition()
    private var pending: [Entry] = []
    private var stopping = false
    private var running = true
    private let maxOperationsPerCommit: Int
    private let onFatal: @Sendable (StoreError) -> Void
    private let finished = DispatchSemaphore(value: 0)
    /// Completions (rendering a response is part of them) run on a thread of their own, in
    /// commit order, so that the writer thread starts the next transaction while the last group
    /// is answered. A plain thread, not a dispatch queue: a process has a fixed set of threads
    /// (libdispatch may add pool threads under a burst).
    private let answers = AnswerThread()

    private let commitCount = Atomic<Int>(0)
    private let operationCount = Atomic<Int>(0)

    /// Group commits performed (read from any thread, for metrics).
    public var commits: Int { commitCount.load(ordering: .relaxed) }
    /// Operations committed (read from any thread, for metrics).
    public var operationsWritten: Int { operationCount.load(ordering: .relaxed) }

    /// Starts the writer thread.
    /// - Parameters:
    ///   - maxOperationsPerCommit: a group never holds more operations than this (one request's
    ///     operations are never split). Default 512.
    ///   - onFatal: called with the error when the store failed fatally (`MDB_PANIC`): the
    ///     process must stop taking writes and exit non-zero. A full disk is not fatal.
    public init(
        store: any WorkflowStorage, maxOperationsPerCommit: Int = 512,
        onFatal: @escaping @Sendable (StoreError) -> Void = { _ in }
    ) {
        self.store = store
        self.maxOperationsPerCommit = maxOperationsPerCommit
        self.onFatal = onFatal
        let thread = Thread { [self] in run() }
        thread.name = "bomflow-writer"
        thread.start()
    }

    /// Queues `operations` (one request's); `completion` runs after the commit, on the queue that
    /// answers groups in commit order.
    public func submit(_ operations: [WriteOperation], completion: @escaping Completion) {
        condition.lock()
        guard running && !stopping else {
            condition.unlock()
            completion(.failure(.unavailable("the server is shutting down")))
            return
        }
        pending.append(Entry(operations: operations, completion: completion))
        condition.signal()
        condition.unlock()
    }

    /// Commits what is queued, then stops the thread; later submissions are refused (503).
    public func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        finished.wait()
        answers.stop()
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty && stopping {
                running = false
                condition.unlock()
                finished.signal()
                return
            }
            var group: [Entry] = []
            var count = 0
            while let first = pending.first, group.isEmpty || count + first.operations.count <= maxOperationsPerCommit {
                group.append(pending.removeFirst())
                count += first.operations.count
            }
            condition.unlock()
            commit(group)
        }
    }

    private func commit(_ group: [Entry]) {
        do {
            let results = try store.perform(group.flatMap(\.operations))
            commitCount.add(1, ordering: .relaxed)
            operationCount.add(results.count, ordering: .relaxed)
            answers.post {
                var offset = 0
                for entry in group {
                    entry.completion(.success(Array(results[offset..<offset + entry.operations.count])))
                    offset += entry.operations.count
                }
            }
        } catch {
            answers.post { for entry in group { entry.completion(.failure(error)) } }
            if store.isFatallyFailed { onFatal(error) }
        }
    }
}

/// Runs posted closures one after the other on one thread; ``stop()`` runs what is posted, then
/// ends the thread.
private final class AnswerThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var work: [() -> Void] = []
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)

    init() {
        let thread = Thread { [self] in run() }
        thread.name = "bomflow-answers"
        thread.start()
    }

    func post(_ body: @escaping () -> Void) {
        condition.lock()
        work.append(body)
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        done.wait()
    }

    private func run() {
        while true {
            condition.lock()
            while work.isEmpty && !stopping { condition.wait() }
            let batch = work
            work.removeAll()
            let finished = batch.isEmpty && stopping
            condition.unlock()
            if finished {
                done.signal()
                return
            }
            for body in batch { body() }
        }
    }
}
