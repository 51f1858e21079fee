internal import CLMDB
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#endif

/// How commits reach the disk.
public enum SyncMode: String, Sendable, CaseIterable {
    /// Every committed write transaction is flushed (`fdatasync`) before the commit returns
    /// (LMDB's default, flags 0). An acknowledged write survives a power cut.
    case full
    /// `MDB_NOSYNC`: commits are not flushed. Survives a killed process (the page cache
    /// keeps the data) but not a system crash. For disposable test instances only.
    case none
}

/// One LMDB environment: a directory holding `data.mdb` and `lock.mdb`, shared by every
/// process of the host that opens the same directory.
///
/// - Note: LMDB allows one `MDB_env` per file per process (lmdb.h l.101-105: closing a second
///   handle drops the first one's locks and reader slots). ``open(path:options:)`` therefore
///   returns the already open environment when the same directory (compared by device and
///   inode, so symlinks and relative paths are seen through) is opened again in this process.
/// - Note: The environment is opened with `MDB_NOTLS`, so read transactions are not tied to
///   OS threads (lmdb.h l.576-584). Write transactions still begin and commit on one thread,
///   which ``write(_:)`` guarantees by being synchronous.
/// - Warning: Do not use an environment after `fork()`; open it in the child instead (L8).
@safe public final class Environment: @unchecked Sendable {
    /// Settings that must be the same in every process sharing the file.
    public struct Options: Sendable, Equatable {
        /// The map size in bytes: the hard limit of the data file. The file is sparse, so a
        /// large map costs no memory or disk. Default 64 GiB (DESIGN.md §3).
        public var mapSize: Int
        /// Reader-table slots shared by all processes. The first process to create the lock
        /// file decides the size, so every process should use the same value. Default 1,024.
        public var maxReaders: UInt32
        /// Named databases the environment may hold. Default 32.
        public var maxDatabases: UInt32
        /// Durability of commits. Default ``SyncMode/full``.
        public var sync: SyncMode
        /// File mode for `data.mdb`/`lock.mdb` (and the directory, with execute bits). Default 0o600.
        public var fileMode: UInt32
        /// Open with `MDB_RDONLY`: no write transaction can begin, so nothing here ever waits for
        /// (or takes) the writer lock. For commands that only read. Default false.
        public var readOnly = false

        /// Creates options; every parameter has the documented default.
        public init(
            mapSize: Int = 64 << 30, maxReaders: UInt32 = 1024, maxDatabases: UInt32 = 32,
            sync: SyncMode = .full, fileMode: UInt32 = 0o600, readOnly: Bool = false
        ) {
            self.readOnly = readOnly
            self.mapSize = mapSize
            self.maxReaders = maxReaders
            self.maxDatabases = maxDatabases
            self.sync = sync
            self.fileMode = fileMode
        }
    }

    /// What `mdb_env_info`/`mdb_env_stat` report about the environment.
    public struct Info: Sendable, Equatable {
        /// The map size this process uses, in bytes.
        public var mapSize: Int
        /// Bytes of the map in use: (last page number + 1) × page size.
        public var usedBytes: Int
        /// The database page size in bytes.
        public var pageSize: Int
        /// The ID of the last committed transaction (grows with every commit by any process).
        public var lastTransactionID: Int
        /// Size of the reader table.
        public var maxReaders: Int
        /// Reader-table slots ever used (a high-water mark, not live readers).
        public var readerSlotsUsed: Int
    }

    /// The directory, as given at open.
    public let path: String
    /// The options the environment was opened with.
    public let options: Options
    /// The largest key LMDB accepts (`mdb_env_get_maxkeysize`, 511 in 0.9.24).
    public let maxKeySize: Int

