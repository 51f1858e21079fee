public import WorkflowModel

/// A storage failure: the operation was not carried out (or, for a batch, none of it was)
/// and must not be acknowledged.
///
/// The API maps each case to a status in one place: `storageFull`, `diskFull` → 507,
/// `unavailable` → 503, `fatal` → 503 and the process stops, the rest → 500.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The map is full (`MDB_MAP_FULL`, from a put or from the commit). Deleting workflows
    /// or a larger `--map-size` makes room.
    case storageFull
    /// The disk holding the data is full (`ENOSPC`, `EDQUOT`, or a short write that LMDB reports
    /// as `EIO` while the file system has no room): nothing of the transaction was written, and
    /// writes succeed again once space is freed. The string says what the file system reported.
    case diskFull(String)
    /// A passing condition (reader table full, lock busy); the request may be retried.
    case unavailable(String)
    /// The environment is unusable (`MDB_PANIC`, an I/O error on commit): the process must stop
    /// writing and exit non-zero so that its supervisor restarts it.
    case fatal(String)
    /// A stored record could not be decoded.
    case corrupted(String)
    /// The data directory was written by a newer bomflow whose format this one cannot read.
    case newerFormat(found: UInt32, supported: UInt32)
    /// Opening or using the environment failed otherwise (permissions, not an LMDB file, …).
    case failed(String)
    /// The data directory is somewhere LMDB must not be used: a network file system, or
    /// writable by others (RELIABILITY.md L12, L13). Nothing was opened.
    case unsafeLocation(String)

    public var description: String {
        switch self {
        case .storageFull: "storage full: the LMDB map size is reached (delete workflows or raise --map-size)"
        case .diskFull(let why): "the disk holding the data directory is full (\(why)); free space on it and retry"
        case .unavailable(let why): "storage temporarily unavailable: \(why)"
        case .fatal(let why): "storage failed fatally, stop writing and restart: \(why)"
        case .corrupted(let why): "stored data is corrupted: \(why)"
        case .newerFormat(let found, let supported):
            "the data directory has format version \(found); this bomflow reads up to \(supported)"
        case .failed(let why): "storage error: \(why)"
        case .unsafeLocation(let why): "refusing the data directory: \(why)"
        }
    }
}

/// A workflow operation's refusal or a storage failure, for the single-operation helpers.
public enum WorkflowStoreError: Error, Equatable, Sendable {
    /// The model refused the operation; nothing changed.
    case refused(WorkflowError)
    /// Storage failed; nothing changed.
    case storage(StoreError)
}

/// What the store's own state says about serving (for `/health/ready` and `/metrics`).
public struct StorageCondition: Sendable, Equatable {
    /// Set once the store failed so that the process must stop: why.
    public var fatal: String?
    /// Set while writes are refused for lack of space (map or disk): why, and since when (epoch ms).
    public var full: (reason: String, since: Int64)?
    /// Set while this process's writes wait on a write lock another process holds too long.
    public var stalledWriter: StalledWriter?
    /// Set while the database server cannot be reached (PostgreSQL down or restarting): why.
    public var unreachable: String?

    public init() {}

    public static func == (lhs: StorageCondition, rhs: StorageCondition) -> Bool {
        lhs.fatal == rhs.fatal && lhs.full?.reason == rhs.full?.reason && lhs.full?.since == rhs.full?.since
            && lhs.stalledWriter == rhs.stalledWriter && lhs.unreachable == rhs.unreachable
    }

    /// Nothing to report: reads and writes are being served.
    public var isReady: Bool { fatal == nil && full == nil && stalledWriter == nil && unreachable == nil }
}

/// A write lock held for longer than the write timeout.
public struct StalledWriter: Sendable, Equatable {
    /// The process holding the lock, when it is a bomflow process that recorded itself.
    public var pid: Int32?
    /// How long this process's oldest waiting write has waited, in milliseconds.
    public var waitedMilliseconds: Int64

    public init(pid: Int32?, waitedMilliseconds: Int64) {
        self.pid = pid
        self.waitedMilliseconds = waitedMilliseconds
    }
}
