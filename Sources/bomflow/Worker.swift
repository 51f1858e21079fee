import ArgumentParser
import Foundation
import HTTPServer
import Logging
import WorkflowAPI
import WorkflowModel

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
    var apiKey: String? = environment("BOMFLOW_API_KEY")

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
        let level = logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "bomflow.worker")
        let workerName = name ?? "worker-\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let endpoint = HTTPClient.endpoint(url)!
        let stop = StopFlag()
        let signals = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.set() }
            source.resume()
            return source
        }
        defer { _ = signals }
        let client = HTTPClient(host: endpoint.host, port: endpoint.port)
        var headers = [("Content-Type", "application/json")]
        if let apiKey { headers.append(("X-Api-Key", apiKey)) }
        let leaseSeconds = max(1, lease.milliseconds / 1000)
        let waitSeconds = Double(wait.milliseconds) / 1000
        logger.info("claiming", metadata: ["worker": "\(workerName)", "steps": "\(steps)", "url": "\(url)"])
        var failures = 0
        while !stop.isSet {
            var body = JSONWriter()
            body.beginObject()
            body.key("steps")
            body.beginArray()
            for step in steps { body.string(step) }
            body.endArray()
            body.member("worker", workerName)
            body.member("leaseSeconds", leaseSeconds)
            body.member("max", Int64(1))
            body.key("waitSeconds")
            body.number(waitSeconds)
            body.endObject()
            let response: HTTPClient.Response
            do {
                response = try client.request(
                    "POST", "/api/v1/workflow/claim", headers: headers, body: body.bytes, timeout: waitSeconds + 10)
                failures = 0
            } catch {
                failures += 1
                logger.warning("claim failed", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: min(5, 0.2 * Double(failures)))
                continue
            }
            guard response.status == 200 else {
                if response.status == 401 || response.status == 403 {
                    throw CommandFailure(
                        "the server refused the key (\(response.status)): \(String(decoding: response.body, as: UTF8.self))"
                    )
                }
                logger.warning("claim refused", metadata: ["status": "\(response.status)"])
                Thread.sleep(forTimeInterval: 1)
                continue
            }
            for claim in Self.claims(response.body) {
                run(
                    claim, worker: workerName, client: client, headers: headers, leaseSeconds: leaseSeconds,
                    logger: logger)
            }
        }
        logger.info("stopped", metadata: ["worker": "\(workerName)"])
    }

    struct Claimed {
        let token: String
        let step: String
        let attempt: Int
        let labels: [String: String]
    }

    static func claims(_ body: [UInt8]) -> [Claimed] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let claims = object["claims"] as? [[String: Any]]
        else { return [] }
        return claims.compactMap { claim in
            guard let token = claim["token"] as? String, let step = claim["step"] as? String else { return nil }
            return Claimed(
                token: token, step: step, attempt: claim["attempt"] as? Int ?? 1,
                labels: claim["labels"] as? [String: String] ?? [:])
        }
    }

    /// Runs the command for one claimed step, heartbeating meanwhile, and reports its outcome.
    func run(
        _ claim: Claimed, worker: String, client: HTTPClient, headers: [(String, String)], leaseSeconds: Int64,
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
        environment["BOMFLOW_LABELS"] = String(decoding: labels.bytes, as: UTF8.self)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        let lastLine = LastLine()
        errors.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else { return }
            FileHandle.standardError.write(data)
            lastLine.add(data)
        }
        let path = "/api/v1/workflow/token/\(claim.token)/step/\(claim.step)"
        logger.info(
            "running", metadata: ["token": "\(claim.token)", "step": "\(claim.step)", "attempt": "\(claim.attempt)"])
        do {
            try process.run()
        } catch {
            report(
                path, failure: "cannot start the command: \(error)", client: client, headers: headers, worker: worker,
                logger: logger)
            return
        }
        // Heartbeats on a connection of their own while the command runs.
        let beating = DispatchSemaphore(value: 0)
        let endpoint = HTTPClient.endpoint(url)!
        let heartbeat = Thread {
            let beats = HTTPClient(host: endpoint.host, port: endpoint.port)
            var body = JSONWriter()
            body.beginObject()
            body.member("worker", worker)
            body.member("leaseSeconds", leaseSeconds)
            body.endObject()
            let interval = max(0.5, Double(leaseSeconds) / 3)
            while beating.wait(timeout: .now() + interval) == .timedOut {
                _ = try? beats.request("POST", path + "/heartbeat", headers: headers, body: body.bytes)
            }
        }
        heartbeat.start()
        process.waitUntilExit()
        beating.signal()
        errors.fileHandleForReading.readabilityHandler = nil
        lastLine.add(errors.fileHandleForReading.readDataToEndOfFile())
        if process.terminationStatus == 0 && process.terminationReason == .exit {
            send(
                path, #"{"status":"COMPLETED","worker":\#(Self.quoted(worker))}"#, client: client, headers: headers,
                logger: logger)
        } else {
            let how = process.terminationReason == .exit ? "exit status" : "signal"
            let reason = lastLine.text ?? "\(command) ended with \(how) \(process.terminationStatus)"
            report(path, failure: reason, client: client, headers: headers, worker: worker, logger: logger)
        }
    }

    func report(
        _ path: String, failure: String, client: HTTPClient, headers: [(String, String)], worker: String, logger: Logger
    ) {
        var reason = failure
        while reason.utf8.count > 4096 { reason.removeLast() }
        if reason.isEmpty { reason = "failed" }
        var body = JSONWriter()
        body.beginObject()
        body.member("status", "FAILED")
        body.member("failureReason", reason)
        body.member("worker", worker)
        body.endObject()
        send(path, String(decoding: body.bytes, as: UTF8.self), client: client, headers: headers, logger: logger)
    }

    func send(_ path: String, _ body: String, client: HTTPClient, headers: [(String, String)], logger: Logger) {
        for attempt in 1...5 {
            do {
                let response = try client.request("PATCH", path, headers: headers, body: Array(body.utf8))
                if response.status != 200 {
                    logger.warning(
                        "the server did not take the result",
                        metadata: [
                            "path": "\(path)", "status": "\(response.status)",
                            "body": "\(String(decoding: response.body, as: UTF8.self))",
                        ])
                }
                return
            } catch {
                logger.warning("reporting failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                Thread.sleep(forTimeInterval: 0.5 * Double(attempt))
            }
        }
    }

    static func variableName(_ key: String) -> String {
        String(
            key.uppercased().unicodeScalars.map {
                ("A"..."Z").contains($0) || ("0"..."9").contains($0) ? Character($0) : "_"
            })
    }

    static func quoted(_ text: String) -> String {
        var json = JSONWriter()
        json.string(text)
        return String(decoding: json.bytes, as: UTF8.self)
    }
}

/// Set once from a signal handler, read by the claim loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// The last non-empty line a command wrote to stderr.
final class LastLine: @unchecked Sendable {
    private let lock = NSLock()
    private var tail = Data()

    func add(_ data: Data) {
        lock.withLock {
            tail.append(data)
            if tail.count > 16_384 { tail = tail.suffix(8_192) }
        }
    }

    var text: String? {
        lock.withLock {
            String(decoding: tail, as: UTF8.self).split(whereSeparator: \.isNewline).last {
                !$0.trimmingCharacters(in: .whitespaces).isEmpty
            }
            .map(String.init)
        }
    }
}
