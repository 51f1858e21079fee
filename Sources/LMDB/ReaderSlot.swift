internal import CLMDB
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#endif

/// One thread's read transaction for one ``Environment``, kept between reads.
///
/// A read renews a reset transaction only when it must: while nothing has been committed since
/// the kept transaction's snapshot (and no database handle was opened since), the snapshot is
/// the newest there is and the next read uses it as it is — no `mdb_txn_reset`/`mdb_txn_renew`,
/// no reader-table write, no main-database lookup to refresh the named databases. A snapshot
/// that has fallen behind pins the pages freed after it, so it is not kept while its thread
/// idles: every commit of the process resets those of the threads not reading at that moment
/// (the committing thread's own included), and ``Environment/releaseIdleReaders()`` (called ten
/// times a second by a server) those that commits of other processes made old; the thread's
/// next read renews it.
///
/// The slot's mutex is held for the whole read: it is what excludes reads while the process
/// adopts a grown map (which takes every slot's mutex) or a sweep resets the slot. It is only
/// ever contended by those, so a read takes no lock another thread uses.
@safe final class ReaderSlot: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// The transaction, live or reset; nil before the first read (or after an error ended it).
    /// Guarded by the mutex.
    @exclusivity(unchecked) private var transaction: OpaquePointer?
    /// Whether ``transaction`` holds a snapshot (begun or renewed, not reset). Guarded by the mutex.
    @exclusivity(unchecked) private var live = false
    /// ``Environment``'s database generation when the snapshot was taken. Guarded by the mutex.
    @exclusivity(unchecked) private var generation = 0
    /// Whether a read used the slot since the last sweep. Guarded by the mutex.
    @exclusivity(unchecked) private var used = false
    /// Whether a read of the owning thread runs in the slot (a read inside it gets a transaction
    /// of its own); only the owning thread touches it.
    @exclusivity(unchecked) private var reading = false
    /// Set once the owning thread has ended or the environment was closed: the slot holds no
    /// transaction and is dropped from the lists.
    let retired = Atomic<Bool>(false)

    init() {
        unsafe mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        unsafe mutex.initialize(to: pthread_mutex_t())
        precondition(unsafe pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
    }

    deinit {
        unsafe pthread_mutex_destroy(mutex)
        unsafe mutex.deinitialize(count: 1)
        unsafe mutex.deallocate()
    }

    @inline(__always) func lock() {
        let code = unsafe pthread_mutex_lock(mutex)
        precondition(code == 0, "pthread_mutex_lock failed")
    }

    @inline(__always) func unlock() {
        let code = unsafe pthread_mutex_unlock(mutex)
        precondition(code == 0, "pthread_mutex_unlock failed")
    }

    /// Takes the mutex when nobody holds it. - Returns: whether it was taken.
    func tryLock() -> Bool { unsafe pthread_mutex_trylock(mutex) == 0 }

    /// Whether a read of the owning thread runs in the slot (owning thread only).
    var inRead: Bool { unsafe reading }

    /// Takes the mutex for a read of the owning thread.
    func enterRead() {
        lock()
        unsafe reading = true
    }

    func leaveRead() {
        unsafe reading = false
        unlock()
    }

    /// Whether the live snapshot `txn` is the newest there is: taken at database generation
    /// `generation` and at the last committed transaction `lastCommitted`.
    @inline(__always)
    private func isCurrent(_ txn: OpaquePointer, generation: Int, lastCommitted: Int?) -> Bool {
        unsafe self.generation == generation && Int(mdb_txn_id(txn)) == lastCommitted
    }

    /// The kept transaction when its snapshot is still the newest (``isCurrent``); otherwise it
    /// is reset and nil returned. Mutex held.
    @inline(__always)
    func keptSnapshot(generation: Int, lastCommitted: Int?) -> OpaquePointer? {
        guard unsafe live, let txn = unsafe transaction else { return nil }
        if unsafe isCurrent(txn, generation: generation, lastCommitted: lastCommitted) {
            unsafe used = true
            return unsafe txn
        }
        reset()
        return nil
    }

    /// Renews the reset transaction for a snapshot taken at database generation `generation`.
    /// - Returns: the transaction, or nil when the slot has none (or `mdb_txn_renew` failed:
    ///   the transaction is then ended and `code` says why). Mutex held.
    func renew(generation: Int, code: inout Int32) -> OpaquePointer? {
        guard let txn = unsafe transaction else { return nil }
        code = unsafe mdb_txn_renew(txn)
        if code != 0 {
            discard()
            return nil
        }
        unsafe (live, self.generation, used) = (true, generation, true)
        return unsafe txn
    }

    /// Keeps `txn`, just begun at database generation `generation`. Mutex held.
    func keep(_ txn: OpaquePointer, generation: Int) {
        unsafe transaction = txn
        unsafe (live, self.generation, used) = (true, generation, true)
    }

    /// For a sweep: resets a snapshot that is not the newest (``isCurrent``) and, with `unused`,
    /// one not used since the last such sweep. Mutex held.
    func sweep(generation: Int, lastCommitted: Int?, unused: Bool) {
        guard unsafe live, let txn = unsafe transaction else { return }
        if unsafe !isCurrent(txn, generation: generation, lastCommitted: lastCommitted) {
            reset()
        } else if unused {
            if unsafe used { unsafe used = false } else { reset() }
        }
    }

    /// Whether the slot holds a snapshot. Mutex held.
    var holdsSnapshot: Bool { unsafe live }

    /// Resets a live transaction: it keeps its reader slot but no snapshot. Mutex held.
    func reset() {
        guard unsafe live, let transaction = unsafe transaction else { return }
        unsafe mdb_txn_reset(transaction)
        unsafe live = false
    }

    /// Ends the transaction and retires the slot (its thread ended, or the environment closes).
    func retire() {
        lock()
        discard()
        retired.store(true, ordering: .releasing)
        unlock()
    }

    /// Ends the transaction after an error; the next read begins a new one. Mutex held.
    func discard() {
        if let transaction = unsafe transaction { unsafe mdb_txn_abort(transaction) }
        unsafe transaction = nil
        unsafe live = false
    }

    // MARK: The calling thread's slots

    /// The calling thread's slot for the environment numbered `serial`, if it has one (the
    /// read path: no closure to make a slot is formed, and so nothing retained for it).
    @inline(__always)
    static func found(for serial: Int) -> ReaderSlot? {
        ThreadSlots.current().find(serial)
    }

    /// Adds `slot` (made and listed with the environment by the caller) as the calling
    /// thread's slot for the environment numbered `serial`.
    static func adopt(_ slot: ReaderSlot, for serial: Int) -> ReaderSlot {
        ThreadSlots.current().add(serial, slot)
    }

    /// The calling thread's slot for the environment numbered `serial`, if it has read from it.
    static func existing(for serial: Int) -> ReaderSlot? {
        ThreadSlots.existing()?.find(serial)
    }
}

