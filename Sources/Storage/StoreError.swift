public import WorkflowModel

/// A storage failure: the operation was not carried out (or, for a batch, none of it was)
/// and must not be acknowledged.
///
/// The API maps each case to a status in one place: `storageFull` → 507,
/// `unavailable` → 503, `fatal` → 503 and the process stops, the rest → 500.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The map is full (`MDB_MAP_FULL`, from a put or from the commit). Deleting workflows
    /// or a larger `--map-size` makes room.
    case storageFull
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
