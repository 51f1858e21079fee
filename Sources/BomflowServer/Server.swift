internal import Dispatch
internal import FoundationEssentials
internal import HTTP1
public import HTTPServer
internal import JSON
internal import Logging
internal import Sockets
public import Storage
public import WebhookDelivery
internal import WorkflowAPI
internal import WorkflowModel

#if canImport(Glibc)
    internal import Glibc
#endif

/// How `bomflow serve` runs, apart from the store (which the caller opens).
public struct ServerConfiguration: Sendable {
    /// Sockets, loops, limits and timeouts of the HTTP layer.
    public var http = HTTPServerConfiguration()
    /// How often a maintenance pass runs (the store's lease lets one process at a time do it).
    public var maintenanceInterval: Duration = .seconds(60)
    /// The longest long-poll in seconds.
    public var maxWaitSeconds: Double = 60
    /// A write that has not had the write lock after this long is answered 503 and not applied.
    public var writeTimeout: Duration = .seconds(10)
    /// API keys are required (off only for `--insecure-no-auth` test harnesses).
    public var authentication = true
    /// The operator page's cookies carry `Secure` (clients reach bomflow through TLS).
    public var secureCookies = false
    /// Shut down when the parent process exits.
    public var exitWithParent = false
    /// Where the bootstrap key file goes (`<dataDir>/admin.key`).
    public var dataDirectory: String
    /// A throw-away instance: a fresh ADMIN key is made and announced instead of `admin.key`.
    public var ephemeral = false
    /// The largest BOM an upload may carry; the upload routes' body limits follow it.
    public var maxBomBytes = WorkflowService.defaultMaxBomBytes
    /// Built-in simulated workers (`--simulate`), and the seed of their decisions.
    public var simulation: SimulationProfile?
    public var simulationSeed: UInt64 = 0
    /// Webhook delivery (retries, timeout, CA file; off with `--no-webhook-delivery`).
    public var webhooks = DeliveryConfiguration()

    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }
}

/// What a starting server tells its caller once it listens.
public struct ServerAnnouncement: Sendable {
    /// The port bound (useful with port 0).
    public let port: Int
    /// The address as given (`127.0.0.1`, `::1`).
    public let host: String
    /// The ephemeral ADMIN key, when ``ServerConfiguration/ephemeral`` and authentication are on.
    public let apiKey: String?

    /// `{"url","apiKey","dataDir"}`: the first stdout line of `serve --ephemeral`.
    public func ephemeralLine(dataDirectory: String) -> [UInt8] {
        let authority = host.contains(":") ? "[\(host)]" : host
        return JSONWriter.object { json in
            json.member("url", "http://\(authority):\(port)")
            json.key("apiKey")
            if let apiKey { json.string(apiKey) } else { json.null() }
            json.member("dataDir", dataDirectory)
        }
    }
}

/// Why the server runtime refused to start.
public struct ServerError: Error, CustomStringConvertible {
    public let description: String
    /// The configuration must change (exit 78, EX_CONFIG); otherwise exit 1.
    public let isConfiguration: Bool
}

/// The server runtime: the API on the HTTP server, with its writer, housekeeping thread, parent
/// watch and key bootstrap. `bomflow serve` builds a configuration and calls ``run(store:configuration:announce:)``.
public enum ServerRuntime {
    /// Serves until SIGTERM/SIGINT (or the parent's exit), then drains and returns.
    /// `announce` runs once the server listens (the CLI prints the port or the ephemeral line).
    public static func run(
        store: any WorkflowStorage, configuration: ServerConfiguration, announce: (ServerAnnouncement) -> Void
    ) throws(ServerError) {
        let logger = Logger(label: "bomflow")
        try checkClock(now: store.options.clock().milliseconds)
        let keyPath = configuration.dataDirectory + "/admin.key"
        try checkKeyFile(keyPath)
        var ephemeralKey: String?
        if configuration.authentication {
            do {
                if configuration.ephemeral {
                    ephemeralKey = try Authenticator.issueKey(in: store, name: "admin", permissions: .all)
                } else {
                    try bootstrapAdminKey(store, keyPath: keyPath)
                }
            } catch let error as ServerError {
                throw error
            } catch {
                throw ServerError(description: "cannot create the ADMIN key: \(error)", isConfiguration: false)
            }
        }
        var transport: (any DeliveryTransport)?
        if configuration.webhooks.enabled {
            do throws(TransportSetupError) { transport = try configuration.webhooks.makeTransport() } catch {
                if configuration.webhooks.caFile != nil {
                    throw ServerError(description: error.description, isConfiguration: true)
                }
                logger.warning("webhooks are not delivered by this process", metadata: ["reason": "\(error)"])
            }
        }
        let writer = WriteQueue(store: store, writeTimeout: configuration.writeTimeout) { error in
            logger.critical(
                "storage failed fatally; exiting with 70 so that a supervisor restarts this process",
                metadata: ["error": "\(error)"])
            Glibc.exit(70)
        }
        let service = WorkflowService(
            store: store, writer: writer,
            authenticator: configuration.authentication ? Authenticator(store: store) : nil,
            maxWaitSeconds: configuration.maxWaitSeconds, maxBomBytes: configuration.maxBomBytes,
            secureCookies: configuration.secureCookies)
        var http = configuration.http
        http.limits.bodyLimits = WorkflowService.bomBodyLimits(maxBomBytes: configuration.maxBomBytes)
        let server = HTTPServer(configuration: http, handler: ServiceHandler(service: service))
        server.shutdownOnSignals()
        let bound: Int
        do { bound = try server.start() } catch {
            writer.stop()
            throw ServerError(
                description: "cannot listen on \(configuration.http.host):\(configuration.http.port): \(error)",
                isConfiguration: false)
        }
        service.listening(on: [bound])
        announce(ServerAnnouncement(port: bound, host: configuration.http.host, apiKey: ephemeralKey))
        logger.info(
            "serving",
            metadata: [
                "host": "\(configuration.http.host)", "port": "\(bound)", "loops": "\(configuration.http.loops)",
                "dataDir": "\(configuration.dataDirectory)",
                "auth": "\(configuration.authentication ? "api-keys" : "off")",
            ])
        let housekeeping = Housekeeping(
            store: store, metrics: service.metrics, maintenanceEvery: configuration.maintenanceInterval)
        housekeeping.start()
        let delivery = transport.map { transport in
            DeliveryService(
                store: store, configuration: configuration.webhooks, transport: transport,
                counters: service.metrics.deliveries)
        }
        if let delivery {
            writer.afterEachCommit { delivery.poke() }
            delivery.start()
        }
        if configuration.exitWithParent { ParentWatch.start { server.shutdown() } }
        var simulator: Simulator?
        if let profile = configuration.simulation {
            simulator = Simulator(store: store, writer: writer, profile: profile, seed: configuration.simulationSeed)
            simulator?.start()
            logger.info(
                "simulating workers",
                metadata: [
                    "steps": "\(profile.steps.keys.map(\.rawValue).sorted().joined(separator: ","))",
                    "seed": "\(configuration.simulationSeed)",
                ])
        }
        server.waitUntilSignalled()
        simulator?.stop()
        delivery?.stop()
        housekeeping.stop()
        writer.stop()
        logger.info("stopped", metadata: ["commits": "\(writer.commits)", "operations": "\(writer.operationsWritten)"])
    }

