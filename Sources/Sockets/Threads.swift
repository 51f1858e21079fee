internal import CPosix
public import Synchronization

#if canImport(Glibc)
    internal import Glibc
#endif

/// Threads of their own for the loops that block (event loops, the writer, the waiters, the
/// delivering thread): POSIX threads, so that no module needs Foundation's `Thread` (and with it
/// ICU in the binary).
public enum PosixThread {
    private final class Start {
        let name: String
        let body: @Sendable () -> Void
        init(_ name: String, _ body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new detached thread named `name` (the first 15 bytes, as Linux keeps),
    /// with a stack of `stackSize` bytes (nil: the system's default). A thread that cannot be made
    /// is a state the process cannot serve in: it stops.
    public static func start(name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
        let start = unsafe Unmanaged.passRetained(Start(name, body)).toOpaque()
        var attributes = pthread_attr_t()
        precondition(unsafe pthread_attr_init(&attributes) == 0)
        defer { _ = unsafe pthread_attr_destroy(&attributes) }
        if let stackSize { precondition(unsafe pthread_attr_setstacksize(&attributes, stackSize) == 0) }
        var thread = pthread_t()
        let result = unsafe pthread_create(
            &thread, &attributes,
            { raw in
                guard let raw = unsafe raw else { return nil }
                let start = unsafe Unmanaged<Start>.fromOpaque(raw).takeRetainedValue()
                _ = unsafe cposix_set_thread_name(start.name)
                start.body()
                return nil
            }, start)
        precondition(result == 0, "pthread_create failed: \(result)")
        _ = pthread_detach(thread)
    }

    /// A small number naming the calling thread: 0, 1, 2, … in the order threads first ask, kept
    /// for the thread's life (a `pthread_getspecific`, no lock). For state kept per thread, e.g.
    /// ``PerThread``.
    public static var number: Int {
        if let stored = unsafe pthread_getspecific(numberKey) {
            return Int(bitPattern: UInt(bitPattern: stored)) - 1
        }
        let number = nextNumber.wrappingAdd(1, ordering: .relaxed).oldValue
        precondition(unsafe pthread_setspecific(numberKey, UnsafeRawPointer(bitPattern: number + 1)) == 0)
        return number
    }

    private static let numberKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(unsafe pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()
    private static let nextNumber = Atomic<Int>(0)

    /// Lets the threads waiting for the calling thread's core run before it goes on
    /// (`sched_yield`); returns at once when none waits. It cannot fail on Linux (POSIX defines
    /// no error for it), so a failure would be a broken platform: reported, not thrown.
    public static func yield() {
        let result = sched_yield()
        precondition(result == 0, "sched_yield failed: errno \(errno)")
    }

    /// Sleeps the calling thread for `seconds` (interrupted sleeps are resumed).
    public static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while unsafe nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}

/// A mutex with a condition variable (what `NSCondition` is), on the monotonic clock: `lock`,
/// `wait` (releases the lock while waiting), `signal`, `broadcast`, `unlock`.
@safe public final class Condition: @unchecked Sendable {
    // Allocated once: pthread objects must not move.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        unsafe mutex = .allocate(capacity: 1)
        unsafe mutex.initialize(to: pthread_mutex_t())
        unsafe condition = .allocate(capacity: 1)
        unsafe condition.initialize(to: pthread_cond_t())
        precondition(unsafe pthread_mutex_init(mutex, nil) == 0)
        var attributes = pthread_condattr_t()
        precondition(unsafe pthread_condattr_init(&attributes) == 0)
        precondition(unsafe pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC) == 0)
        precondition(unsafe pthread_cond_init(condition, &attributes) == 0)
        _ = unsafe pthread_condattr_destroy(&attributes)
    }

    deinit {
        _ = unsafe pthread_cond_destroy(condition)
        _ = unsafe pthread_mutex_destroy(mutex)
        unsafe condition.deallocate()
        unsafe mutex.deallocate()
    }

    public func lock() { precondition(unsafe pthread_mutex_lock(mutex) == 0) }

    public func unlock() { precondition(unsafe pthread_mutex_unlock(mutex) == 0) }

    /// Waits (the lock held) until signalled.
    public func wait() { precondition(unsafe pthread_cond_wait(condition, mutex) == 0) }

    /// Waits (the lock held) until signalled or `seconds` pass. - Returns: false on the timeout.
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        var now = timespec()
        _ = unsafe clock_gettime(CLOCK_MONOTONIC, &now)
        let total = max(0, seconds)
        var nanoseconds = now.tv_nsec + Int((total - Double(Int(total))) * 1e9)
        var deadline = timespec(tv_sec: now.tv_sec + Int(total) + nanoseconds / 1_000_000_000, tv_nsec: 0)
        nanoseconds %= 1_000_000_000
        deadline.tv_nsec = nanoseconds
        let result = unsafe pthread_cond_timedwait(condition, mutex, &deadline)
        precondition(result == 0 || result == ETIMEDOUT, "pthread_cond_timedwait: \(result)")
        return result == 0
    }

    public func signal() { precondition(unsafe pthread_cond_signal(condition) == 0) }

    public func broadcast() { precondition(unsafe pthread_cond_broadcast(condition) == 0) }
}

/// Writing to the standard output and error without buffering (what `FileHandle.standardError`
/// did): every byte is written, partial writes resumed; a closed stream drops the rest.
public enum StandardStreams {
    public static func writeOutput(_ text: String) { write(Array(text.utf8), to: 1) }

    public static func writeError(_ text: String) { write(Array(text.utf8), to: 2) }

    /// Writes `bytes` to the file descriptor `fd`. - Returns: false when the stream refused them.
    @discardableResult
    public static func write(_ bytes: [UInt8], to fd: Int32) -> Bool { FileStream.writeAll(bytes, to: fd) == nil }
}

/// 64 bytes of nothing: a stored property of this type after a class's hot fields keeps the next
/// object's fields (an object allocated right after) off their cache line, so that threads
/// updating one object each do not share a line.
public struct CacheLinePadding: Sendable {
    private let words: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    public init() {}
}

/// A value kept in several copies, each behind its own lock, a thread using the copy its
/// ``PosixThread/number`` picks: the event loops (one thread each) update counters and caches
/// without sharing a lock or a cache line. Readers that need the whole merge the copies.
public final class PerThread<Value: Sendable>: Sendable {
    @usableFromInline final class Shard: Sendable {
        @usableFromInline let value: Mutex<Value>
        /// Keeps the next copy's lock off this one's cache line.
        let padding = CacheLinePadding()
        init(_ value: Value) { self.value = Mutex(value) }
    }

    @usableFromInline let shards: [Shard]

    /// `count` copies of `initial` (default 8; a thread beyond them shares a copy with another).
    public init(_ initial: Value, count: Int = 8) {
        shards = (0..<max(1, count)).map { _ in Shard(initial) }
    }

    /// Runs `body` on the calling thread's copy.
    @inlinable public func withLock<R: Sendable>(_ body: (inout sending Value) -> R) -> R {
        shards[PosixThread.number % shards.count].value.withLock { value in body(&value) }
    }

    /// Runs `body` on every copy in turn (each under its own lock).
    @inlinable public func withEach(_ body: (inout sending Value) -> Void) {
        for shard in shards { shard.value.withLock { value in body(&value) } }
    }
}
