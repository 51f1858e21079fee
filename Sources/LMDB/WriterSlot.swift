internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#endif

/// A small shared-memory record, `<directory>/bomflow.writer`, in which the process that holds
/// LMDB's write lock writes its PID and since when (epoch milliseconds), and clears them when
/// its transaction ends. LMDB does not say who holds its writer mutex; this lets every other
/// process of the host name the holder when its own writes wait too long (a process stopped
/// with SIGSTOP, or stuck in the kernel, while holding the lock).
///
/// Only the lock holder writes, so there is one writer at a time; readers may see a torn pair,
/// which only makes a diagnostic briefly wrong. Aligned 4- and 8-byte stores on x86-64 and arm64
/// are single-copy atomic.
///
/// The slot also counts the threads of the host that wait for the write lock (offset 16, an
/// atomic 32-bit counter every waiter increments before `mdb_txn_begin` and decrements when it
/// returns), so that a long run of batches (a maintenance pass) can hand the lock over to them
/// (``Environment/handOverWriteLock(maxWait:)``): LMDB's writer mutex is not fair, and a thread
/// that unlocks and locks again at once keeps it from a waiter that has yet to wake. A process
/// killed while it waits leaves the count too high; ``Environment`` learns such a count as
/// stale (nobody takes the lock when it is offered) and ignores it.
@safe final class WriterSlot: @unchecked Sendable {
    static let fileName = "bomflow.writer"
    private static let size = 64
    private let base: UnsafeMutableRawPointer?

    /// Maps the slot file (created 0600); without it (a read-only directory) the slot is inert.
    init(directory: String) {
        let fd = unsafe open(directory + "/" + Self.fileName, O_RDWR | O_CREAT | O_CLOEXEC, mode_t(0o600))
        guard fd >= 0 else {
            unsafe base = nil
            return
        }
        defer { _ = close(fd) }
        var info = stat()
        if unsafe fstat(fd, &info) != 0 || (Int(info.st_size) < Self.size && ftruncate(fd, off_t(Self.size)) != 0) {
            unsafe base = nil
            return
        }
        let mapped = unsafe mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        unsafe base = mapped == MAP_FAILED ? nil : mapped
    }

    deinit { if let base = unsafe base { _ = unsafe munmap(base, Self.size) } }

    /// Records this process as the holder (called right after the write lock was taken).
    func hold(since milliseconds: Int64) {
        guard let base = unsafe base else { return }
        unsafe base.storeBytes(of: milliseconds, toByteOffset: 8, as: Int64.self)
        unsafe base.storeBytes(of: getpid(), toByteOffset: 0, as: Int32.self)
    }

    /// Clears the record (called as the transaction ends).
    func release() {
        guard let base = unsafe base else { return }
        unsafe base.storeBytes(of: Int32(0), toByteOffset: 0, as: Int32.self)
    }

    /// Counts the calling thread as waiting for the write lock, until ``stopWaiting()``.
    func startWaiting() {
        guard let waiting = unsafe waitingCounter else { return }
        unsafe waiting.pointee.add(1, ordering: .sequentiallyConsistent)
    }

    /// Ends the count of ``startWaiting()`` (called when `mdb_txn_begin` returns, taken or not).
    func stopWaiting() {
        guard let waiting = unsafe waitingCounter else { return }
        unsafe waiting.pointee.subtract(1, ordering: .sequentiallyConsistent)
    }

    /// Threads of the host that wait for the write lock now (0 without a slot).
    func waiting() -> Int32 {
        guard let waiting = unsafe waitingCounter else { return 0 }
        return unsafe waiting.pointee.load(ordering: .sequentiallyConsistent)
    }

    private var waitingCounter: UnsafeMutablePointer<Atomic<Int32>>? {
        guard let base = unsafe base else { return nil }
        return unsafe (base + 16).assumingMemoryBound(to: Atomic<Int32>.self)
    }

    /// The recorded holder, if any.
    func holder() -> (pid: Int32, since: Int64)? {
        guard let base = unsafe base else { return nil }
        let pid = unsafe base.load(fromByteOffset: 0, as: Int32.self)
        guard pid != 0 else { return nil }
        return (pid, unsafe base.load(fromByteOffset: 8, as: Int64.self))
    }

    /// The wall clock in epoch milliseconds.
    static func now() -> Int64 {
        var time = timespec()
        _ = unsafe clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}