    /// Refuses a wall clock before 1970 (negative epoch time): timeouts, leases and retention count
    /// from it, and before 1970 maintenance would never find anything due (exit 78).
    public static func checkClock(now milliseconds: Int64) throws(ServerError) {
        guard milliseconds < 0 else { return }
        throw ServerError(
            description:
                "the system clock reads \(milliseconds / 1000) s before 1970; timeouts, leases and retention count "
                + "from the wall clock: set the clock (NTP) and start again",
            isConfiguration: true)
    }

    /// Refuses to serve while the bootstrap key file is readable by others (exit 78).
    static func checkKeyFile(_ path: String) throws(ServerError) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0
        else { return }
        throw ServerError(
            description:
                "refusing to serve: \(path) holds an API key and has mode \(String(mode, radix: 8)); chmod 600 it or delete it",
            isConfiguration: true)
    }

    /// With no key yet, creates an ADMIN key named `admin`, prints it once on stderr and writes it
    /// to `keyPath` with mode 0600, so that a newcomer's first request works.
    static func bootstrapAdminKey(_ store: any WorkflowStorage, keyPath: String) throws {
        guard try store.apiKeys().isEmpty else { return }
        // An existing key file is never overwritten: its key may be the one operators and CI hold
        // (a store that lost its keys was replaced or damaged; issue 16 §3).
        guard !FileManager.default.fileExists(atPath: keyPath) else {
            Logger(label: "bomflow").warning(
                "the store has no API keys, but \(keyPath) exists; it is left as it is and no key was made: create one with `bomflow keys create`"
            )
            return
        }
        // The key file's directory (a PostgreSQL store has no data directory of its own).
        let directory = keyPath.lastIndex(of: "/").map { String(keyPath[..<$0]) } ?? ""
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            try? FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        guard let key = try Authenticator.issueKey(in: store, name: "admin", permissions: .all) else { return }
        guard
            FileManager.default.createFile(
                atPath: keyPath, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else {
            // Nobody could learn the key: take it back, so that the next start makes one again.
            _ = try? store.revokeAPIKey(name: "admin")
            throw ServerError(description: "cannot write \(keyPath)", isConfiguration: false)
        }
        StandardStreams.writeError(
            "bomflow: created the ADMIN API key 'admin'; it is shown once and saved in \(keyPath) (mode 0600):\n\(key)\n"
        )
    }

    /// A new directory (mode 0700) under `$TMPDIR` (default `/tmp`), for `serve --ephemeral`.
    public static func makeTemporaryDataDirectory() throws(ServerError) -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let path = base + "/bomflow-ephemeral-" + UUID().uuidString.lowercased()
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ServerError(
                description: "cannot create a temporary data directory in \(base): \(error)", isConfiguration: false)
        }
        return path
    }

    /// Removes an ephemeral data directory after the server stopped.
    public static func removeTemporaryDataDirectory(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}

extension Permission {
    /// READ, WRITE and ADMIN.
    static let all: Permission = [.read, .write, .admin]
}

/// Adapts the socket-free API to the HTTP server.
struct ServiceHandler: HTTPHandler {
    let service: WorkflowService

    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        service.handle(request, respond: responder.send)
    }

    func respondBeforeBody(to head: HTTPRequest) -> HTTPResponse? {
        service.respondBeforeBody(to: head)
    }

    func serverWillShutDown() { service.shutdown() }
}
