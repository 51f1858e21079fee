internal import Foundation

/// A fixed set of threads that run requests taken from one queue, in arrival order, for a store
/// whose calls block (PostgreSQL). One shared queue rather than a queue per thread: a request
/// that waits long on the database holds only its own thread, and the next request goes to any
/// free one instead of waiting behind it.
final class RequestThreads: @unchecked Sendable {
    private let condition = NSCondition()
    private var work: [() -> Void] = []
    private var head = 0
    private var stopping = false

    init(count: Int, name: String) {
        for index in 0..<max(1, count) {
            let thread = Thread { [self] in loop() }
            thread.name = "\(name)-\(index + 1)"
            thread.start()
        }
    }

    /// Queues `body` for the next free thread.
    func run(_ body: @escaping () -> Void) {
        condition.lock()
        work.append(body)
        condition.signal()
        condition.unlock()
    }

    /// Lets the threads end once the queue is empty.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while head == work.count && !stopping { condition.wait() }
            if head == work.count {
                condition.unlock()
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
