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
            Several processes may serve one data directory and one port (SO_REUSEPORT). With --port 0 \
            the bound port is printed as the first line on stdout. SIGTERM or SIGINT drains in-flight \
            requests, commits queued writes and exits 0.
            """)

    @OptionGroup var store: StoreArguments

    @Option(help: "Address to bind, an IPv4 or IPv6 literal (env BOMFLOW_HOST).")
    var host: String = environment("BOMFLOW_HOST") ?? "127.0.0.1"

    @Option(help: "Port; 0 picks a free one and prints it (env BOMFLOW_PORT).")
    var port: Int = environment("BOMFLOW_PORT").flatMap(Int.init) ?? 8080

    @Option(help: "Event loops (threads serving HTTP); default one per core (env BOMFLOW_LOOPS).")
    var loops: Int = environment("BOMFLOW_LOOPS").flatMap(Int.init) ?? HTTPServerConfiguration.coreCount

    @OptionGroup var periods: MaintenanceArguments

    @OptionGroup(title: "HTTP limits") var http: HTTPArguments

    @Option(help: "How often to run maintenance, e.g. 1m (env BOMFLOW_MAINTENANCE_INTERVAL).")
    var maintenanceInterval: DurationArgument =
        environment("BOMFLOW_MAINTENANCE_INTERVAL").flatMap(DurationArgument.init(argument:))
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

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        guard loops >= 1 && loops <= 256 else { throw ValidationError("--loops must be 1 to 256") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be positive") }
        if insecureNoAuth && !Self.isLoopback(host) {
            throw ValidationError("--insecure-no-auth is refused on \(host): bind to 127.0.0.1 or ::1, or use API keys")
        }
    }

    static func isLoopback(_ host: String) -> Bool { host.hasPrefix("127.") || host == "::1" || host == "localhost" }

    /// With no key yet, creates an ADMIN key named `admin`, prints it once on stderr and writes it
    /// to `<data-dir>/admin.key` with mode 0600, so that a newcomer's first request works.
    func bootstrapAdminKey(_ workflowStore: WorkflowStore) throws {
        guard try workflowStore.apiKeys().isEmpty else { return }
        let key = Authenticator.generateKey()
        guard
            try workflowStore.addAPIKey(
                digest: Authenticator.digest(of: key), name: "admin",
                permissions: Permission([.read, .write, .admin]).rawValue)
        else { return }
        let path = store.dataDir + "/admin.key"
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
        let workflowStore = try store.openStore(mustExist: false) { options in
            periods.apply(to: &options)
        }
        let authenticator = insecureNoAuth ? nil : Authenticator(store: workflowStore)
        if authenticator != nil { try bootstrapAdminKey(workflowStore) }
        let writer = WriteQueue(store: workflowStore) {
            logger.critical("storage failed fatally; exiting with 70 so that a supervisor restarts this process")
            Foundation.exit(70)
        }
        let service = WorkflowService(
            store: workflowStore, writer: writer, version: Bomflow.version, authenticator: authenticator)
        var configuration = HTTPServerConfiguration()
        configuration.host = host == "localhost" ? "127.0.0.1" : host
        configuration.port = port
        configuration.loops = loops
        configuration.maxConnections = maxConnections
        http.apply(to: &configuration)
        let server = HTTPServer(configuration: configuration, handler: ServiceHandler(service: service))
        let bound: Int
        do { bound = try server.start() } catch { throw CommandFailure("cannot listen on \(host):\(port): \(error)") }
        FileHandle.standardOutput.write(Data("\(bound)\n".utf8))
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
