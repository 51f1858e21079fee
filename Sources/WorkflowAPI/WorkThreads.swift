internal import Dispatch
internal import Sockets

/// A fixed set of plain threads that run posted closures taken from one queue in arrival order
/// (a process has a fixed set of threads; libdispatch may add pool threads under a burst). With
/// one thread, the closures run one after the other in the order posted (the write queue's
/// answers). With several, one shared queue rather than a queue per thread: a closure that waits
/// long (a request on a slow database) holds only its own thread, and the next one goes to any
/// free thread instead of waiting behind it.
final class WorkThreads: @unchecked Sendable {
    private let condition = Condition()
    private var work: [() -> Void] = []
    private var head = 0
    private var stopping = false
    private var running: Int
    private let ended = DispatchSemaphore(value: 0)

    init(count: Int, name: String) {
        running = max(1, count)
        for index in 0..<running {
            PosixThread.start(name: running == 1 ? name : "\(name)-\(index + 1)") { [self] in loop() }
        }
    }

    /// Queues `body` for the next free thread.
    func post(_ body: @escaping () -> Void) {
        condition.lock()
        work.append(body)
        condition.signal()
        condition.unlock()
    }

    /// Lets the threads end once everything posted has run; with `wait`, returns only then.
    func stop(wait: Bool = false) {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        if wait { ended.wait() }
    }

    private func loop() {
        while true {
            condition.lock()
            while head == work.count && !stopping { condition.wait() }
            if head == work.count {
                running -= 1
                let last = running == 0
                condition.unlock()
                if last { ended.signal() }
                return
            }
            let body = work[head]
            head += 1
            if head == work.count {
                work.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024 && head * 2 >= work.count {
                work.removeFirst(head)
                head = 0
            }
            condition.unlock()
            body()
        }
    }
}
