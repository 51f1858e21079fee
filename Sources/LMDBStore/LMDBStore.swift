internal import FoundationEssentials
internal import LMDB
public import Storage
internal import Synchronization
public import WorkflowModel

#if canImport(Glibc)
    internal import Glibc
#endif

/// The workflow state of DESIGN.md §1 on LMDB (§3): every operation is one write transaction
/// (or a batch of operations shares one), every read one read transaction.
///
/// Several processes may open the same directory at once; LMDB serialises their writes and
/// each sees the others' commits at its next transaction. Within a process, open each
/// directory once and share the store (it is `Sendable`); a second ``init(path:options:)``
/// for the same directory reuses the process's environment.
///
/// It conforms to ``WorkflowStorage`` (module Storage), the protocol the API and the CLI use;
/// what is LMDB's own (statistics, backup, restore, integrity check) is here alone.
public final class LMDBStore: WorkflowStorage {
    /// The on-disk format this build writes and reads (docs/STORAGE.md).
    public static let formatVersion: UInt32 = 9

    /// The options the store was opened with.
    public let options: StoreOptions
    /// The data directory.
    public let path: String

    let environment: Environment
    /// Held shared for the store's life, so that `bomflow restore` knows the directory is in use.
    let directoryLock: DirectoryLock
    let databases: Databases
    /// Identifies this store instance in the host-wide maintenance lease.
    let ownerID: UInt64
    /// Set while writes are refused for lack of space (``condition()``).
    let fullness = Mutex<Fullness?>(nil)
    /// Set when the map size asked for was smaller than the one the file records (which is used).
    public let mapSizeNotice: String?

    /// The named databases (docs/STORAGE.md has their key layouts).
    struct Databases: Sendable {
        /// Every name, in the order ``init(_:)`` expects the handles.
        static let names = [
            "meta", "tokens", "workflows", "steps", "processing", "done", "deadlines", "finished", "labels", "keys",
            "ready", "leases", "boms", "queues", "projects", "project-names", "webhooks", "outbox", "outbox-due",
            "outbox-order", "outbox-pending", "outbox-finished", "outbox-dead", "queue-counts", "paused", "history",
        ]

        let meta: Database
        let tokens: Database
        let workflows: Database
        let steps: Database
        let processing: Database
        let done: Database
        let deadlines: Database
        let finished: Database
        let labels: Database
        let keys: Database
        let ready: Database
        let leases: Database
        let boms: Database
        let queues: Database
        let projects: Database
        let projectNames: Database
        let webhooks: Database
        let outbox: Database
        let outboxDue: Database
        let outboxOrder: Database
        let outboxPending: Database
        let outboxFinished: Database
        let outboxDead: Database
        let queueCounts: Database
        let paused: Database
        let history: Database

        /// The handles opened for ``names``, found by name.
        init(_ handles: [Database]) {
            let byName = Dictionary(uniqueKeysWithValues: handles.map { ($0.name, $0) })
            func handle(_ name: String) -> Database { byName[name]! }
            (meta, tokens, workflows, steps) = (handle("meta"), handle("tokens"), handle("workflows"), handle("steps"))
            (processing, done, deadlines, finished) = (
                handle("processing"), handle("done"), handle("deadlines"), handle("finished")
            )
            (labels, keys, ready, leases) = (handle("labels"), handle("keys"), handle("ready"), handle("leases"))
            (boms, queues, projects, projectNames) = (
                handle("boms"), handle("queues"), handle("projects"), handle("project-names")
            )
            (webhooks, outbox, outboxDue, outboxOrder) = (
                handle("webhooks"), handle("outbox"), handle("outbox-due"), handle("outbox-order")
            )
            (outboxPending, outboxFinished, outboxDead) = (
                handle("outbox-pending"), handle("outbox-finished"), handle("outbox-dead")
            )
            (queueCounts, paused, history) = (handle("queue-counts"), handle("paused"), handle("history"))
        }
    }

