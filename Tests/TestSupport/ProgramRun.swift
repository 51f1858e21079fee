public import Foundation
internal import Synchronization

/// A program run to its end: how it ended and what it printed. The one way the tests run a
/// command (a built product, a script, a tool) and read its output.
public struct ProgramRun: Sendable {
    /// Where the program's standard error goes.
    public enum ErrorStream: Sendable {
        /// Into ``output``, interleaved with standard output as written.
        case merged
        /// Into ``errorOutput``, apart from standard output.
        case captured
        /// To the test process's own standard error (the test log).
        case inherited
        /// Nowhere.
        case discarded
    }

    /// The exit status, or the signal's number when a signal ended it.
    public let status: Int32
    /// A signal ended it (a crash, or the termination after ``timedOut``).
    public let signalled: Bool
    /// It was still running when the time allowed was over, and was sent SIGTERM.
    public let timedOut: Bool
    /// Its standard output (with standard error when ``ErrorStream/merged``).
    public let output: String
    /// Its standard error when ``ErrorStream/captured``; empty otherwise.
    public let errorOutput: String

    /// Runs the program at `executable` with `arguments` (and `environment` over this process's)
    /// until it exits, or for at most `seconds`, then terminates it. Each captured stream is
    /// read on its own thread, so a program that writes much to both never blocks on a full pipe.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:],
        standardError: ErrorStream = .merged, seconds: Double? = nil
    ) throws -> ProgramRun {
        let process = SpawnedProcess()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        switch standardError {
        case .merged: process.standardError = output
        case .captured: process.standardError = errors
        case .inherited: process.standardError = FileHandle.standardError
        case .discarded: process.standardError = FileHandle.nullDevice
        }
        try process.run()
        let outputReader = PipeReader(output)
        let errorReader = standardError == .captured ? PipeReader(errors) : nil
        var timedOut = false
        if let seconds {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            if process.isRunning {
                timedOut = true
                process.terminate()
            }
        }
        process.waitUntilExit()
        return ProgramRun(
            status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
            timedOut: timedOut, output: String(decoding: outputReader.wait(), as: UTF8.self),
            errorOutput: errorReader.map { String(decoding: $0.wait(), as: UTF8.self) } ?? "")
    }

    /// ``run(_:_:environment:standardError:seconds:)`` of a built product
    /// (``RepositoryPaths/products``), e.g. `bomflow` or `bomflow-store-driver`.
    public static func product(
        _ name: String, _ arguments: [String], environment: [String: String] = [:],
        standardError: ErrorStream = .merged, seconds: Double? = nil
    ) throws -> ProgramRun {
        try run(
            RepositoryPaths.products.appendingPathComponent(name), arguments, environment: environment,
            standardError: standardError, seconds: seconds)
    }
}

/// Reads a pipe to its end on a thread of its own.
private final class PipeReader: Sendable {
    private let data = Mutex<Data?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread { [self] in
            let read = handle.readDataToEndOfFile()
            data.withLock { $0 = read }
            finished.signal()
        }.start()
    }

    /// Everything the pipe carried, once its last writer has closed it.
    func wait() -> Data {
        finished.wait()
        return data.withLock { $0 } ?? Data()
    }
}
