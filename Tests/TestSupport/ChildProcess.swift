public import Foundation

/// A child process started from a built product, with its standard output collected line by
/// line. Tests use it to run several real processes on one data directory.
public final class ChildProcess: @unchecked Sendable {
    public let process = SpawnedProcess()
    private let output = Pipe()
    private let lock = NSLock()
    private var buffer = Data()
    private var lines: [String] = []

    /// Starts `product` (a file in ``RepositoryPaths/products``) with `arguments`; with
    /// `quiet`, its stderr is discarded (a server's bootstrap key must not land in CI logs).
    public convenience init(_ product: String, _ arguments: [String], quiet: Bool = false) throws {
        try self.init(
            executable: RepositoryPaths.products.appendingPathComponent(product),
            product == "bomflow" ? try TestBackend.adapt(arguments) : arguments, quiet: quiet)
    }

    /// Starts the program at `executable` with `arguments`.
    public init(executable: URL, _ arguments: [String], quiet: Bool = false) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = quiet ? FileHandle.nullDevice : FileHandle.standardError
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            self?.append(data)
        }
        try process.run()
    }

    private func append(_ data: Data) {
        lock.lock()
        defer { lock.unlock() }
        buffer.append(data)
        while let newline = buffer.firstIndex(of: 0x0A) {
            lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
            buffer.removeSubrange(buffer.startIndex...newline)
        }
    }

    /// The lines printed so far.
    public var outputLines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }

    /// Waits (polling, at most `seconds`) until a line equal to `line` was printed.
    public func waitForLine(_ line: String, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if outputLines.contains(line) { return true }
            if !process.isRunning { return outputLines.contains(line) }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return false
    }

    /// Waits for the process to exit and returns its status.
    @discardableResult
    public func wait() -> Int32 {
        process.waitUntilExit()
        // Let the readability handler drain the pipe.
        Thread.sleep(forTimeInterval: 0.05)
        return process.terminationStatus
    }

    /// Sends SIGKILL and waits for the process to end.
    public func kill() {
        process.send(SIGKILL)
        process.waitUntilExit()
    }

    /// The last line, parsed as a JSON object.
    public var lastJSON: [String: Any] {
        guard let last = outputLines.last, let data = last.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return object
    }
}