    /// The data directory's device and inode: what names this environment within a host (one
    /// environment per directory per process, and the same for every process of the directory,
    /// whatever path, symlink or bind mount led to it).
    public let directoryIdentity: FileIdentity
    let handle: OpaquePointer
    private let openPID: pid_t
    /// Numbers this environment among those the process has opened (a thread's ``ReaderSlot``
    /// is found by it).
    private let serial: Int
    private static let serials = Atomic<Int>(0)
    /// Every thread's ``ReaderSlot`` for this environment: each read runs in its thread's slot
    /// and holds the slot's mutex; adopting a grown map takes them all.
    private let readerSlots = Mutex<[ReaderSlot]>([])
    /// Grows whenever a database handle is opened: a kept snapshot older than the handle does
    /// not know it (`mdb_txn_renew` refreshes a transaction's handles).
    private let databasesGeneration = Atomic<Int>(0)
    /// Held shared by every write (and the opening of databases) and exclusively, together
    /// with every reader slot, while adopting a map size grown by another process
    /// (`mdb_env_set_mapsize` needs no active transaction). Lock order: this, then the slot list,
    /// then slots.
    private let quiesce: UnsafeMutablePointer<pthread_rwlock_t>
    private let panicked = Atomic<Bool>(false)
    private let staleReadersCleared = Atomic<Int>(0)
    private let mapResizes = Atomic<Int>(0)
    /// Who holds the write lock (``writeLockHolder()``) and how many wait for it.
    let writerSlot: WriterSlot
    /// A count of waiting writers that did not take the lock when it was offered
    /// (``handOverWriteLock(maxWait:)``): left by processes killed while they waited.
    let staleWaiters = Atomic<Int32>(0)
    /// The thread (`pthread_self`) that committed this process's last write transaction, and
    /// that transaction's ID (``committedLast()``).
    private let lastCommitThread = Atomic<UInt>(0)
    private let lastCommitTransaction = Atomic<Int>(0)
    private let handOvers = Atomic<Int>(0)

    private static let registry = Mutex<[FileIdentity: WeakEnvironment]>([:])

    /// Opens (creating if needed) the environment in the directory `path`, or returns the one
    /// this process already has open for that directory.
    ///
    /// Creates the directory (mode 0700) when missing, opens with `MDB_NOTLS | MDB_NORDAHEAD`
    /// (plus `MDB_NOSYNC` for ``SyncMode/none``), retries a busy lock file five times with
    /// backoff (lmdb.h l.133-134), and clears stale reader slots left by killed processes
    /// (`mdb_reader_check`, L1).
    ///
    /// - Parameters:
    ///   - path: The environment directory.
    ///   - options: Map size, reader slots, databases and sync mode; ignored when the
    ///     environment is already open in this process (a read-only one cannot serve a writer:
    ///     `busy`).
    /// - Throws: ``LMDBError`` — `accessDenied`, `invalid` (not an LMDB file),
    ///   `versionMismatch`, `busy` after the retries (or when only a read-only environment is
    ///   open here and a writable one is asked for), or an `errno` from creating the directory.
    public static func open(path: String, options: Options = Options()) throws(LMDBError) -> Environment {
        try createDirectory(path, mode: 0o700)
        let identity = try FileIdentity(path: path)
        return try registry.withLock { (table) throws(LMDBError) -> Environment in
            if let existing = table[identity]?.environment {
                // One environment per file per process: a writer cannot share one opened read-only.
                if existing.options.readOnly && !options.readOnly { throw LMDBError(code: EBUSY) }
                return existing
            }
            let environment = try Environment(path: path, identity: identity, options: options)
            table[identity] = WeakEnvironment(environment: environment)
            return environment
        }
    }

