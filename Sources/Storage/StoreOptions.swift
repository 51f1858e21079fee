internal import FoundationEssentials
public import WorkflowModel

/// How a store opens and runs maintenance. The policy (timeouts, retention, attempts, clock)
/// applies to every backend; map size, readers and durability are the LMDB store's.
///
/// Map size and reader slots must be the same in every process that shares the data
/// directory (DESIGN.md §3).
public struct StoreOptions: Sendable {
    /// When commits reach the disk.
    public enum Durability: String, Sendable, CaseIterable {
        /// Every acknowledged write is on disk (one `fdatasync` a commit). The default.
        case full
        /// No flush (`MDB_NOSYNC`): survives a killed process, not a power cut. For
        /// disposable test instances.
        case none
    }

    /// The LMDB map size in bytes: the most the data file can hold. Default 64 GiB (sparse).
    public var mapSize: Int = 64 << 30
    /// Reader-table slots shared by all processes. Default 1,024.
    public var maxReaders: UInt32 = 1024
    /// Commit durability. Default ``Durability/full``.
    public var durability: Durability = .full
    /// Open for reading only: no write can begin, and opening never waits for another process's
    /// write lock (`MDB_RDONLY`). For commands that only read. Default false.
    public var readOnly = false
    /// A ready `PENDING` or a `TIMED_OUT` step whose `updatedAt` is older than this times out
    /// (then fails). Milliseconds; default 60 minutes (Hyades).
    public var stepTimeout: Int64 = 60 * 60 * 1000
    /// A finished workflow whose newest update is older than this is deleted. Milliseconds;
    /// default 72 hours (Hyades).
    public var retention: Int64 = 72 * 60 * 60 * 1000
    /// Entries a maintenance write transaction handles at most, so that the writer lock is
    /// held only briefly. Default 500.
    public var maintenanceBatchSize: Int = 500
    /// How long a maintenance pass may hold the host-wide maintenance lease. Milliseconds;
    /// default 60 s.
    public var maintenanceLease: Int64 = 60_000
    /// Claims a step may get: when the lease of the last one expires, the step fails
    /// ("Lease expired after N attempts"). Default 3.
    public var maxAttempts: Int = 3
    /// The time source (epoch milliseconds); tests inject a manual clock.
    public var clock: @Sendable () -> Timestamp = StoreOptions.systemClock

    /// Options with every default.
    public init() {}

    /// The wall clock in epoch milliseconds.
    public static let systemClock: @Sendable () -> Timestamp = {
        Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