    /// Opens (creating if needed) the store in the directory `path`.
    ///
    /// - Throws: ``StoreError`` — `newerFormat` when a newer bomflow wrote the directory,
    ///   `failed` for permission and file problems, `storageFull` when even the metadata
    ///   cannot be written.
    public init(path: String, options: StoreOptions = StoreOptions()) throws(StoreError) {
        guard options.stepTimeout > 0, options.retention > 0, options.maintenanceBatchSize > 0,
            options.maintenanceLease > 0
        else { throw .failed("step timeout, retention, batch size and lease must be positive") }
        self.options = options
        self.path = path
        var random = SystemRandomNumberGenerator()
        self.ownerID = random.next()
        do { try Location.check(directory: path) } catch { throw .unsafeLocation(error.description) }
        do {
            self.directoryLock = try DirectoryLock(directory: path, mode: .shared)
        } catch .tryAgain {
            throw .unavailable("\(path) is being restored; try again when the restore has finished")
        } catch {
            throw .failed("cannot lock \(path)/\(DirectoryLock.fileName): \(error)")
        }
        let recorded = try Self.checkFiles(in: path)
        // Never a smaller map than the file records: other processes may use it, and LMDB would
        // adopt it at the first transaction anyway. Said once, by mapSizeNotice.
        var mapSize = options.mapSize
        if let recorded, recorded.mapSize > mapSize {
            mapSizeNotice =
                "\(path)/data.mdb records a map size of \(recorded.mapSize) bytes, more than the \(mapSize) asked for; "
                + "the recorded size is used"
            mapSize = recorded.mapSize
        } else {
            mapSizeNotice = nil
        }
        do {
            let environment = try Environment.open(
                path: path,
                options: Environment.Options(
                    mapSize: mapSize, maxReaders: options.maxReaders, maxDatabases: 32,
                    sync: options.durability == .full ? .full : .none, readOnly: options.readOnly))
            self.environment = environment
            // Existing databases open in a read transaction (no writer lock: a starting process
            // and the read-only commands work while another process holds it); only a new store
            // creates them in a write transaction.
            var handles = try environment.openExistingDatabases(named: Databases.names)
            if handles == nil {
                guard !options.readOnly else {
                    throw StoreError.failed(
                        "\(path) holds no complete bomflow store of format \(Self.formatVersion); if an older bomflow "
                            + "wrote it, open it once with a writing command (e.g. `bomflow serve`) to migrate it")
                }
                handles = try Databases.names.map { name in try environment.openDatabase(named: name) }
            }
            self.databases = Databases(handles ?? [])
        } catch {
            throw Self.storeError(error)
        }
        try checkFormat()
        if !options.readOnly {
            try checkSyncMode()
            try Self.writeMarker(in: path)
            // A larger map than the file records is recorded at once (a commit writes the size
            // into the meta page), so that processes with a smaller map adopt it before they run
            // out of theirs. The only write at open of an existing store, and only then.
            if let recorded, mapSize > recorded.mapSize {
                try write { txn in
                    var writer = ByteWriter(capacity: 8)
                    writer.append(UInt64(mapSize))
                    try txn.put(writer.bytes, forKey: Keys.mapSize, in: databases.meta)
                }
            }
        }
    }

    /// The file that says a directory holds a bomflow store (written once the store exists).
    public static let markerName = "bomflow.store"

    /// Before LMDB maps anything: a `data.mdb` shorter than its last page is refused (mapping it
    /// would fault), and so is a directory whose marker says it held a store while `data.mdb` is
    /// missing or empty (a new, empty store would answer "not processing" for every token and
    /// bootstrap a new key). Both are ``StoreError/corrupted(_:)``; the CLI exits 65.
    /// - Returns: what the newest meta page says, when there is a data file.
    @discardableResult
    static func checkFiles(in path: String) throws(StoreError) -> DataFile.Meta? {
        let data = path + "/data.mdb"
        let held = FileManager.default.fileExists(atPath: path + "/" + markerName)
        let restore = "restore a backup with `bomflow restore`"
        guard FileManager.default.fileExists(atPath: data) else {
            if held { throw .corrupted("\(data) is missing, but this directory held a bomflow store; \(restore)") }
            return nil
        }
        do {
            return try DataFile(path: data).meta
        } catch .empty {
            if held { throw .corrupted("\(data) is empty, but this directory held a bomflow store; \(restore)") }
            return nil
        } catch {
            throw .corrupted("\(error); \(restore)")
        }
    }

