public import Foundation
internal import Synchronization
public import WorkflowModel

/// A directory under the system temp dir, removed by ``remove()``. Each LMDB test gets its own.
public struct TemporaryDirectory: Sendable {
    /// The directory's path.
    public let path: String

    /// Creates a fresh, empty directory.
    public init(_ label: String = "bomflow-test") throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    public func appending(_ component: String) -> String { "\(path)/\(component)" }

    /// Deletes the directory and everything in it.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A clock that only moves when told: injected into stores so that timeouts and retention are
/// tested without sleeping.
public final class ManualClock: Sendable {
    private let now: Atomic<Int64>

    /// Starts at `start` epoch milliseconds (default 2026-01-01T00:00:00Z).
    public init(start: Int64 = 1_767_225_600_000) { now = Atomic(start) }

    /// The current time.
    public var time: Timestamp { Timestamp(milliseconds: now.load(ordering: .relaxed)) }

    /// Moves the clock forward.
    public func advance(milliseconds: Int64) { now.add(milliseconds, ordering: .relaxed) }

    /// Moves the clock forward by minutes.
    public func advance(minutes: Int64) { advance(milliseconds: minutes * 60_000) }

    /// The closure a store takes as its clock.
    public var closure: @Sendable () -> Timestamp { { [self] in self.time } }
}

/// Paths of the repository, resolved once from this file's location.
public enum RepositoryPaths {
    /// The repository root.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `fixtures/`.
    public static let fixtures: URL = root.appendingPathComponent("fixtures")

    /// The directory holding the built products (the test bundle's own directory), so tests
    /// can start `bomflow` and `bomflow-store-driver`. `BOMFLOW_BIN_DIR` overrides it.
    public static var products: URL {
        if let override = ProcessInfo.processInfo.environment["BOMFLOW_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return executable.deletingLastPathComponent()
    }
}

extension Token {
    /// A token with a recognisable pattern, for tests: `0000000n-0000-4000-8000-00000000000n`.
    public static func make(_ number: UInt64) -> Token {
        Token(high: number << 32 | 0x4000, low: 0x8000_0000_0000_0000 | number)
    }
}

extension StepName {
    /// A step name that tests know to be valid.
    public static func make(_ text: String) -> StepName {
        guard let name = StepName(text) else { preconditionFailure("invalid test step name \(text)") }
        return name
    }
}

/// A small deterministic generator (SplitMix64) for tests that must replay the same inputs.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
