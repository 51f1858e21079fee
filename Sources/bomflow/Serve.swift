import ArgumentParser
import Foundation
import HTTP1
import HTTPServer
import Logging
import WorkflowAPI
import WorkflowStore

/// `bomflow serve`: the REST API on the data directory.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the REST API (Dependency-Track compatible) on the data directory.",
        discussion: """
            Several processes may serve one data directory and one port (SO_REUSEPORT). The first line \
            on stdout is the bound port (useful with --port 0). SIGTERM or SIGINT drains in-flight \
            requests, commits queued writes and exits 0.

            For test harnesses, --ephemeral serves a fresh temporary data directory (removed at exit) \
            with --sync none on a free port, and prints one JSON line first instead of the port: \
            {"url": "http://127.0.0.1:PORT", "apiKey": "...", "dataDir": "..."}. Add --exit-with-parent \
            so that the server never outlives the harness that started it.
            """)

    @OptionGroup var store: StoreArguments

    @Option(help: "Address to bind, an IPv4 or IPv6 literal (env BOMFLOW_HOST).")
    var host: String = environment("BOMFLOW_HOST") ?? "127.0.0.1"

    @Option(help: "Port; 0 picks a free one (env BOMFLOW_PORT). Default 8080, or 0 with --ephemeral.")
    var port: Int?

    @Option(help: "Event loops (threads serving HTTP); default one per core (env BOMFLOW_LOOPS).")
    var loops: Int = environment("BOMFLOW_LOOPS").flatMap(Int.init) ?? HTTPServerConfiguration.coreCount

    @OptionGroup var periods: MaintenanceArguments

    @OptionGroup(title: "HTTP limits") var http: HTTPArguments

    @Option(help: "How often to run maintenance, e.g. 1m (env BOMFLOW_MAINTENANCE_INTERVAL).")
    var maintenanceInterval: DurationArgument =
        environment("BOMFLOW_MAINTENANCE_INTERVAL").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 60_000)

    @Option(
        help:
            "Longest long-poll (watch wait, claim waitSeconds), e.g. 25s; longer asks are shortened (env BOMFLOW_MAX_WAIT)."
    )
    var maxWait: DurationArgument =
        environment("BOMFLOW_MAX_WAIT").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 60_000)

    @Option(help: "Open connections per process; more get 503 (env BOMFLOW_MAX_CONNECTIONS).")
    var maxConnections: Int = environment("BOMFLOW_MAX_CONNECTIONS").flatMap(Int.init) ?? 1024

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env BOMFLOW_LOG_LEVEL).")
    var logLevel: LogLevelArgument = environment("BOMFLOW_LOG_LEVEL").flatMap(LogLevelArgument.init(rawValue:)) ?? .info

    @Flag(
        help:
            "Serve without API keys: only for test harnesses, refused unless bound to loopback (env BOMFLOW_INSECURE_NO_AUTH=1)."
    )
    var insecureNoAuth: Bool = environment("BOMFLOW_INSECURE_NO_AUTH") == "1"

    @Flag(
        help: """
            Serve a new temporary data directory (removed at exit) with --sync none on a free port, and \
            print {"url","apiKey","dataDir"} as the first stdout line; --data-dir and --sync are ignored.
            """)
    var ephemeral = false

    @Flag(help: "Shut down gracefully when the parent process exits (env BOMFLOW_EXIT_WITH_PARENT=1).")
    var exitWithParent: Bool = environment("BOMFLOW_EXIT_WITH_PARENT") == "1"

    /// The port to bind: the option, else BOMFLOW_PORT, else 8080 (0 when ephemeral).
    var effectivePort: Int? {
        if let port { return port }
        if let value = environment("BOMFLOW_PORT") { return Int(value) }
        return ephemeral ? 0 : 8080
    }

    func validate() throws {
        guard let port = effectivePort, (0...65535).contains(port) else {
            throw ValidationError("--port (or BOMFLOW_PORT) must be 0 to 65535")
        }
        guard loops >= 1 && loops <= 256 else { throw ValidationError("--loops must be 1 to 256") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be positive") }
        guard maxWait.milliseconds <= 60_000 else { throw ValidationError("--max-wait is at most 60s") }
        if insecureNoAuth && !Self.isLoopback(host) {
            throw ValidationError("--insecure-no-auth is refused on \(host): bind to 127.0.0.1 or ::1, or use API keys")
        }
    }

    /// Refuses to serve while the bootstrap key file is readable by others (exit 78).
    static func checkKeyFile(_ path: String) throws {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0
        else { return }
        FileHandle.standardError.write(
            Data(
                "bomflow: refusing to serve: \(path) holds an API key and has mode \(String(mode, radix: 8)); chmod 600 it or delete it\n"
                    .utf8))
        throw ExitCode(78)
    }

    /// A new directory (mode 0700) under the system's temporary directory.
    static func makeTemporaryDataDirectory() throws -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let path = base + "/bomflow-ephemeral-" + UUID().uuidString.lowercased()
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CommandFailure("cannot create a temporary data directory in \(base): \(error)")
        }
        return path
    }

    static func isLoopback(_ host: String) -> Bool { host.hasPrefix("127.") || host == "::1" || host == "localhost" }

    /// With no key yet, creates an ADMIN key named `admin`, prints it once on stderr and writes it
    /// to `<data-dir>/admin.key` with mode 0600, so that a newcomer's first request works.
    func bootstrapAdminKey(_ workflowStore: WorkflowStore, dataDir: String) throws {
        guard try workflowStore.apiKeys().isEmpty else { return }
        let key = Authenticator.generateKey()
        guard
            try workflowStore.addAPIKey(
                digest: Authenticator.digest(of: key), name: "admin",
                permissions: Permission([.read, .write, .admin]).rawValue)
        else { return }
        let path = dataDir + "/admin.key"
        guard
            FileManager.default.createFile(
                atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw CommandFailure("cannot write \(path)")
        }
        FileHandle.standardError.write(
            Data(
                "bomflow: created the ADMIN API key 'admin'; it is shown once and saved in \(path) (mode 0600):\n\(key)\n"
                    .utf8))
    }

    func run() throws {
        let level = logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "bomflow")
        var store = self.store
        var ephemeralKey: String?
        if ephemeral {
            store.dataDir = try Self.makeTemporaryDataDirectory()
            store.sync = .none
        }
        defer { if ephemeral { try? FileManager.default.removeItem(atPath: store.dataDir) } }
        let workflowStore = try store.openStore(mustExist: false) { options in
            periods.apply(to: &options)
        }
        try Self.checkKeyFile(store.dataDir + "/admin.key")
        let authenticator = insecureNoAuth ? nil : Authenticator(store: workflowStore)
        if authenticator != nil {
            if ephemeral {
                let key = Authenticator.generateKey()
                _ = try workflowStore.addAPIKey(
                    digest: Authenticator.digest(of: key), name: "admin",
                    permissions: Permission([.read, .write, .admin]).rawValue)
                ephemeralKey = key
            } else {
                try bootstrapAdminKey(workflowStore, dataDir: store.dataDir)
            }
        }
        let writer = WriteQueue(store: workflowStore) {
            logger.critical("storage failed fatally; exiting with 70 so that a supervisor restarts this process")
            Foundation.exit(70)
        }
        let service = WorkflowService(
            store: workflowStore, writer: writer, version: Bomflow.version, authenticator: authenticator,
            maxWaitSeconds: Double(maxWait.milliseconds) / 1000)
        var configuration = HTTPServerConfiguration()
        configuration.host = host == "localhost" ? "127.0.0.1" : host
        configuration.port = effectivePort ?? 8080
        configuration.loops = loops
        configuration.maxConnections = maxConnections
        http.apply(to: &configuration)
        let server = HTTPServer(configuration: configuration, handler: ServiceHandler(service: service))
        server.shutdownOnSignals()
        let bound: Int
        do { bound = try server.start() } catch {
            throw CommandFailure("cannot listen on \(host):\(configuration.port): \(error)")
        }
        if ephemeral {
            let authority = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
            var json = JSONWriter()
            json.beginObject()
            json.member("url", "http://\(authority):\(bound)")
            json.key("apiKey")
            if let ephemeralKey { json.string(ephemeralKey) } else { json.null() }
            json.member("dataDir", store.dataDir)
            json.endObject()
            FileHandle.standardOutput.write(Data((String(decoding: json.bytes, as: UTF8.self) + "\n").utf8))
        } else {
            FileHandle.standardOutput.write(Data("\(bound)\n".utf8))
        }
        logger.info(
            "serving",
            metadata: [
                "host": "\(configuration.host)", "port": "\(bound)", "loops": "\(loops)", "dataDir": "\(store.dataDir)",
                "sync": "\(store.sync.rawValue)", "auth": "\(authenticator == nil ? "off" : "api-keys")",
            ])
        let housekeeping = Housekeeping(
            store: workflowStore, metrics: service.metrics,
            maintenanceEvery: .milliseconds(maintenanceInterval.milliseconds))
        housekeeping.start()
        if exitWithParent { ParentWatch.start { server.shutdown() } }
        server.waitUntilSignalled()
        housekeeping.stop()
        writer.stop()
        logger.info("stopped", metadata: ["commits": "\(writer.commits)", "operations": "\(writer.operationsWritten)"])
    }
}

