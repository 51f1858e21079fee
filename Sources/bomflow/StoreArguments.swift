import ArgumentParser
import Dispatch
import FoundationEssentials
import LMDBStore
import Sockets
import Storage

#if canImport(Glibc)
    import Glibc
#endif

#if PostgreSQL
    import PostgresStore
#endif

/// The value of a `BOMFLOW_*` environment variable, used as an option's default.
func environment(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
}

/// Options every command that opens the data directory shares.
struct StoreArguments: ParsableArguments {
    @Option(name: .long, help: "The LMDB data directory, the embedded default (env BOMFLOW_DATA_DIR).")
    var dataDir: String = environment("BOMFLOW_DATA_DIR") ?? "./bomflow-data"

    @Option(
        name: .customLong("store"),
        help: ArgumentHelp(
            "A PostgreSQL store instead of the data directory: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-full] (env BOMFLOW_STORE).",
            valueName: "url"))
    var storeOption: String?

    /// `--store`, else `BOMFLOW_STORE`.
    var storeURL: String? { storeOption ?? environment("BOMFLOW_STORE") }

    @Option(
        name: .customLong("store-password-file"),
        help:
            "A file whose first line is the PostgreSQL password, kept out of process listings (env BOMFLOW_STORE_PASSWORD_FILE)."
    )
    var storePasswordFileOption: String?

    /// `--store-password-file`, else `BOMFLOW_STORE_PASSWORD_FILE`.
    var storePasswordFile: String? { storePasswordFileOption ?? environment("BOMFLOW_STORE_PASSWORD_FILE") }

    @Option(name: .long, help: "PostgreSQL connections this process opens at most (env BOMFLOW_STORE_POOL).")
    var storePool: Int = environment("BOMFLOW_STORE_POOL").flatMap { Int($0) } ?? 12

    @Option(
        name: .long,
        help:
            "LMDB map size: the most the data file may hold, e.g. 64GiB; the same in every process (env BOMFLOW_MAP_SIZE)."
    )
    var mapSize: ByteSize =
        environment("BOMFLOW_MAP_SIZE").flatMap(ByteSize.init(argument:)) ?? ByteSize(bytes: 64 << 30)

    @Option(
        name: .long,
        help: "full: every acknowledged write is on disk; none: no fsync, for throw-away instances (env BOMFLOW_SYNC).")
    var sync: SyncArgument = environment("BOMFLOW_SYNC").flatMap(SyncArgument.init(rawValue:)) ?? .full

    func validate() throws {
        guard mapSize.bytes >= 1 << 20 else { throw ValidationError("--map-size must be at least 1MiB") }
        guard (1...256).contains(storePool) else { throw ValidationError("--store-pool must be 1 to 256") }
        if let storeURL, !PostgresLocationText.isURL(storeURL) {
            throw ValidationError("--store takes a postgres:// URL; an LMDB store is named by --data-dir")
        }
    }

    /// True when the store is PostgreSQL (`--store`), not the LMDB data directory.
    var isPostgres: Bool { storeURL != nil }

    /// What names the store, for messages: the URL without its password, or the directory.
    var storeDescription: String {
        guard let storeURL else { return dataDir }
        #if PostgreSQL
            return (try? PostgresLocation(storeURL).description) ?? "the --store URL"
        #else
            return "the --store URL"
        #endif
    }

    /// Opens the store the arguments name: PostgreSQL with `--store`, else the LMDB data directory
    /// (``openStore(mustExist:readOnly:configure:)``).
    func openWorkflowStore(
        mustExist: Bool, readOnly: Bool = false, configure: (inout StoreOptions) -> Void = { _ in }
    ) throws -> any WorkflowStorage {
        guard let storeURL else { return try openStore(mustExist: mustExist, readOnly: readOnly, configure: configure) }
        #if PostgreSQL
            var location: PostgresLocation
            do { location = try PostgresLocation(storeURL) } catch {
                throw ValidationError("--store: \(error)")
            }
            if let storePasswordFile {
                guard let data = FileManager.default.contents(atPath: storePasswordFile) else {
                    throw ValidationError("--store-password-file: cannot read \(storePasswordFile)")
                }
                let text = String(decoding: data, as: UTF8.self)
                location.password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            }
            var options = StoreOptions()
            options.readOnly = readOnly
            configure(&options)
            var configuration = PostgresStore.Configuration()
            configuration.poolSize = storePool
            do {
                return try PostgresStore(location: location, options: options, configuration: configuration)
            } catch .newerFormat(let found, let supported) {
                StandardStreams.writeError(
                    "bomflow: refusing \(location): its schema has migration \(found), this bomflow knows up to \(supported)\n"
                )
                throw ExitCode(78)
            } catch {
                throw CommandFailure("cannot open \(location): \(error)")
            }
        #else
            throw ValidationError(
                "--store: this bomflow was built without the PostgreSQL backend (the PostgreSQL package trait)")
        #endif
    }

