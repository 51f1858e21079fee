internal import CPosix

#if canImport(Glibc)
    internal import Glibc
#endif

/// A child process (`posix_spawn`) whose standard error comes through a pipe: what `bomflow
/// worker` runs per claimed step. Standard input and output are the parent's.
public final class Subprocess {
    /// How a child ended.
    public enum Termination: Equatable, Sendable {
        case exit(Int32)
        case signal(Int32)
    }

    public let pid: Int32
    /// The read end of the child's standard error.
    private let errorFD: Int32

    private init(pid: Int32, errorFD: Int32) {
        self.pid = pid
        self.errorFD = errorFD
    }

    /// Starts `path` with `arguments` (after the program's name) and exactly `environment`.
    public static func spawn(path: String, arguments: [String], environment: [String: String]) throws(SyscallError)
        -> Subprocess
    {
        let argv = unsafe ([path] + arguments).map { unsafe strdup($0) } + [nil]
        let envp = unsafe environment.map { unsafe strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for index in unsafe argv.indices { unsafe free(argv[index]) }
            for index in unsafe envp.indices { unsafe free(envp[index]) }
        }
        var pid: Int32 = 0
        var errorFD: Int32 = -1
        let result = unsafe cposix_spawn_with_stderr_pipe(path, argv, envp, &pid, &errorFD)
        guard result == 0 else { throw SyscallError(function: "posix_spawn", code: -result) }
        return Subprocess(pid: pid, errorFD: errorFD)
    }

    /// Passes what the child writes to standard error to `onError` as it comes (until every
    /// writer closed it), then waits for the child to end.
    public func wait(onError: ([UInt8]) -> Void) -> Termination {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = unsafe chunk.withUnsafeMutableBytes { buffer in
                unsafe cposix_read(errorFD, buffer.baseAddress!, buffer.count)
            }
            if count == -Int(cposix_eintr()) { continue }
            guard count > 0 else { break }
            onError(Array(chunk[0..<count]))
        }
        _ = cposix_close(errorFD)
        var exitStatus: Int32 = 0
        var signal: Int32 = 0
        guard unsafe cposix_wait_child(pid, &exitStatus, &signal) == 0 else { return .exit(-1) }
        return signal == 0 ? .exit(exitStatus) : .signal(signal)
    }
}
