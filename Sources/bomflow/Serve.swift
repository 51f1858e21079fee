import ArgumentParser
import BomflowServer
import Dispatch
import FoundationEssentials
import HTTPServer
import JSON
import LMDBStore
import Logging
import Sockets
import Storage
import WorkflowAPI

#if canImport(Glibc)
    import Glibc
#endif

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

    @OptionGroup(title: "Webhook delivery") var webhooks: WebhookArguments

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

    @Option(
        help:
            "A write that has not had the write lock after this long is answered 503 and never applied, e.g. 10s (env BOMFLOW_WRITE_TIMEOUT)."
    )
    var writeTimeout: DurationArgument =
        environment("BOMFLOW_WRITE_TIMEOUT").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 10_000)

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

    @Option(
        help: """
            Run built-in simulated workers: `default`, or a JSON profile file of step delays and failure \
            chances (fixtures/simulations/) (env BOMFLOW_SIMULATE).
            """)
    var simulate: String?

    @Option(help: "Seed of the simulated outcomes, for repeatable runs; default random (env BOMFLOW_SIMULATE_SEED).")
    var simulateSeed: UInt64?

    @Flag(help: "Walk every page of data.mdb before serving (as `bomflow check`); refuse to start on damage (exit 65).")
    var checkOnStart = false

    @Flag(
        help:
            "Mark the operator page's cookies Secure: set it when clients reach bomflow through TLS (a proxy) (env BOMFLOW_UI_SECURE_COOKIES=1)."
    )
    var uiSecureCookies: Bool = environment("BOMFLOW_UI_SECURE_COOKIES") == "1"

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
        guard (100...600_000).contains(writeTimeout.milliseconds) else {
            throw ValidationError("--write-timeout is 100ms to 10m")
        }
        if store.isPostgres, ephemeral {
            throw ValidationError("--ephemeral makes a throw-away LMDB store; it does not combine with --store")
        }
        if insecureNoAuth && !Self.isLoopback(host) {
            throw ValidationError("--insecure-no-auth is refused on \(host): bind to 127.0.0.1 or ::1, or use API keys")
        }
    }

    static func isLoopback(_ host: String) -> Bool { host.hasPrefix("127.") || host == "::1" || host == "localhost" }

    func run() throws {
        bootstrapLogging(logLevel)
        var store = self.store
        if ephemeral {
            store.dataDir = try Self.serverStep { () throws(ServerError) in
                try ServerRuntime.makeTemporaryDataDirectory()
            }
            store.sync = .none
        }
        defer { if ephemeral { ServerRuntime.removeTemporaryDataDirectory(store.dataDir) } }
        if checkOnStart, !store.isPostgres {
            let report = LMDBStore.check(directory: store.dataDir)
            guard report.problems.isEmpty else {
                StandardStreams.writeError(
                    "bomflow: refusing to serve \(store.dataDir), data.mdb is damaged:\n"
                        + report.problems.prefix(20).joined(separator: "\n")
                        + "\nrestore a backup with `bomflow restore`\n")
                throw ExitCode(65)
            }
        }
        let workflowStore = try store.openWorkflowStore(mustExist: false) { options in periods.apply(to: &options) }
        var configuration = ServerConfiguration(dataDirectory: store.dataDir)
        configuration.http.host = host == "localhost" ? "127.0.0.1" : host
        configuration.http.port = effectivePort ?? 8080
        configuration.http.loops = loops
        configuration.http.maxConnections = maxConnections
        http.apply(to: &configuration.http)
        configuration.maintenanceInterval = .milliseconds(maintenanceInterval.milliseconds)
        configuration.maxWaitSeconds = Double(maxWait.milliseconds) / 1000
        configuration.writeTimeout = .milliseconds(writeTimeout.milliseconds)
        configuration.authentication = !insecureNoAuth
        configuration.secureCookies = uiSecureCookies
        configuration.exitWithParent = exitWithParent
        configuration.ephemeral = ephemeral
        configuration.maxBomBytes = http.maxBomSize.bytes
        configuration.webhooks = webhooks.configuration
        if let simulate = simulate ?? environment("BOMFLOW_SIMULATE") {
            configuration.simulation = try Self.simulationProfile(simulate)
            configuration.simulationSeed =
                simulateSeed ?? environment("BOMFLOW_SIMULATE_SEED").flatMap { UInt64($0) }
                ?? UInt64.random(in: 0...UInt64.max)
        }
        if configuration.http.port != 0,
            let conflict = PortNeighbour.conflict(
                host: configuration.http.host, port: configuration.http.port,
                storeTag: WorkflowService.storeTag(of: workflowStore.identity))
        {
            StandardStreams.writeError("bomflow: refusing to serve: \(conflict)\n")
            throw ExitCode(78)
        }
        let dataDir = store.dataDir
        let ephemeral = self.ephemeral
        try Self.serverStep { () throws(ServerError) in
            try ServerRuntime.run(store: workflowStore, configuration: configuration) { announcement in
                let line =
                    ephemeral ? announcement.ephemeralLine(dataDirectory: dataDir) : Array("\(announcement.port)".utf8)
                StandardStreams.write(line + [0x0A], to: 1)
            }
        }
    }

    /// `default` (the built-in profile) or a profile file, parsed strictly (exit 64 on a bad one).
    static func simulationProfile(_ argument: String) throws -> SimulationProfile {
        if argument == "default" { return SimulationProfile.builtIn }
        guard let data = FileManager.default.contents(atPath: argument) else {
            throw ValidationError("--simulate: cannot read the profile \(argument)")
        }
        do { return try SimulationProfile.parse(Array(data)) } catch {
            throw ValidationError("--simulate: \(argument): \(error.message)")
        }
    }

    /// Runs a step of the server runtime; a refusal of the configuration exits 78 (EX_CONFIG).
    static func serverStep<T>(_ body: () throws(ServerError) -> T) throws -> T {
        do { return try body() } catch {
            if error.isConfiguration {
                StandardStreams.writeError("bomflow: \(error)\n")
                throw ExitCode(78)
            }
            throw CommandFailure(error.description)
        }
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

/// Sends swift-log to stderr at `level` (once per process).
func bootstrapLogging(_ level: LogLevelArgument) {
    let level = level.level
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}
