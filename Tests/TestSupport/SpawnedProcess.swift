public import Foundation
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#endif

/// A child process started with `posix_spawn`: what the tests used Foundation's `Process` for,
/// with the same names (`executableURL`, `arguments`, `standardOutput`, `run()`, `isRunning`,
/// `waitUntilExit()`, `terminationStatus`, …).
///
/// Why not `Process`: swift-corelibs-foundation 6.3.1's `Process.run()` lists `/proc/self/fd` to
/// close every inherited descriptor and copies each entry's whole 256-byte `d_name`. Once the
/// test process holds more than ~1,360 descriptors (the long-poll test holds 2,000 sockets),
/// glibc's 32 KB directory buffer is full and the copy of its last entry reads past the buffer:
/// an intermittent SIGSEGV of the whole test process while another test starts a child
/// (swift-corelibs-foundation#5472, fixed after 6.3.1). This closes the inherited descriptors
/// in the child with `posix_spawn_file_actions_addclosefrom_np` instead, which lists nothing;
/// and it waits with `waitpid` on its own child, so a wait never depends on a run loop.
/// `scripts/check.sh` keeps `SpawnedProcess()` out of the tests.
public final class SpawnedProcess: @unchecked Sendable {
    /// How the process ended.
    public enum TerminationReason: Sendable {
        case exit
        case uncaughtSignal
    }

    /// The program to run (an absolute file URL).
    public var executableURL: URL?
    /// Its arguments (without the program's name).
    public var arguments: [String] = []
    /// Its environment; nil: this process's.
    public var environment: [String: String]?
    /// Each stream is a `Pipe` (the child gets the pipe's other end; the parent's copy of that
    /// end is closed once the child runs), a `FileHandle` (a negative descriptor, as
    /// `FileHandle.nullDevice` has, and nil mean /dev/null); by default the parent's own.
    public var standardInput: Any? = FileHandle.standardInput
    public var standardOutput: Any? = FileHandle.standardOutput
    public var standardError: Any? = FileHandle.standardError

    private struct State {
        var pid: pid_t = 0
        /// The raw `waitpid` status once reaped; -1 when the child could not be waited for.
        var status: Int32?
    }
    private let state = Mutex(State())

    public init() {}

    /// The child's process ID (0 before ``run()``).
    public var processIdentifier: Int32 { state.withLock { $0.pid } }

    /// Starts the program. - Throws: ``SpawnError`` when it cannot be started.
    public func run() throws(SpawnError) {
        guard let path = executableURL?.path, !path.isEmpty else { throw SpawnError("no executable") }
        guard state.withLock({ $0.pid }) == 0 else { throw SpawnError("\(path) was already started") }

        var actions = unsafe posix_spawn_file_actions_t()
        try check(unsafe posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init")
        defer { _ = unsafe posix_spawn_file_actions_destroy(&actions) }
        var toClose: [FileHandle] = []
        for (target, stream, isInput) in [
            (0, standardInput, true), (1, standardOutput, false), (2, standardError, false),
        ] {
            let source: Int32
            switch stream {
            case let pipe as Pipe:
                let end = isInput ? pipe.fileHandleForReading : pipe.fileHandleForWriting
                source = end.fileDescriptor
                if !toClose.contains(where: { $0 === end }) { toClose.append(end) }
            case let handle as FileHandle:
                source = handle.fileDescriptor
            default:
                source = -1
            }
            if source < 0 {
                try check(
                    unsafe posix_spawn_file_actions_addopen(&actions, Int32(target), "/dev/null", O_RDWR, 0),
                    "posix_spawn_file_actions_addopen")
            } else {
                try check(
                    unsafe posix_spawn_file_actions_adddup2(&actions, source, Int32(target)),
                    "posix_spawn_file_actions_adddup2")
            }
        }
        guard let closeFrom = unsafe Self.addCloseFrom else {
            throw SpawnError("the C library has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34+)")
        }
        try check(unsafe closeFrom(&actions, 3), "posix_spawn_file_actions_addclosefrom_np")

        var attributes = posix_spawnattr_t()
        try check(unsafe posix_spawnattr_init(&attributes), "posix_spawnattr_init")
        defer { _ = unsafe posix_spawnattr_destroy(&attributes) }
        // Its own process group (as Process did), and no signal blocked by the starting thread.
        var noSignals = sigset_t()
        _ = unsafe sigemptyset(&noSignals)
        try check(unsafe posix_spawnattr_setsigmask(&attributes, &noSignals), "posix_spawnattr_setsigmask")
        try check(
            unsafe posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK)),
            "posix_spawnattr_setflags")

        let environment = (self.environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = unsafe ([path] + arguments).map { unsafe strdup($0) } + [nil]
        let envp = unsafe environment.map { unsafe strdup($0) } + [nil]
        defer {
            for index in unsafe argv.indices { unsafe free(argv[index]) }
            for index in unsafe envp.indices { unsafe free(envp[index]) }
        }
        var pid: pid_t = 0
        let result = unsafe posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SpawnError("cannot start \(path): \(Self.describe(result))") }
        state.withLock { $0.pid = pid }
        for handle in toClose { try? handle.close() }
    }

    /// The text of the error number `code`.
    private static func describe(_ code: Int32) -> String { unsafe String(cString: strerror(code)) }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up at run time: spawn.h
    /// declares it only under `_GNU_SOURCE`, which Swift's Glibc module is not built with.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = unsafe dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafe unsafeBitCast($0, to: AddCloseFrom.self)
    }

    private func check(_ result: Int32, _ call: String) throws(SpawnError) {
        guard result == 0 else { throw SpawnError("\(call) failed: \(Self.describe(result))") }
    }

    /// Reaps the child if it has ended. - Returns: true while it runs.
    private func poll() -> Bool {
        state.withLock { state in
            guard state.pid > 0, state.status == nil else { return false }
            var status: Int32 = 0
            let reaped = unsafe waitpid(state.pid, &status, WNOHANG)
            if reaped == state.pid {
                state.status = status
            } else if reaped < 0 && errno != EINTR {
                state.status = -1
            }
            return state.status == nil
        }
    }

    /// True from ``run()`` until the child has ended.
    public var isRunning: Bool { poll() }

    /// Blocks until the child has ended (at once when it never started).
    public func waitUntilExit() {
        var pause = 0.0005
        while poll() {
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, 0.01)
        }
    }

    /// The exit code, or the signal that ended the child (-1 when it could not be waited for).
    public var terminationStatus: Int32 {
        guard let status = state.withLock({ $0.status }), status >= 0 else { return -1 }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    /// Whether the child exited or was ended by a signal.
    public var terminationReason: TerminationReason {
        guard let status = state.withLock({ $0.status }), status >= 0 else { return .exit }
        return status & 0x7f == 0 ? .exit : .uncaughtSignal
    }

    /// Sends SIGTERM while the child runs.
    public func terminate() { send(SIGTERM) }

    /// Sends `signal` while the child runs (under the lock: it cannot be reaped in between, so
    /// its ID is still its own).
    public func send(_ signal: Int32) {
        state.withLock { state in
            if state.pid > 0 && state.status == nil { _ = Glibc.kill(state.pid, signal) }
        }
    }
}

/// A ``SpawnedProcess`` could not be started.
public struct SpawnError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