    /// Writes the marker (once; mode 0600, synced) when the directory holds a store.
    static func writeMarker(in path: String) throws(StoreError) {
        let marker = path + "/" + markerName
        guard !FileManager.default.fileExists(atPath: marker) else { return }
        let text = "bomflow data directory (format \(formatVersion)); its data.mdb must not be empty or missing\n"
        guard
            FileManager.default.createFile(
                atPath: marker, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { throw .failed("cannot write \(marker)") }
        do {
            try synchronize(marker)
            try synchronize(path)
        } catch {
            throw .failed("cannot sync \(marker): \(error)")
        }
    }

    /// Every process that writes to one data directory must use the same `--sync`: LMDB without
    /// sync (`MDB_NOSYNC`) may leave the file corrupt after an OS crash, and that takes the data
    /// that `--sync full` processes acknowledged with it. The mode is recorded in the store; a
    /// process with the other mode is refused while another holds the directory, and changes
    /// the record when it is alone (the operator changed the mode of all processes).
    private func checkSyncMode() throws(StoreError) {
        let ours: UInt8 = options.durability == .full ? 1 : 0
        let recorded: UInt8? = try read { txn in
            try txn.withValue(forKey: Keys.syncMode, in: databases.meta) { span in span.isEmpty ? 0 : span[0] }
        }
        if recorded == ours { return }
        if let recorded, !directoryLock.isSoleHolder() {
            let theirs = recorded == 1 ? "full" : "none"
            let mine = ours == 1 ? "full" : "none"
            throw .unsafeLocation(
                "\(path) is in use by a process with --sync \(theirs), and this one has --sync \(mine): without sync an "
                    + "OS crash can corrupt the file and lose what the synced processes acknowledged; use the same "
                    + "--sync (BOMFLOW_SYNC) for every process of the directory, or stop them all to change it")
        }
        try write { txn in try txn.put([ours], forKey: Keys.syncMode, in: databases.meta) }
    }

    private func checkFormat() throws(StoreError) {
        let found: UInt32? = try read { txn in
            try txn.withValue(forKey: Keys.formatVersion, in: databases.meta) { span in
                var reader = ByteReader()
                return UInt32(try reader.uint16(span)) << 16 | UInt32(try reader.uint16(span))
            }
        }
        if let found {
            guard found <= Self.formatVersion else { throw .newerFormat(found: found, supported: Self.formatVersion) }
            if found < Self.formatVersion {
                guard !options.readOnly else {
                    throw .failed("the store has format \(found); open it once with a writing command to migrate it")
                }
                try migrateReadyIndex()
            }
            return
        }
        guard !options.readOnly else { throw .failed("\(path) holds no bomflow store (no format version)") }
        try write { txn in
            guard try txn.value(forKey: Keys.formatVersion, in: databases.meta) == nil else { return }
            var writer = ByteWriter(capacity: 4)
            writer.append(Self.formatVersion)
            try txn.put(writer.bytes, forKey: Keys.formatVersion, in: databases.meta)
        }
    }

    /// Migrates an older store in one transaction (another process that migrated first makes
    /// it a no-op). Version 2 added the `ready` and `leases` indexes (version 1 had no claims, so
    /// `leases` starts empty); version 3 BOMs, projects and concurrency queues, version 4 webhooks
    /// and the outbox (their databases are created at open, empty, which is their state in every
    /// older store); version 5 put the workflow's priority into `ready` keys and added the queue
    /// counters and pauses, so from an older one the `ready` index and the counters are rebuilt
    /// from every workflow's state (a step without `readyAt` takes its `updatedAt`, as
    /// `loadWorkflow` does); version 6 added the event history (`history`, empty for the workflows
    /// already stored); version 7 put the token status into each `tokens` entry (the poll's one
    /// lookup), taken from each workflow's state, and moved the events from `history` into
    /// `steps` after each workflow's rows; version 8 files deadlines lazily (a step row may carry
    /// the earlier time its `deadlines` entry is filed at; every older entry is at its step's
    /// `updatedAt`, which is right in version 8 too, so nothing is rewritten); version 9 moved
    /// each workflow record from `workflows` into `steps` before its rows, leaving `workflows` an
    /// index of IDs with empty values (that move runs first: the older steps load workflows the
    /// version-9 way). The current version is recorded.
    private func migrateReadyIndex() throws(StoreError) {
        try write { txn in
            let current = try txn.withValue(forKey: Keys.formatVersion, in: databases.meta) { span in
                var reader = ByteReader()
                return UInt32(try reader.uint16(span)) << 16 | UInt32(try reader.uint16(span))
            }
            guard let current, current < Self.formatVersion else { return }
            if current < 9 { try moveWorkflowRecords(in: txn) }
            if current < 5 { try rebuildReadyIndex(in: txn) }
            if current < 7 {
                try addTokenStatuses(in: txn)
                try moveFormatSixHistory(in: txn)
            }
            var writer = ByteWriter(capacity: 4)
            writer.append(Self.formatVersion)
            try txn.put(writer.bytes, forKey: Keys.formatVersion, in: databases.meta)
        }
    }

    /// Every workflow record moves from `workflows` into `steps` at the workflow's ID, before its
    /// rows; the `workflows` entry stays, empty (format 9). Before format 9 every entry held a
    /// record, so an empty one is a damaged store, not something to skip. Reads 10,000 entries at
    /// a time and writes them with the cursor closed.
    private func moveWorkflowRecords(in txn: borrowing WriteTransaction) throws {
        var resume: [UInt8]? = nil
        repeat {
            var records: [([UInt8], [UInt8])] = []
            resume = try txn.withCursor(databases.workflows) { cursor in
                var more = if let resume { try cursor.seek(atOrAfter: resume + [0]) } else { try cursor.first() }
                while more {
                    let (key, value) = (cursor.key, cursor.value)
                    guard key.count == 8 else { throw StoreError.corrupted("workflow key of \(key.count) bytes") }
                    guard !value.isEmpty else {
                        throw StoreError.corrupted(
                            "workflow \(loadUInt64(key, at: 0)) has an empty record in workflows")
                    }
                    records.append((key, value))
                    if records.count == 10_000 { return key }
                    more = try cursor.next()
                }
                return nil
            }
            for (key, record) in records {
                try txn.put(record, forKey: key, in: databases.steps)
                try txn.put([], forKey: key, in: databases.workflows)
            }
        } while resume != nil
    }

    /// The `ready` index and the queue counters from every workflow's state (format 5).
    private func rebuildReadyIndex(in txn: borrowing WriteTransaction) throws {
        for database in [databases.ready, databases.queueCounts] {
            var stale: [[UInt8]] = []
            try txn.withCursor(database) { cursor in
                var more = try cursor.first()
                while more {
                    stale.append(cursor.key)
                    more = try cursor.next()
                }
            }
            for key in stale { _ = try txn.delete(key, in: database) }
        }
        var ids: [UInt64] = []
        try txn.withCursor(databases.workflows) { cursor in
            var more = try cursor.first()
            while more {
                ids.append(cursor.withCurrent { key, _ in loadUInt64(key, at: 0) })
                more = try cursor.next()
            }
        }
        for id in ids {
            guard let workflow = try loadWorkflow(id: id, in: txn) else { continue }
            for entry in indexEntries(of: workflow, id: id) where entry.table == .ready {
                try txn.put([], forKey: entry.key, in: databases.ready)
            }
            try adjustQueueCounts(from: nil, to: workflow, in: txn)
        }
    }

    /// Every `tokens` entry of format 6 (the workflow ID alone) gains its workflow's token status (format 7).
    private func addTokenStatuses(in txn: borrowing WriteTransaction) throws {
        var entries: [([UInt8], UInt64)] = []
        try txn.withCursor(databases.tokens) { cursor in
            var more = try cursor.first()
            while more {
                if let id = cursor.withCurrent({ key, value in value.count == 8 ? loadUInt64(value, at: 0) : nil }) {
                    entries.append((cursor.key, id))
                }
                more = try cursor.next()
            }
        }
        for (token, id) in entries {
            guard let workflow = try loadWorkflow(id: id, in: txn) else {
                throw StoreError.corrupted("token entry for workflow \(id), which has no record")
            }
            try txn.put(Keys.tokenEntry(id, workflow.tokenStatus), forKey: token, in: databases.tokens)
        }
    }

    // MARK: Transactions with error mapping

    func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws(StoreError) -> R {
        do { return try environment.read(body) } catch { throw Self.storeError(error) }
    }

    func write<R>(_ body: (borrowing WriteTransaction) throws -> R) throws(StoreError) -> R {
        let result: R
        do { result = try environment.write(body) } catch {
            let failure = writeError(error)
            switch failure {
            case .storageFull, .diskFull:
                let available = environment.availableDiskBytes() ?? 0
                fullness.withLock { state in
                    if state == nil {
                        state = Fullness(
                            reason: failure.description, since: options.clock().milliseconds,
                            onDisk: failure != .storageFull, availableAtFailure: available)
                    }
                }
            default: break
            }
            throw failure
        }
        fullness.withLock { state in if state != nil { state = nil } }
        return result
    }

    /// A failed write's error. `ENOSPC`/`EDQUOT`, and `EIO` while the file system has (almost) no
    /// room (LMDB reports a short `writev` of a group's pages that way), mean a full disk: the
    /// transaction wrote nothing that counts, and the next one may succeed once space is freed.
    /// Any other `EIO` is a failing disk: refused with 503, not fatal unless LMDB says so.
    func writeError(_ error: any Error) -> StoreError {
        guard let error = error as? LMDBError else { return Self.storeError(error) }
        switch error.code {
        case ENOSPC, EDQUOT: return .diskFull(error.description)
        case EIO:
            if let available = environment.availableDiskBytes(), available < Self.nearlyFullBytes {
                return .diskFull("a short write of data.mdb with \(available) bytes left on the file system")
            }
            return .unavailable("an I/O error writing data.mdb (EIO); check the disk and the kernel log")
        default:
            return Self.storeError(error)
        }
    }

    /// Below this much free space a write error is taken as a full disk (LMDB writes a group's
    /// pages in one `writev`, so a commit can fail while a few MiB are still free).
    static let nearlyFullBytes = 64 << 20

    /// Set while writes are refused for lack of space; cleared by the next successful write.
    struct Fullness {
        let reason: String
        let since: Int64
        /// The disk (not the LMDB map) is full.
        let onDisk: Bool
        let availableAtFailure: Int
    }

    /// ``WorkflowStorage/condition()``: fatal, or full (until a write succeeds again or the file
    /// system has gained 1 MiB since the failure).
    public func condition() -> StorageCondition {
        var condition = StorageCondition()
        if environment.isPanicked { condition.fatal = "LMDB reported MDB_PANIC; this process must restart" }
        if let full = fullness.withLock({ $0 }) {
            let available = environment.availableDiskBytes() ?? 0
            // A full map stays full until a write succeeds; a full disk also ends when the file
            // system has gained room since the failure.
            let diskGainedRoom = full.onDisk && available >= full.availableAtFailure + (1 << 20)
            if !diskGainedRoom { condition.full = (full.reason, full.since) }
        }
        return condition
    }

    /// Maps an LMDB failure to the store's error: the one place where storage codes become
    /// the categories the API turns into statuses.
    static func storeError(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let error = error as? LMDBError else { return .failed(String(describing: error)) }
        switch error {
        case .mapFull: return .storageFull
        case .noSpace: return .diskFull(error.description)
        case .readersFull, .busy, .tryAgain, .transactionFull: return .unavailable(error.description)
        case .panic: return .fatal(error.description)
        case .inputOutput: return .unavailable("an I/O error (EIO); check the disk and the kernel log")
        case .corrupted, .invalid, .versionMismatch:
            return .corrupted(
                "\(error.description); run `bomflow check` and restore a backup with `bomflow restore` (docs/OPERATIONS.md)"
            )
        default: return .failed(error.description)
        }
    }

    // MARK: Writes

    /// Performs `operations` in one write transaction and one commit (group commit).
    ///
    /// Each operation is validated on its own: one that the model refuses gets its
    /// ``WorkflowError`` and changes nothing, while the others still apply. Later operations
    /// see the effects of earlier ones.
    ///
    /// - Returns: one result per operation, in order.
    /// - Throws: ``StoreError`` when the transaction fails as a whole (`storageFull`,
    ///   `fatal`, …): then nothing of the batch was written and nothing may be acknowledged.
    public func perform(_ operations: [WriteOperation]) throws(StoreError) -> [Result<WriteOutcome, WorkflowError>] {
        try perform([operations], admitting: { [true] })[0] ?? []
    }

    /// ``WorkflowStorage/perform(_:admitting:)``: `admit` runs once the write lock is held.
    public func perform(
        _ batches: [[WriteOperation]], admitting admit: () -> [Bool]
    ) throws(StoreError) -> [[Result<WriteOutcome, WorkflowError>]?] {
        try write { txn in
            let admitted = admit()
            let now = options.clock()
            return try WriteBatches.apply(batches, admitted: admitted) { operation, origin in
                try apply(operation, by: origin, in: txn, now: now)
            }
        }
    }

    /// ``WorkflowStorage/writeLockHolder()``: the bomflow process holding LMDB's write lock.
    public func writeLockHolder() -> (pid: Int32, since: Int64)? { environment.writeLockHolder() }

    // MARK: Index entries

    enum IndexTable: Hashable { case processing, done, deadlines, finished, labels, ready, leases }

    struct IndexEntry: Hashable {
        let table: IndexTable
        let key: [UInt8]
    }

    func database(_ table: IndexTable) -> Database {
        switch table {
        case .processing: databases.processing
        case .done: databases.done
        case .deadlines: databases.deadlines
        case .finished: databases.finished
        case .labels: databases.labels
        case .ready: databases.ready
        case .leases: databases.leases
        }
    }

    /// Every index entry a workflow in this state must have — derived, never stored
    /// separately, so that rows and indexes cannot disagree after a ``save``:
    /// - `processing` or `done`: the workflow's ID in the one that fits its state;
    /// - `deadlines`: each ready `PENDING` and each `TIMED_OUT` step, by `updatedAt` or, when
    ///   `filed` names the step, by that earlier time (lazy filing, ``deadlineFiling(from:deadlines:filed:to:now:)``);
    /// - `finished`: a workflow that is done, by its newest update;
    /// - `labels`: each label;
    /// - `ready`: each claimable step (ready, no lease), by name and `updatedAt` (which readiness bumps);
    /// - `leases`: each claimed step, by the end of its lease.
    ///
    /// No entry appears twice (each key holds the workflow's ID, and a step's ordinal where there
    /// can be several); an array, because a new workflow's entries are only put, never compared.
    func indexEntries(of workflow: Workflow, id: UInt64, filed: [Int: Timestamp] = [:]) -> [IndexEntry] {
        var entries: [IndexEntry] = []
        let processing = workflow.isProcessing
        entries.append(IndexEntry(table: processing ? .processing : .done, key: Keys.workflow(id)))
        if processing {
            // Readiness looked up once per step (it searches for the parent by name).
            let ready = workflow.steps.indices.map(workflow.isReady)
            for ordinal in workflow.steps.indices where Self.hasDeadline(workflow.steps[ordinal], ready: ready[ordinal])
            {
                let time = filed[ordinal] ?? workflow.steps[ordinal].updatedAt
                entries.append(IndexEntry(table: .deadlines, key: Keys.deadline(time, id, ordinal)))
            }
            for ordinal in workflow.steps.indices {
                if let claim = workflow.steps[ordinal].claim {
                    entries.append(IndexEntry(table: .leases, key: Keys.lease(claim.leaseExpiresAt, id, ordinal)))
                } else if ready[ordinal] {
                    let step = workflow.steps[ordinal]
                    entries.append(
                        IndexEntry(
                            table: .ready,
                            key: Keys.ready(
                                step.name, priority: workflow.priority, since: step.readyAt ?? step.updatedAt, id,
                                ordinal)))
                }
            }
        } else {
            entries.append(IndexEntry(table: .finished, key: Keys.finished(workflow.lastUpdatedAt, id)))
        }
        for label in workflow.labels {
            entries.append(IndexEntry(table: .labels, key: Keys.label(key: label.key, value: label.value, id)))
        }
        return entries
    }

    /// Whether a step of a processing workflow has a `deadlines` entry: it is ready and `PENDING`
    /// (it times out), or `TIMED_OUT` (it fails).
    static func hasDeadline(_ step: Step, ready: Bool) -> Bool { step.status == .timedOut || ready }

    /// The ordinals of the steps with a `deadlines` entry in this state.
    static func deadlineOrdinals(of workflow: Workflow) -> [Int] {
        guard workflow.isProcessing else { return [] }
        return workflow.steps.indices.filter { hasDeadline(workflow.steps[$0], ready: workflow.isReady($0)) }
    }

    // MARK: Reads

    /// Calls `body` with the workflow record of `id` (in `steps` at the ID, format 9), or returns nil.
    func withWorkflowRecord<T: TransactionReading & ~Copyable, R>(
        id: UInt64, in txn: borrowing T, _ body: (Span<UInt8>) throws -> R
    ) throws -> R? {
        try txn.withValue(forKey: Keys.workflow(id), in: databases.steps, body)
    }

    func workflowID<T: TransactionReading & ~Copyable>(for token: Token, in txn: borrowing T) throws -> UInt64? {
        try txn.withValue(forKey: token.bytes, in: databases.tokens) { span in
            // 8 bytes: an entry of format 6 (written by an older process during an upgrade).
            guard span.count == Keys.tokenEntryCount || span.count == 8 else {
                throw StoreError.corrupted("token entry of \(span.count) bytes")
            }
            return loadUInt64(span, at: 0)
        }
    }

    /// Loads the workflow record and its step rows: one cursor range over `steps`, the record
    /// at the workflow's ID and the rows after it (format 9).
    func loadWorkflow<T: TransactionReading & ~Copyable>(id: UInt64, in txn: borrowing T) throws -> Workflow? {
        let prefix = Keys.workflow(id)
        let loaded: (Workflow, [RecordCodec.StoredStep])? = try txn.withCursor(databases.steps) { cursor in
            guard try cursor.seek(atOrAfter: prefix) else { return nil }
            let record: Workflow? = try cursor.withCurrent { key, value in
                guard key.count == 8, loadUInt64(key, at: 0) == id else { return nil }
                return try RecordCodec.decodeWorkflow(value)
            }
            guard let record else { return nil }
            var rows: [RecordCodec.StoredStep] = []
            var more = try cursor.next()
            while more {
                let row: RecordCodec.StoredStep? = try cursor.withCurrent { key, value in
                    guard key.count == 9, loadUInt64(key, at: 0) == id else { return nil }
                    guard Int(key[8]) == rows.count else {
                        throw StoreError.corrupted("step ordinals of workflow \(id) have a gap")
                    }
                    return try RecordCodec.decodeStep(value)
                }
                guard let row else { break }
                rows.append(row)
                more = try cursor.next()
            }
            return (record, rows)
        }
        guard let loaded else { return nil }
        let (record, stored) = loaded
        var steps = stored.map(\.step)
        for (index, row) in stored.enumerated() {
            guard let parent = row.parentOrdinal else { continue }
            guard parent < steps.count else { throw StoreError.corrupted("parent ordinal \(parent) out of range") }
            steps[index].parent = steps[parent].name
        }
        var workflow = Workflow(
            token: record.token, createdAt: record.createdAt, template: record.template,
            createdBy: record.createdBy, labels: record.labels, version: record.version,
            definitionStepCount: record.definitionStepCount, steps: steps, concurrencyKey: record.concurrencyKey,
            isHeld: record.isHeld, priority: record.priority)
        // Records of format 1 carry no readyAt: their ready steps take updatedAt, which readiness
        // last bumped, so the ready index and later saves agree on the key.
        workflow.normalizeReadiness()
        return workflow
    }

    /// The workflow with this token, or nil.
    public func workflow(_ token: Token) throws(StoreError) -> Workflow? {
        try read { txn in
            guard let id = try workflowID(for: token, in: txn) else { return nil }
            return try loadWorkflow(id: id, in: txn)
        }
    }

    /// Dependency-Track's question: is any step of this token `PENDING` or `TIMED_OUT`?
    /// An unknown token is not processing.
    public func isProcessing(_ token: Token) throws(StoreError) -> Bool {
        switch try tokenStatus(token) {
        case .pending?, .running?: true
        case .completed?, .failed?, nil: false
        }
    }

    /// Dependency-Track 5's token status (``Workflow/tokenStatus``), nil for an unknown token.
    ///
    /// The poll path: one read transaction and one key lookup. Each `tokens` entry holds the
    /// workflow's ID and its token status, which every save that changes the status rewrites
    /// (format 7), so the poll never reads the workflow record.
    /// An entry of format 6 (the ID alone, written by an older process during an upgrade) is
    /// answered from the workflow's record.
    public func tokenStatus(_ token: Token) throws(StoreError) -> TokenStatus? {
        try read { txn in
            let key = token.inlineBytes
            let entry: TokenEntry? = try txn.withValue(forKey: key.span, in: databases.tokens) {
                span throws(StoreError) in
                if span.count == Keys.tokenEntryCount { return .status(try RecordCodec.tokenStatus(span[8])) }
                guard span.count == 8 else { throw StoreError.corrupted("token entry of \(span.count) bytes") }
                return .formatSix(id: loadUInt64(span, at: 0))
            }
            switch entry {
            case nil: return nil
            case .status(let status)?: return status
            case .formatSix(let id)?: return try loadWorkflow(id: id, in: txn)?.tokenStatus
            }
        }
    }

    /// What a `tokens` entry answers the poll with: the status, or (format 6) the ID alone.
    private enum TokenEntry {
        case status(TokenStatus)
        case formatSix(id: UInt64)
    }

    /// Lists workflows, newest first, filtered by a label and/or state, one page at a time.
    ///
    /// A page reads at most 10,000 index entries; when a filter matches rarely, a page may
    /// hold fewer than `limit` workflows and still carry a cursor to continue.
    /// A `limit` outside 1...1,000 is clamped.
    /// - Throws: ``StoreError``.
    /// Every workflow in the order it was stored (oldest first), `limit` (1...1,000) per call in
    /// one short read transaction: pass the returned cursor back until it is nil (`bomflow export`).
    public func exportPage(after position: UInt64?, limit: Int = 1000) throws(StoreError) -> WorkflowPage {
        let limit = min(max(limit, 1), 1000)
        return try read { txn in
            var ids: [UInt64] = []
            let exhausted: Bool = try txn.withCursor(databases.workflows) { cursor in
                var more =
                    if let position {
                        try cursor.seek(atOrAfter: Keys.workflow(position)) ? true : false
                    } else {
                        try cursor.first()
                    }
                while more {
                    let id: UInt64 = try cursor.withCurrent { key, _ in
                        guard key.count == 8 else { throw StoreError.corrupted("workflow key of \(key.count) bytes") }
                        return loadUInt64(key, at: 0)
                    }
                    if id != position {
                        ids.append(id)
                        if ids.count == limit { return !(try cursor.next()) }
                    }
                    more = try cursor.next()
                }
                return true
            }
            var workflows: [Workflow] = []
            workflows.reserveCapacity(ids.count)
            for id in ids {
                guard let workflow = try loadWorkflow(id: id, in: txn) else {
                    throw StoreError.corrupted("workflow \(id) vanished inside one transaction")
                }
                workflows.append(workflow)
            }
            return WorkflowPage(workflows: workflows, nextCursor: exhausted ? nil : ids.last)
        }
    }

    public func list(_ query: WorkflowQuery) throws(StoreError) -> WorkflowPage {
        let limit = min(max(query.limit, 1), 1000)
        let maxVisits = 10_000
        return try read { txn in
            let (database, prefix): (Database, [UInt8]) =
                if let label = query.label {
                    (databases.labels, Keys.labelPrefix(key: label.key, value: label.value))
                } else if let state = query.state {
                    (state == .processing ? databases.processing : databases.done, [])
                } else {
                    (databases.workflows, [])
                }
            var workflows: [Workflow] = []
            var visits = 0
            var lastID: UInt64?
            let start = prefix + Keys.workflow(query.cursor ?? .max)
            let exhausted: Bool = try txn.withCursor(database) { cursor in
                // Position on the newest entry below the cursor within the prefix.
                var more = try cursor.seek(atOrAfter: start) ? try cursor.previous() : try cursor.last()
                while more {
                    let id: UInt64? = cursor.withCurrent { key, _ in
                        guard key.count == prefix.count + 8 else { return nil }
                        for index in prefix.indices where key[index] != prefix[index] { return nil }
                        return loadUInt64(key, at: prefix.count)
                    }
                    guard let id else { return true }
                    visits += 1
                    lastID = id
                    if let workflow = try loadWorkflow(id: id, in: txn), matches(workflow, query) {
                        workflows.append(workflow)
                        if workflows.count == limit { return !(try cursor.previous()) }
                    }
                    if visits >= maxVisits { return false }
                    more = try cursor.previous()
                }
                return true
            }
            return WorkflowPage(workflows: workflows, nextCursor: exhausted ? nil : lastID)
        }
    }

    private func matches(_ workflow: Workflow, _ query: WorkflowQuery) -> Bool {
        if let label = query.label, workflow.labels[label.key] != label.value { return false }
        if let state = query.state, workflow.isProcessing != (state == .processing) { return false }
        return true
    }
}
