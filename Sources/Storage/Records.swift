public import WorkflowModel

/// An API key as stored: never the key itself, only its SHA-256 digest.
public struct APIKeyRecord: Sendable, Equatable {
    /// A unique, human-chosen name (shown in `keys list`, recorded as a workflow's creator).
    public var name: String
    /// Permission bits: 1 read, 2 write, 4 admin.
    public var permissions: UInt8
    /// When the key was created, epoch milliseconds.
    public var createdAt: Int64

    public init(name: String, permissions: UInt8, createdAt: Int64) {
        self.name = name
        self.permissions = permissions
        self.createdAt = createdAt
    }
}

/// Figures that cost O(1) to read (for `/metrics`, which must stay cheap at any size). The map,
/// reader and transaction figures are LMDB's; another backend leaves them 0.
public struct CheapFigures: Sendable, Equatable {
    /// Creates zero figures (a backend fills in what it has).
    public init() {}
    public var workflows = 0
    public var processing = 0
    public var done = 0
    public var deadlineEntries = 0
    public var mapSize = 0
    public var usedBytes = 0
    public var readers = 0
    public var staleReadersCleared = 0
    /// Times a writer of this process let a writer waiting for LMDB's write lock go first.
    public var writeLockHandOvers = 0
    public var lastTransactionID = 0
    /// BOMs stored with their workflows, and their bytes.
    public var boms = 0
    public var bomBytes = 0
    /// Projects in the registry.
    public var projects = 0
}

/// One ready queue (the claimable steps of one step name), for `GET /api/v1/queue`.
public struct QueueFigures: Sendable, Equatable {
    public var step: StepName
    /// Steps ready to be claimed (in a paused queue too: they wait).
    public var ready: Int
    /// Steps claimed under a live lease.
    public var claimed: Int
    /// When the longest-waiting ready step became ready.
    public var oldestReady: Timestamp?
    public var paused: Bool

    public init(step: StepName, ready: Int = 0, claimed: Int = 0, oldestReady: Timestamp? = nil, paused: Bool = false) {
        self.step = step
        self.ready = ready
        self.claimed = claimed
        self.oldestReady = oldestReady
        self.paused = paused
    }
}

/// Finished workflows per minute (the operator page's chart).
public struct Throughput: Sendable, Equatable {
    /// Start of the minute (epoch milliseconds, a multiple of 60,000) → workflows that finished in it.
    public var perMinute: [Int64: Int]
    /// False when the count stopped at ``visitLimit`` (the figures are then a lower bound).
    public var complete: Bool

    /// Finished workflows a backend counts at most per call (bounds the page's cost).
    public static let visitLimit = 100_000

    public init(perMinute: [Int64: Int] = [:], complete: Bool = true) {
        self.perMinute = perMinute
        self.complete = complete
    }

    /// The minute that holds `time`.
    public static func minute(of time: Timestamp) -> Int64 {
        let ms = time.milliseconds
        return (ms >= 0 ? ms / 60_000 : (ms - 59_999) / 60_000) * 60_000
    }
}
