internal import Foundation
internal import Synchronization

/// A private PostgreSQL cluster for the tests of the PostgreSQL backend: `initdb` in a temp
/// directory (SCRAM-SHA-256 password authentication, fsync on), its own port on 127.0.0.1 and
/// its own unix socket, started once per test process and stopped when that process ends (a
/// detached watchdog stops it and removes the directory), so no system service is used.
///
/// `BOMFLOW_TEST_POSTGRES` (a `postgres://` URL of a superuser on a server started elsewhere,
/// e.g. by a script that runs several test processes) is used instead when set.
public final class PostgresTestServer: Sendable {
    /// The one server of this process (started on first use; not in a `static let`, whose
    /// one-time initialisation lock Foundation's process reaping then waits on).
    public static func shared() throws(PostgresTestServerError) -> PostgresTestServer {
        let result = started.withLock { state in
            if state == nil { state = Result { () throws(PostgresTestServerError) in try PostgresTestServer() } }
            return state!
        }
        return try result.get()
    }

    private static let started = Mutex<Result<PostgresTestServer, PostgresTestServerError>?>(nil)

    /// Host, port, superuser and password of the server.
    public let host: String
    public let port: Int
    public let user: String
    public let password: String
    private let counter = Atomic<Int>(0)
    private let psqlPath: String

    private init() throws(PostgresTestServerError) {
        let environment = ProcessInfo.processInfo.environment
        guard let binaries = Self.binaryDirectory() else {
            throw .init("PostgreSQL is not installed (scripts/bootstrap installs Debian's postgresql)")
        }
        psqlPath = FileManager.default.isExecutableFile(atPath: "\(binaries)/psql") ? "\(binaries)/psql" : "psql"
        if let url = environment["BOMFLOW_TEST_POSTGRES"], let components = URLComponents(string: url) {
            host = components.host ?? "127.0.0.1"
            port = components.port ?? 5432
            user = components.user ?? "postgres"
            password = components.password ?? ""
            return
        }
        host = "127.0.0.1"
        user = "bomflow"
        password = "test-\(UUID().uuidString.prefix(8))"
        let base = FileManager.default.temporaryDirectory.path + "/bomflow-pg-\(UUID().uuidString.prefix(8))"
        let data = base + "/data"
        do {
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
            try Data(password.utf8).write(to: URL(fileURLWithPath: base + "/pwfile"))
        } catch {
            throw .init("cannot prepare \(base): \(error)")
        }
        let asRoot = getuid() == 0
        if asRoot {
            guard Self.run("/bin/chown", ["-R", "postgres:postgres", base]).status == 0 else {
                throw .init("cannot hand \(base) to the postgres user")
            }
        }
        func pg(_ tool: String, _ arguments: [String]) -> (status: Int32, output: String) {
            let command =
                (asRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []) + ["\(binaries)/\(tool)"] + arguments
            // Through python's subprocess, which closes inherited descriptors: the server pg_ctl
            // leaves behind would otherwise hold the descriptor by which Foundation learns that
            // its child exited, and the wait would never end.
            return Self.run(
                "/usr/bin/python3",
                ["-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], close_fds=True))"] + command,
                capture: tool != "pg_ctl")
        }
        let initdb = pg(
            "initdb",
            ["-D", data, "-U", user, "--pwfile=\(base)/pwfile", "-A", "scram-sha-256", "-E", "UTF8", "--no-locale"])
        guard initdb.status == 0 else { throw .init("initdb failed: \(initdb.output)") }
        var started: Int?
        for _ in 0..<20 {
            let candidate = Int.random(in: 20_000...45_000)
            let options =
                "-p \(candidate) -k \(base) -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=400"
                + " -c shared_buffers=128MB"
            let start = pg("pg_ctl", ["-D", data, "-l", "\(base)/log", "-w", "-t", "60", "start", "-o", options])
            if start.status == 0 {
                started = candidate
                break
            }
        }
        guard let started else { throw .init("PostgreSQL did not start; see \(base)/log") }
        port = started
        // Stops the cluster and removes its directory once this test process is gone.
        let stop =
            asRoot
            ? "/usr/sbin/runuser -u postgres -- \(binaries)/pg_ctl -D \(data) -m immediate stop"
            : "\(binaries)/pg_ctl -D \(data) -m immediate stop"
        let watchdog = SpawnedProcess()
        watchdog.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        watchdog.arguments = [
            "/bin/sh", "-c",
            "while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done; \(stop) >/dev/null 2>&1; rm -rf \(base)",
        ]
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        do { try watchdog.run() } catch { throw .init("cannot start the watchdog: \(error)") }
    }

    /// A new, empty database for one test, as a `postgres://` URL.
    public func makeDatabase() throws(PostgresTestServerError) -> String {
        let name = "t\(getpid())_\(counter.wrappingAdd(1, ordering: .relaxed).newValue)"
        try psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// Drops a database made by ``makeDatabase()`` (closing its connections).
    public func dropDatabase(_ url: String) {
        guard let name = URLComponents(string: url)?.path.dropFirst() else { return }
        _ = try? psql("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// The URL of `database` on this server.
    public func url(database: String) -> String {
        "postgres://\(user):\(password)@\(host):\(port)/\(database)?sslmode=disable"
    }

    /// Runs SQL with psql as the superuser on `database`. - Returns: psql's output (unaligned, tuples only).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws(PostgresTestServerError) -> String {
        let result = Self.run(
            psqlPath,
            ["-h", host, "-p", String(port), "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
            environment: ["PGPASSWORD": password])
        guard result.status == 0 else { throw .init("psql failed on \(sql): \(result.output)") }
        return result.output
    }

    private static func binaryDirectory() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let newest = versions.compactMap { Int($0) }.max()
        return newest.map { "\(root)/\($0)/bin" }
    }

    /// Runs a program to its end. With `capture` false its output is discarded: `pg_ctl start`
    /// leaves a server behind that inherits the output descriptors, so a pipe would never close.
    private static func run(
        _ path: String, _ arguments: [String], environment: [String: String] = [:], capture: Bool = true
    ) -> (status: Int32, output: String) {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let pipe = Pipe()
        process.standardOutput = capture ? pipe : FileHandle.nullDevice
        process.standardError = capture ? pipe : FileHandle.nullDevice
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = capture ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// The test server could not be started or used.
public struct PostgresTestServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