/// Adapts the socket-free API to the HTTP server.
struct ServiceHandler: HTTPHandler {
    let service: WorkflowService

    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        service.handle(request) { responder.respond($0) }
    }

    func respondBeforeBody(to head: HTTPRequest) -> HTTPResponse? {
        service.respondBeforeBody(to: head)
    }

    func serverWillShutDown() { service.shutdown() }
}

/// Periodic work of a serving process: stale-reader checks every 10 s (L1) and a maintenance
/// pass every interval (only one process of the host runs it at a time: the store's lease).
final class Housekeeping: @unchecked Sendable {
    let logger = Logger(label: "bomflow.housekeeping")
    let store: WorkflowStore
    let metrics: Metrics
    let maintenanceEvery: Duration
    private let stopped = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(store: WorkflowStore, metrics: Metrics, maintenanceEvery: Duration) {
        self.store = store
        self.metrics = metrics
        self.maintenanceEvery = maintenanceEvery
    }

    func start() {
        let thread = Thread { [self] in
            var nextMaintenance = ContinuousClock.now
            var nextReaderCheck = ContinuousClock.now + .seconds(10)
            let tick = min(Duration.milliseconds(500), maintenanceEvery)
            let tickMilliseconds = Int(
                tick.components.seconds * 1000 + tick.components.attoseconds / 1_000_000_000_000_000)
            while stopped.wait(timeout: .now() + .milliseconds(max(tickMilliseconds, 10))) == .timedOut {
                let now = ContinuousClock.now
                if now >= nextReaderCheck {
                    nextReaderCheck = now + .seconds(10)
                    _ = try? store.clearStaleReaders()
                }
                if now >= nextMaintenance {
                    nextMaintenance = now + maintenanceEvery
                    do {
                        let report = try store.runMaintenance()
                        metrics.recordMaintenance(report)
                        if report.timedOut + report.failed + report.deleted > 0 {
                            logger.info(
                                "maintenance",
                                metadata: [
                                    "timedOut": "\(report.timedOut)", "failed": "\(report.failed)",
                                    "cancelled": "\(report.cancelled)", "deleted": "\(report.deleted)",
                                ])
                        }
                    } catch {
                        logger.error("maintenance failed", metadata: ["error": "\(error)"])
                    }
                }
            }
            done.signal()
        }
        thread.name = "bomflow-housekeeping"
        thread.start()
    }

    func stop() {
        stopped.signal()
        done.wait()
    }
}

/// `--log-level`.
enum LogLevelArgument: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level {
        switch self {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
    }
}

/// `--exit-with-parent`: notices, within 100 ms, that the process that started this one has
/// exited (the parent PID changes when a process is re-parented), and then runs `onExit` once.
enum ParentWatch {
    static func start(onExit: @escaping @Sendable () -> Void) {
        let parent = getppid()
        let thread = Thread {
            while getppid() == parent { Thread.sleep(forTimeInterval: 0.1) }
            onExit()
        }
        thread.name = "bomflow-parent-watch"
        thread.start()
    }
}
