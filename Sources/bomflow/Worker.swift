import ArgumentParser
import BomflowClient
import Dispatch
import FoundationEssentials
import JSON
import Logging
import Sockets
import Synchronization
import WorkflowModel

#if canImport(Glibc)
    import Glibc
#endif

/// `bomflow worker`: claims steps from a server and runs a command for each.
struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Claim ready steps from a bomflow server and run a command for each.",
        discussion: """
            For every claimed step, CMD runs through /bin/sh -c with BOMFLOW_TOKEN, BOMFLOW_STEP, \
            BOMFLOW_ATTEMPT, BOMFLOW_WORKER, BOMFLOW_URL, BOMFLOW_LABELS (JSON) and BOMFLOW_LABEL_<KEY> \
            (the key upper-cased, other characters as _) in its environment; stdout and stderr pass \
            through. Exit status 0 completes the step; anything else fails it with the last line CMD \
            wrote to stderr as the reason. While CMD runs the worker heartbeats every third of the \
            lease. SIGTERM or SIGINT: no new claims; the running step is finished and reported, then \
            the worker exits 0.
            """)

    @Option(help: "The server, e.g. http://127.0.0.1:8080 (env BOMFLOW_URL).")
    var url: String = environment("BOMFLOW_URL") ?? "http://127.0.0.1:8080"

    @Option(help: "An API key with WRITE permission (env BOMFLOW_API_KEY); omit for --insecure-no-auth servers.")
    var apiKey: String?

    /// `--api-key`, else BOMFLOW_API_KEY (an optional option takes no default value).
    var effectiveAPIKey: String? { apiKey ?? environment("BOMFLOW_API_KEY") }

    @Option(name: .customLong("step"), help: "A step name to claim; repeat for several.")
    var steps: [String] = []

    @Option(name: .customLong("exec"), help: "The command to run per step (through /bin/sh -c).")
    var command: String

    @Option(help: "The worker's name, recorded with each claim (default: worker-<host>-<pid>).")
    var name: String?

    @Option(help: "The lease per claim, e.g. 60s; renewed while the command runs.")
    var lease: DurationArgument = DurationArgument(milliseconds: 60_000)

    @Option(help: "How long one claim request waits for work, e.g. 5s (at most 60s).")
    var wait: DurationArgument = DurationArgument(milliseconds: 5_000)

    @Option(help: "Log level (env BOMFLOW_LOG_LEVEL).")
    var logLevel: LogLevelArgument = environment("BOMFLOW_LOG_LEVEL").flatMap(LogLevelArgument.init(rawValue:)) ?? .info

    func validate() throws {
        guard !steps.isEmpty else { throw ValidationError("name at least one --step") }
        for step in steps where StepName(step) == nil {
            throw ValidationError(WorkflowError.invalidStepName(step).description)
        }
        guard HTTPClient.endpoint(url) != nil else {
            throw ValidationError("--url must be http://IP:PORT (an IP literal or localhost)")
        }
        guard (1_000...3_600_000).contains(lease.milliseconds) else { throw ValidationError("--lease is 1s to 1h") }
        guard (0...60_000).contains(wait.milliseconds) else { throw ValidationError("--wait is 0s to 60s") }
    }

    func run() throws {
        bootstrapLogging(logLevel)
        let logger = Logger(label: "bomflow.worker")
        let workerName = name ?? "worker-\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let stop = StopFlag()
        ShutdownSignals.onSignal { stop.set() }
        guard let client = BomflowAPIClient(url: url, apiKey: effectiveAPIKey) else { throw ValidationError("--url") }
        let leaseSeconds = max(1, lease.milliseconds / 1000)
        let waitSeconds = Double(wait.milliseconds) / 1000
        logger.info("claiming", metadata: ["worker": "\(workerName)", "steps": "\(steps)", "url": "\(url)"])
        var failures = 0
        while !stop.isSet {
            let claims: [BomflowAPIClient.ClaimedStep]
            do {
                claims = try client.claim(
                    steps: steps, worker: workerName, leaseSeconds: leaseSeconds, max: 1, waitSeconds: waitSeconds)
                failures = 0
            } catch {
                if error.isAuthorization { throw CommandFailure("the server refused the key: \(error)") }
                failures += 1
                logger.warning("claim failed", metadata: ["error": "\(error)"])
                PosixThread.sleep(seconds: min(5, 0.2 * Double(failures)))
                continue
            }
            for claim in claims {
                run(claim, worker: workerName, client: client, leaseSeconds: leaseSeconds, logger: logger)
            }
        }
        logger.info("stopped", metadata: ["worker": "\(workerName)"])
    }

    /// Runs the command for one claimed step, heartbeating meanwhile, and reports its outcome.
    func run(
        _ claim: BomflowAPIClient.ClaimedStep, worker: String, client: BomflowAPIClient, leaseSeconds: Int64,
        logger: Logger
    ) {
        var environment = ProcessInfo.processInfo.environment
        environment["BOMFLOW_TOKEN"] = claim.token
        environment["BOMFLOW_STEP"] = claim.step
        environment["BOMFLOW_ATTEMPT"] = String(claim.attempt)
        environment["BOMFLOW_WORKER"] = worker
        environment["BOMFLOW_URL"] = url
        var labels = JSONWriter()
        labels.beginObject()
        for (key, value) in claim.labels.sorted(by: { $0.key < $1.key }) {
            labels.member(key, value)
            environment["BOMFLOW_LABEL_" + Self.variableName(key)] = value
        }
        labels.endObject()
        environment["BOMFLOW_LABELS"] = labels.text

        let lastLine = LastLine()
        logger.info(
            "running", metadata: ["token": "\(claim.token)", "step": "\(claim.step)", "attempt": "\(claim.attempt)"])
        let process: Subprocess
        do {
            process = try Subprocess.spawn(path: "/bin/sh", arguments: ["-c", command], environment: environment)
        } catch {
            report(
                claim, .failed(reason: "cannot start the command: \(error)"), client: client, worker: worker,
                logger: logger)
            return
        }
        // Heartbeats on a connection of their own while the command runs.
        let beating = DispatchSemaphore(value: 0)
        let url = self.url
        let apiKey = effectiveAPIKey
        PosixThread.start(name: "bomflow-heartbeat") {
            guard let beats = BomflowAPIClient(url: url, apiKey: apiKey) else { return }
            let interval = max(0.5, Double(leaseSeconds) / 3)
            while beating.wait(timeout: .now() + interval) == .timedOut {
                do {
                    try beats.heartbeat(
                        token: claim.token, step: claim.step, worker: worker, leaseSeconds: leaseSeconds)
                } catch {
                    // The next beat tries again; the lease is three beats long.
                    logger.warning(
                        "heartbeat failed",
                        metadata: ["token": "\(claim.token)", "step": "\(claim.step)", "error": "\(error)"])
                }
            }
        }
        // The command's stderr passes through, and its last line is the failure reason.
        let termination = process.wait { bytes in
            StandardStreams.write(bytes, to: 2)
            lastLine.add(bytes)
        }
        beating.signal()
        switch termination {
        case .exit(0):
            report(claim, .completed, client: client, worker: worker, logger: logger)
        case .exit(let status):
            let reason = lastLine.text ?? "\(command) ended with exit status \(status)"
            report(claim, .failed(reason: reason), client: client, worker: worker, logger: logger)
        case .signal(let number):
            let reason = lastLine.text ?? "\(command) ended with signal \(number)"
            report(claim, .failed(reason: reason), client: client, worker: worker, logger: logger)
        }
    }

    /// Reports the step's outcome, retrying a lost answer up to five times.
    func report(
        _ claim: BomflowAPIClient.ClaimedStep, _ outcome: BomflowAPIClient.Outcome, client: BomflowAPIClient,
        worker: String, logger: Logger
    ) {
        for attempt in 1...5 {
            do {
                try client.report(token: claim.token, step: claim.step, worker: worker, outcome)
                return
            } catch .refused(let status, let body) {
                logger.warning(
                    "the server did not take the result",
                    metadata: [
                        "token": "\(claim.token)", "step": "\(claim.step)", "status": "\(status)", "body": "\(body)",
                    ])
                return
            } catch {
                logger.warning("reporting failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                PosixThread.sleep(seconds: 0.5 * Double(attempt))
            }
        }
    }

    static func variableName(_ key: String) -> String {
        String(
            key.uppercased().unicodeScalars.map {
                ("A"..."Z").contains($0) || ("0"..."9").contains($0) ? Character($0) : "_"
            })
    }
}

/// Set once from a signal handler, read by the claim loop.
final class StopFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// The last non-empty line a command wrote to stderr.
final class LastLine: Sendable {
    private let tail = Mutex<[UInt8]>([])

    func add(_ bytes: [UInt8]) {
        tail.withLock { tail in
            tail.append(contentsOf: bytes)
            if tail.count > 16_384 { tail = Array(tail.suffix(8_192)) }
        }
    }

    var text: String? {
        tail.withLock { tail in
            String(decoding: tail, as: UTF8.self).split(whereSeparator: \.isNewline).last {
                $0.contains { !$0.isWhitespace }
            }
            .map(String.init)
        }
    }
}