    private init(path: String, identity: FileIdentity, options: Options) throws(LMDBError) {
        var env: OpaquePointer?
        try LMDBError.check(unsafe mdb_env_create(&env))
        guard let env = unsafe env else { throw LMDBError(code: ENOMEM) }
        var flags = UInt32(MDB_NOTLS) | UInt32(MDB_NORDAHEAD)
        if options.sync == .none { flags |= UInt32(MDB_NOSYNC) }
        if options.readOnly { flags |= UInt32(MDB_RDONLY) }
        do {
            try LMDBError.check(unsafe mdb_env_set_mapsize(env, options.mapSize))
            try LMDBError.check(unsafe mdb_env_set_maxreaders(env, options.maxReaders))
            try LMDBError.check(unsafe mdb_env_set_maxdbs(env, options.maxDatabases))
            // An assertion inside LMDB (it found a page it cannot handle) ends the process; say
            // what happened and what to do first (issue 16 §3). A no-op when LMDB has no asserts.
            try LMDBError.check(unsafe mdb_env_set_assert(env, lmdbAssertionHandler))
            var attempt = 0
            while true {
                let code = unsafe mdb_env_open(env, path, flags, mdb_mode_t(options.fileMode))
                if code == 0 { break }
                attempt += 1
                guard attempt < 5, code == EAGAIN || code == EBUSY else { throw LMDBError(code: code) }
                usleep(UInt32(50_000 * attempt))
            }
            var actual: UInt32 = 0
            try LMDBError.check(unsafe mdb_env_get_flags(env, &actual))
            // L10: refuse durability-weakening flags we did not ask for.
            let weakening = UInt32(MDB_NOMETASYNC) | UInt32(MDB_MAPASYNC) | UInt32(MDB_WRITEMAP)
            if actual & weakening != 0 { throw LMDBError(code: EINVAL) }
        } catch let error as LMDBError {
            unsafe mdb_env_close(env)
            throw error
        } catch {
            unsafe mdb_env_close(env)
            throw LMDBError(code: EINVAL)
        }
        unsafe self.handle = env
        self.path = path
        self.directoryIdentity = identity
        self.options = options
        self.openPID = getpid()
        self.maxKeySize = Int(unsafe mdb_env_get_maxkeysize(env))
        self.writerSlot = WriterSlot(directory: path)
        self.serial = Self.serials.add(1, ordering: .relaxed).newValue
        unsafe self.quiesce = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
        unsafe quiesce.initialize(to: pthread_rwlock_t())
        precondition(unsafe pthread_rwlock_init(quiesce, nil) == 0, "pthread_rwlock_init failed")
        _ = try checkStaleReaders()
    }

    deinit {
        for slot in readerSlots.withLock({ slots in slots }) { slot.retire() }
        unsafe mdb_env_close(handle)
        unsafe pthread_rwlock_destroy(quiesce)
        unsafe quiesce.deinitialize(count: 1)
        unsafe quiesce.deallocate()
    }

    // MARK: Transactions