/// The slots of one thread, one per environment it has read from; ends their transactions when
/// the thread ends (a `pthread_key_t` destructor).
@safe private final class ThreadSlots {
    /// The slot of the environment read first (the common case: one environment per process).
    @exclusivity(unchecked) var first: (serial: Int, slot: ReaderSlot)?
    var others: [(serial: Int, slot: ReaderSlot)] = []

    static func existing() -> ThreadSlots? {
        guard let value = unsafe pthread_getspecific(threadSlotsKey) else { return nil }
        return unsafe Unmanaged<ThreadSlots>.fromOpaque(value).takeUnretainedValue()
    }

    @inline(__always)
    static func current() -> ThreadSlots {
        let key = threadSlotsKey
        if let value = unsafe pthread_getspecific(key) {
            return unsafe Unmanaged<ThreadSlots>.fromOpaque(value).takeUnretainedValue()
        }
        let slots = ThreadSlots()
        let code = unsafe pthread_setspecific(key, Unmanaged.passRetained(slots).toOpaque())
        precondition(code == 0, "pthread_setspecific failed")
        return slots
    }

    /// The slot for the environment numbered `serial`, if the thread has one.
    @inline(__always)
    func find(_ serial: Int) -> ReaderSlot? {
        if let first = unsafe first, first.serial == serial { return first.slot }
        return others.first { $0.serial == serial }?.slot
    }

    /// Adds `slot` for the environment numbered `serial` and returns it.
    func add(_ serial: Int, _ slot: ReaderSlot) -> ReaderSlot {
        // Environments closed since leave retired slots behind; drop them here.
        others.removeAll { $0.slot.retired.load(ordering: .acquiring) }
        if let old = unsafe first, !old.slot.retired.load(ordering: .acquiring) {
            others.append((serial, slot))
        } else {
            unsafe first = (serial, slot)
        }
        return slot
    }

    func retireAll() {
        unsafe first?.slot.retire()
        for entry in others { entry.slot.retire() }
    }
}

/// The process's key for ``ThreadSlots``; its destructor retires an ending thread's slots.
private let threadSlotsKey: pthread_key_t = {
    var key = pthread_key_t()
    let code = unsafe pthread_key_create(&key) { value in
        guard let value = unsafe value else { return }
        unsafe Unmanaged<ThreadSlots>.fromOpaque(value).takeRetainedValue().retireAll()
    }
    precondition(code == 0, "pthread_key_create failed")
    return key
}()