    /// Refuses `--store` for a command that works on the LMDB data directory only.
    func requireLMDB(_ command: String, instead: String) throws {
        guard storeURL == nil else {
            throw ValidationError("`bomflow \(command)` works on the LMDB data directory only; \(instead)")
        }
    }

    /// Opens the store. Commands that only read (`readOnly`) refuse a missing directory instead of
    /// creating one, and open it `MDB_RDONLY`: they never wait for another process's write lock.
    func openStore(
        mustExist: Bool, readOnly: Bool = false, configure: (inout StoreOptions) -> Void = { _ in }
    ) throws -> LMDBStore {
        guard storeURL == nil else {
            throw ValidationError("this command works on the LMDB data directory only, not on --store")
        }
        if mustExist || readOnly, !FileManager.default.fileExists(atPath: dataDir + "/data.mdb") {
            throw ValidationError("no bomflow data in \(dataDir) (set --data-dir or BOMFLOW_DATA_DIR)")
        }
        var options = StoreOptions()
        options.mapSize = mapSize.bytes
        options.durability = sync == .full ? .full : .none
        options.readOnly = readOnly
        configure(&options)
        do {
            let store = try LMDBStore(path: dataDir, options: options)
            if let notice = store.mapSizeNotice { StandardStreams.writeError("bomflow: \(notice)\n") }
            return store
        } catch .unsafeLocation(let why) {
            // EX_CONFIG: the configuration must change; restarting will not help.
            StandardStreams.writeError("bomflow: refusing \(dataDir): \(why)\n")
            throw ExitCode(78)
        } catch .corrupted(let why) {
            // EX_DATAERR: the data is damaged; restarting will not help, a restore will.
            StandardStreams.writeError("bomflow: refusing \(dataDir): \(why)\n")
            throw ExitCode(65)
        } catch {
            throw CommandFailure("cannot open \(dataDir): \(error)")
        }
    }
}

/// `--sync full|none`.
enum SyncArgument: String, ExpressibleByArgument, CaseIterable {
    case full
    case none
}

/// A failure to report on stderr with exit code 1 (not a usage error).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Prints `bytes` (UTF-8 JSON) and a newline on stdout.
func printJSON(_ bytes: [UInt8]) {
    print(String(decoding: bytes, as: UTF8.self))
}

/// The periods of maintenance, shared by `maintenance` and `serve`.
struct MaintenanceArguments: ParsableArguments {
    @Option(help: "Time out ready steps idle this long, e.g. 60m (env BOMFLOW_STEP_TIMEOUT).")
    var stepTimeout: DurationArgument =
        environment("BOMFLOW_STEP_TIMEOUT").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 3_600_000)

    @Option(help: "Delete finished workflows idle this long, e.g. 72h (env BOMFLOW_RETENTION).")
    var retention: DurationArgument =
        environment("BOMFLOW_RETENTION").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 259_200_000)

    @Option(help: "Claims a step may get; when the last lease expires it fails (env BOMFLOW_MAX_ATTEMPTS).")
    var maxAttempts: Int = environment("BOMFLOW_MAX_ATTEMPTS").flatMap(Int.init) ?? 3

    func validate() throws {
        guard (1...1000).contains(maxAttempts) else { throw ValidationError("--max-attempts must be 1 to 1000") }
    }

    /// Applies the periods to store options.
    func apply(to options: inout StoreOptions) {
        options.stepTimeout = stepTimeout.milliseconds
        options.retention = retention.milliseconds
        options.maxAttempts = maxAttempts
    }
}