    /// Runs `body` in a read-only snapshot of the environment.
    ///
    /// The transaction is the calling thread's, kept between reads (``ReaderSlot``): while
    /// nothing was committed since its snapshot it is used as it is, otherwise renewed
    /// (`mdb_txn_renew`), so a read claims no new reader slot and sees every commit that
    /// finished before it began. Keep `body` short: a live reader stops LMDB from reusing pages
    /// written after its snapshot (lmdb.h l.106-114); call ``releaseIdleReaders()`` periodically
    /// so that threads that stopped reading do not keep an old snapshot.
    ///
    /// - Warning: Do not write inside `body` (a write would wait behind a map adoption that
    ///   waits for this read).
    /// - Throws: what `body` throws, or ``LMDBError`` (`readersFull`, `panic`, …).
    @available(*, noasync)
    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        debugCheckPID()
        let slot = ReaderSlot.found(for: serial) ?? ReaderSlot.adopt(makeReaderSlot(), for: serial)
        if slot.inRead { return try nestedRead(body) }
        slot.enterRead()
        defer { slot.leaveRead() }
        let txn = unsafe try snapshot(in: slot)
        do {
            return try unsafe body(ReadTransaction(handle: txn))
        } catch let error as LMDBError {
            // LMDB may have marked the transaction failed; the next read renews it, which
            // clears that. (Other errors of `body` leave the transaction as it was.)
            slot.reset()
            throw error
        }
    }

    /// A snapshot no older than the last commit, in the slot's transaction. Slot mutex held.
    @inline(__always)
    private func snapshot(in slot: ReaderSlot) throws(LMDBError) -> OpaquePointer {
        let generation = databasesGeneration.load(ordering: .acquiring)
        if let txn = unsafe slot.keptSnapshot(generation: generation, lastCommitted: lastCommittedTransaction()) {
            return unsafe txn
        }
        var code: Int32 = 0
        if let txn = unsafe slot.renew(generation: generation, code: &code) { return unsafe txn }
        if code != 0 {
            guard code == MDB_MAP_RESIZED else {
                try noteFatal(code)
                throw LMDBError(code: code)
            }
            try adoptGrownMap(holding: .slot(slot))
        }
        let txn = unsafe try begin(flags: UInt32(MDB_RDONLY), holding: .slot(slot))
        unsafe slot.keep(txn, generation: generation)
        return unsafe txn
    }

    /// A read inside a read of the same thread: its own transaction, begun and ended here. The
    /// outer read holds the thread's slot, which already keeps a map adoption out.
    private func nestedRead<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        let txn = unsafe try begin(flags: UInt32(MDB_RDONLY), holding: nil)
        defer { unsafe mdb_txn_abort(txn) }
        return try unsafe body(ReadTransaction(handle: txn))
    }

    private func makeReaderSlot() -> ReaderSlot {
        let slot = ReaderSlot()
        readerSlots.withLock { slots in
            slots.removeAll { $0.retired.load(ordering: .acquiring) }
            slots.append(slot)
        }
        return slot
    }

    /// Resets the kept snapshots that are no longer the newest (a transaction was committed since,
    /// here or by another process) or that were not used since the last call, of every thread
    /// not reading right now: an old snapshot stops LMDB from reusing the pages freed after it,
    /// so the file would grow by what is written while a thread sits idle. The thread's next read
    /// renews it. A commit of this process does this for the other threads at once; a serving
    /// process calls it ten times a second for commits of other processes.
    public func releaseIdleReaders() {
        releaseReaders(unused: true)
    }

    private func releaseReaders(unused: Bool) {
        let slots = readerSlots.withLock { slots in
            slots.removeAll { $0.retired.load(ordering: .acquiring) }
            return slots
        }
        let generation = databasesGeneration.load(ordering: .acquiring)
        let lastCommitted = lastCommittedTransaction()
        for slot in slots where slot.tryLock() {
            slot.sweep(generation: generation, lastCommitted: lastCommitted, unused: unused)
            slot.unlock()
        }
    }

    /// How many threads keep a snapshot of this environment (live reader slots of this process).
    public var keptSnapshots: Int {
        let slots = readerSlots.withLock { slots in slots }
        var count = 0
        for slot in slots {
            slot.lock()
            if slot.holdsSnapshot { count += 1 }
            slot.unlock()
        }
        return count
    }

    /// Runs `body` in a write transaction and commits it when `body` returns.
    ///
    /// When `body` throws, the transaction is aborted and the error rethrown: nothing it wrote
    /// is kept. A failed commit (`mapFull`, `inputOutput`, `noSpace`, `panic`) is thrown and the
    /// write must not be acknowledged. LMDB allows one write transaction at a time across all
    /// processes; this call waits for the lock, and when the calling thread committed the host's
    /// last transaction it first lets a writer that waits take it (``handOverWriteLock(maxWait:)``).
    ///
    /// - Warning: Do no I/O and no waiting inside `body`: every other writer of the host waits.
    /// - Throws: what `body` throws, or ``LMDBError``.
    @available(*, noasync)
    public func write<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        do {
            return try writeOnce(body)
        } catch let error as LMDBError where error.code == LMDBError.mapFull.code {
            // Another process may have opened with a larger map and recorded it in the file while
            // this process still maps the old size: adopt the recorded size and retry once (L7).
            guard try adoptRecordedMapSize() else { throw error }
            return try writeOnce(body)
        }
    }

    private func writeOnce<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        debugCheckPID()
        if panicked.load(ordering: .relaxed) { throw LMDBError.panic }
        if committedLast() { handOverWriteLock() }
        // Lock order: a write inside a read would wait for the quiesce lock while holding its
        // slot, which a map adoption holding the quiesce lock waits for.
        assert(ReaderSlot.existing(for: serial)?.inRead != true, "a write inside a read of the same thread")
        unsafe pthread_rwlock_rdlock(quiesce)
        defer { unsafe pthread_rwlock_unlock(quiesce) }
        writerSlot.startWaiting()
        let transaction: WriteTransaction
        do {
            transaction = unsafe WriteTransaction(handle: try begin(flags: 0, holding: .quiesce))
            writerSlot.stopWaiting()
        } catch {
            writerSlot.stopWaiting()
            throw error
        }
        writerSlot.hold(since: WriterSlot.now())
        defer { writerSlot.release() }
        let result = try body(transaction)
        let transactionID = unsafe Int(mdb_txn_id(transaction.handle))
        do {
            try transaction.commit()
            noteCommit(transactionID)
            // Every kept snapshot is now old (this thread's too): let go of those not in a read.
            releaseReaders(unused: false)
        } catch {
            // A failed commit is fatal only when LMDB itself says so: MDB_PANIC, or the state it
            // enters when a meta page could not be written (the next begin answers MDB_PANIC).
            // A failed data-page write (a short write on a full disk is EIO) leaves the file as
            // it was before this transaction: the write is refused and the process goes on.
            if error.code == LMDBError.panic.code || lmdbReportsPanic() { panicked.store(true, ordering: .relaxed) }
            throw error
        }
        return result
    }

    /// Whether LMDB has marked the environment unusable (`MDB_FATAL_ERROR`, set when a meta
    /// page write failed): a read transaction then cannot begin and answers `MDB_PANIC`.
    private func lmdbReportsPanic() -> Bool {
        var txn: OpaquePointer?
        let code = unsafe mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
        if code == 0, let txn = unsafe txn { unsafe mdb_txn_abort(txn) }
        return code == MDB_PANIC
    }

    /// What the caller of ``begin(flags:holding:)`` holds that a map adoption needs released.
    private enum Held {
        case quiesce
        case slot(ReaderSlot)
    }

    /// `mdb_txn_begin` with the recovery rules of DESIGN.md §3: a grown map is adopted and the
    /// begin retried; a full reader table is cleared of dead processes and retried once.
    /// A nested read (`holding` nil) cannot adopt a grown map: its thread holds a live snapshot.
    private func begin(flags: UInt32, holding held: Held?) throws(LMDBError) -> OpaquePointer {
        var retriedReaders = false
        var resizes = 0
        while true {
            var txn: OpaquePointer?
            let code = unsafe mdb_txn_begin(handle, nil, flags, &txn)
            if code == 0, let txn = unsafe txn { return unsafe txn }
            switch code {
            case MDB_MAP_RESIZED where resizes < 3 && held != nil:
                resizes += 1
                try adoptGrownMap(holding: held)
            case MDB_READERS_FULL where !retriedReaders:
                retriedReaders = true
                _ = try checkStaleReaders()
            default:
                try noteFatal(code)
                throw LMDBError(code: code)
            }
        }
    }

    private func noteFatal(_ code: Int32) throws(LMDBError) {
        if code == MDB_PANIC { panicked.store(true, ordering: .relaxed) }
    }

    /// Another process wrote beyond our mapping: wait until no transaction of this process is
    /// live, then `mdb_env_set_mapsize(env, 0)` adopts the size recorded in the file (L7).
    /// What the caller holds (the quiesce lock shared, or its reader slot) is released around the
    /// exclusive section.
    private func adoptGrownMap(holding held: Held?) throws(LMDBError) {
        switch held {
        case .quiesce: unsafe pthread_rwlock_unlock(quiesce)
        case .slot(let slot): slot.unlock()
        case nil: break
        }
        defer {
            switch held {
            case .quiesce: unsafe pthread_rwlock_rdlock(quiesce)
            case .slot(let slot): slot.lock()
            case nil: break
            }
        }
        _ = try adoptRecordedMapSize()
    }

    /// Takes the quiesce lock exclusively and every reader slot (no transaction of this process
    /// is live once the kept snapshots are reset), adopts the map size recorded in the file if
    /// it is larger than ours, and reports whether it was. Must be called holding neither.
    private func adoptRecordedMapSize() throws(LMDBError) -> Bool {
        unsafe pthread_rwlock_wrlock(quiesce)
        defer { unsafe pthread_rwlock_unlock(quiesce) }
        return try readerSlots.withLock { (slots) throws(LMDBError) -> Bool in
            for slot in slots { slot.lock() }
            defer { for slot in slots { slot.unlock() } }
            for slot in slots { slot.reset() }
            let before = try info().mapSize
            // Reset readers hold no snapshot; mdb_env_set_mapsize only refuses a live write txn.
            try LMDBError.check(unsafe mdb_env_set_mapsize(handle, 0))
            let after = try info().mapSize
            if after > before { mapResizes.add(1, ordering: .relaxed) }
            return after > before
        }
    }

    @inline(__always)
    private func debugCheckPID() {
        // L8: an environment must not be used after fork(); the child inherits our slots.
        assert(getpid() == openPID, "LMDB environment used in a forked child")
    }

    // MARK: Databases

    /// Opens (creating it if needed) the named database `name`.
    ///
    /// Open every database once at startup, before other threads use the environment, and keep
    /// the handle for the life of the process (L17); handles are never closed.
    ///
    /// - Throws: ``LMDBError`` (`databasesFull`, `mapFull`, …).
    @available(*, noasync)
    public func openDatabase(named name: String) throws -> Database {
        let database = try write { txn in
            var dbi: MDB_dbi = 0
            try LMDBError.check(unsafe mdb_dbi_open(txn.handle, name, UInt32(MDB_CREATE), &dbi))
            return Database(handle: dbi, name: name)
        }
        databasesGeneration.add(1, ordering: .releasing)
        return database
    }

    /// Opens the named databases `names` if they all exist, in one read transaction: no writer
    /// lock is needed, so a process can start (or a command run) while another process holds
    /// the writer lock. - Returns: the handles in order, or nil when one does not exist yet.
    @available(*, noasync)
    public func openExistingDatabases(named names: [String]) throws(LMDBError) -> [Database]? {
        debugCheckPID()
        unsafe pthread_rwlock_rdlock(quiesce)
        defer { unsafe pthread_rwlock_unlock(quiesce) }
        let txn = unsafe try begin(flags: UInt32(MDB_RDONLY), holding: .quiesce)
        var databases: [Database] = []
        for name in names {
            var dbi: MDB_dbi = 0
            let code = unsafe mdb_dbi_open(txn, name, 0, &dbi)
            if code == MDB_NOTFOUND {
                unsafe mdb_txn_abort(txn)
                return nil
            }
            guard code == 0 else {
                unsafe mdb_txn_abort(txn)
                throw LMDBError(code: code)
            }
            databases.append(Database(handle: dbi, name: name))
        }
        // Committing a read-only transaction keeps the handles it opened for the environment.
        try LMDBError.check(unsafe mdb_txn_commit(txn))
        databasesGeneration.add(1, ordering: .releasing)
        return databases
    }

    // MARK: Maintenance and inspection

    /// Clears reader slots left by processes that died (`mdb_reader_check`).
    ///
    /// Call at open (done by ``open(path:options:)``) and periodically (every 10 s in a
    /// server): a dead reader's snapshot otherwise stops page reuse and the file grows (L1).
    /// - Returns: how many stale slots were cleared.
    @discardableResult
    public func checkStaleReaders() throws(LMDBError) -> Int {
        var dead: Int32 = 0
        try LMDBError.check(unsafe mdb_reader_check(handle, &dead))
        if dead > 0 { staleReadersCleared.add(Int(dead), ordering: .relaxed) }
        return Int(dead)
    }

    /// Stale reader slots this process has cleared since it opened the environment.
    public var staleReadersClearedTotal: Int { staleReadersCleared.load(ordering: .relaxed) }

    /// How often this process adopted a map grown by another process (`MDB_MAP_RESIZED`).
    public var mapResizeCount: Int { mapResizes.load(ordering: .relaxed) }

    /// True once LMDB reported `MDB_PANIC` (or failed to write a meta page): the process must stop
    /// writing and exit non-zero so that its supervisor restarts it (L9, L11).
    public var isPanicked: Bool { panicked.load(ordering: .relaxed) }

    /// The process holding the write lock and since when (epoch milliseconds), when it is a
    /// bomflow process (they record themselves in `bomflow.writer` while they hold it).
    public func writeLockHolder() -> (pid: Int32, since: Int64)? { writerSlot.holder() }

    /// Whether the calling thread committed the last write transaction of the host (no other
    /// thread or process has committed since): it is about to take the write lock again.
    private func committedLast() -> Bool {
        guard lastCommitThread.load(ordering: .relaxed) == UInt(pthread_self()) else { return false }
        let transaction = lastCommitTransaction.load(ordering: .relaxed)
        return transaction != 0 && lastCommittedTransaction() == transaction
    }

    /// Records that the calling thread has just committed the write transaction `transaction`
    /// (its `mdb_txn_id`, taken before the commit; ``committedLast()``). A transaction that
    /// changed nothing commits no ID (`me_last_txnid` stays below it), so it does not count.
    private func noteCommit(_ transaction: Int) {
        lastCommitTransaction.store(transaction, ordering: .relaxed)
        lastCommitThread.store(UInt(pthread_self()), ordering: .relaxed)
    }

    /// Lets a thread of the host that waits for the write lock take it before the calling
    /// thread's next write transaction; ``write(_:)`` calls it when the caller committed the
    /// host's last transaction, so the lock goes round the waiting writers instead of staying
    /// with one of them.
    ///
    /// LMDB's writer mutex is not fair: a thread that commits and begins again at once takes
    /// the lock back before a waiter woken by the unlock has run, so back-to-back transactions
    /// (a maintenance pass's batches, or a busy API writer's groups) can keep another writer
    /// waiting until it times out. When the host-wide count of waiting writers (`bomflow.writer`)
    /// is above what this process has learned to be stale, this sleeps in steps of 50 µs until a
    /// waiter has taken the lock (a holder is recorded, the count fell, or a transaction
    /// committed) or `maxWait` has passed; a count nobody answers within `maxWait` (a waiter was
    /// killed) is remembered as stale until the count falls below it.
    ///
    /// - Returns: true when a waiting writer went first; false when none waited or none took the
    ///   lock within `maxWait`.
    @discardableResult
    func handOverWriteLock(maxWait: Duration = .milliseconds(50)) -> Bool {
        let waiting = writerSlot.waiting()
        var stale = staleWaiters.load(ordering: .relaxed)
        if waiting < stale {
            stale = max(waiting, 0)
            staleWaiters.store(stale, ordering: .relaxed)
        }
        guard waiting > stale else { return false }
        let committed = lastCommittedTransaction()
        let deadline = ContinuousClock.now + maxWait
        repeat {
            _ = usleep(50)
            if writerSlot.holder() != nil || writerSlot.waiting() < waiting
                || lastCommittedTransaction() != committed
            {
                handOvers.add(1, ordering: .relaxed)
                return true
            }
        } while ContinuousClock.now < deadline
        staleWaiters.store(waiting, ordering: .relaxed)
        return false
    }

    /// How often a writer of this process let a waiting writer take the lock first
    /// (``handOverWriteLock(maxWait:)``).
    public var writeLockHandOvers: Int { handOvers.load(ordering: .relaxed) }

    /// `me_last_txnid` of `mdb_env_info`, or nil when it cannot be read.
    private func lastCommittedTransaction() -> Int? {
        var info = unsafe MDB_envinfo()
        guard unsafe mdb_env_info(handle, &info) == 0 else { return nil }
        return unsafe info.me_last_txnid
    }

    /// Bytes an unprivileged writer may still use on the file system holding the environment
    /// (`statvfs`: available blocks × fragment size), or nil when it cannot be read.
    public func availableDiskBytes() -> Int? {
        var info = statvfs()
        guard unsafe statvfs(path, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// Map size, use, last transaction ID and reader slots (`mdb_env_info` + `mdb_env_stat`).
    public func info() throws(LMDBError) -> Info {
        var envInfo = unsafe MDB_envinfo()
        var stat = MDB_stat()
        try LMDBError.check(unsafe mdb_env_info(handle, &envInfo))
        try LMDBError.check(unsafe mdb_env_stat(handle, &stat))
        return unsafe Info(
            mapSize: envInfo.me_mapsize,
            usedBytes: (envInfo.me_last_pgno + 1) * Int(stat.ms_psize),
            pageSize: Int(stat.ms_psize),
            lastTransactionID: envInfo.me_last_txnid,
            maxReaders: Int(envInfo.me_maxreaders),
            readerSlotsUsed: Int(envInfo.me_numreaders))
    }

    /// The live entries of the reader table, one per slot in use: `(pid, transaction ID)`.
    /// A transaction ID of `nil` is a reset (idle) slot.
    public func readers() throws(LMDBError) -> [(pid: Int32, transactionID: Int?)] {
        let lines = ReaderLines()
        let code = withExtendedLifetime(lines) {
            unsafe mdb_reader_list(
                handle,
                { message, context in
                    guard let message = unsafe message, let context = unsafe context else { return 0 }
                    let box = unsafe Unmanaged<ReaderLines>.fromOpaque(context).takeUnretainedValue()
                    box.lines.append(unsafe String(cString: message))
                    return 0
                }, unsafe Unmanaged.passUnretained(lines).toOpaque())
        }
        if code < 0 { throw LMDBError(code: code) }
        return lines.lines.compactMap(Self.parseReaderLine)
    }

    private final class ReaderLines { var lines: [String] = [] }

    static func parseReaderLine(_ line: String) -> (pid: Int32, transactionID: Int?)? {
        // mdb_reader_list prints "    pid     thread     txnid\n" then one "%10d %zx %s\n" line a
        // slot (the transaction ID, or "-" for a reset slot); each line ends with its newline.
        let fields = line.split(omittingEmptySubsequences: true) { $0 == " " || $0 == "\n" }
        guard fields.count == 3, let pid = Int32(fields[0]) else { return nil }
        return (pid, fields[2] == "-" ? nil : Int(fields[2]))
    }

    /// Writes a consistent copy into the new file `file` (created `O_EXCL` with mode 0600, so a
    /// copy is never more readable than the data) and syncs it before returning
    /// (`mdb_env_copyfd2`). A failed or killed copy leaves only that file, under its own name.
    public func copy(toNewFile file: String, compact: Bool = true) throws(LMDBError) {
        let fd = unsafe Glibc.open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(0o600))
        guard fd >= 0 else { throw LMDBError(code: errno) }
        defer { _ = Glibc.close(fd) }
        try LMDBError.check(unsafe mdb_env_copyfd2(handle, fd, compact ? UInt32(MDB_CP_COMPACT) : 0))
        guard fsync(fd) == 0 else { throw LMDBError(code: errno) }
    }

    private static func createDirectory(_ path: String, mode: mode_t) throws(LMDBError) {
        if unsafe mkdir(path, mode) != 0 && errno != EEXIST { throw LMDBError(code: errno) }
    }
}

