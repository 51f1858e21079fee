internal import Sockets

/// A value behind a pthread mutex (``Sockets/Condition``).
///
/// Used instead of `Synchronization.Mutex` in this module because on Linux `Mutex` locks with raw
/// futex system calls that ThreadSanitizer does not see, so TSan reports its protected accesses
/// as races; the server's tests run under TSan and must stay clean.
final class Locked<Value>: @unchecked Sendable {
    private let lock = Condition()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