/// Device and inode of a directory: the identity of an environment within a host.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    init(path: String) throws(LMDBError) {
        var info = stat()
        if unsafe stat(path, &info) != 0 { throw LMDBError(code: errno) }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

private struct WeakEnvironment {
    weak var environment: Environment?
}

/// A named database inside an ``Environment`` (an `MDB_dbi`). Valid for the life of the
/// environment; obtained once at startup from ``Environment/openDatabase(named:)``.
public struct Database: Sendable, Hashable {
    let handle: UInt32
    /// The database's name.
    public let name: String
}

/// Called by LMDB just before it aborts on a failed assertion: one line on stderr that names the
/// data directory and the way out.
private let lmdbAssertionHandler: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void = {
    env, message in
    var path: UnsafePointer<CChar>?
    let directory =
        unsafe env.flatMap { unsafe mdb_env_get_path($0, &path) == 0 ? path : nil }.map { unsafe String(cString: $0) }
        ?? "the data directory"
    let what = unsafe message.map { unsafe String(cString: $0) } ?? "unknown"
    let line =
        "bomflow: LMDB stopped on damaged data in \(directory) (assertion: \(what)); stop every process of this "
        + "data directory, run `bomflow check --data-dir \(directory)`, and restore a backup with `bomflow restore`\n"
    let bytes = Array(line.utf8)
    _ = unsafe bytes.withUnsafeBytes { unsafe write(2, $0.baseAddress, $0.count) }
}
