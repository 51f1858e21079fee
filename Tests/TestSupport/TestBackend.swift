internal import Foundation
internal import Synchronization

/// Which storage backend the end-to-end tests of this test process use: LMDB, or PostgreSQL
/// when `BOMFLOW_TEST_BACKEND=postgres` (scripts/test runs the API, scenario, orchestration,
/// upload and worker suites a second time that way). With PostgreSQL, every `bomflow` a test
/// starts gets `--store` for a database of the private ``PostgresTestServer``: one database per
/// data directory, so processes a test starts on one directory share one database, like hosts.
public enum TestBackend: String, Sendable {
    case lmdb
    case postgres

    /// The backend chosen for this test process.
    public static let current: TestBackend =
        ProcessInfo.processInfo.environment["BOMFLOW_TEST_BACKEND"].flatMap(TestBackend.init(rawValue:)) ?? .lmdb

    private static let databases = Mutex<[String: String]>([:])

    /// The PostgreSQL URL standing for the data directory `directory` (made on first use).
    public static func databaseURL(for directory: String) throws -> String {
        if let url = databases.withLock({ $0[directory] }) { return url }
        let url = try PostgresTestServer.shared().makeDatabase()
        databases.withLock { $0[directory] = url }
        return url
    }

    /// `arguments` of a `bomflow` command with `--store` added for its `--data-dir` when the
    /// backend is PostgreSQL (unchanged for LMDB, and for commands that take no store).
    public static func adapt(_ arguments: [String]) throws -> [String] {
        guard current == .postgres, let index = arguments.firstIndex(of: "--data-dir"), index + 1 < arguments.count,
            !arguments.contains("--store")
        else { return arguments }
        return arguments + ["--store", try databaseURL(for: arguments[index + 1])]
    }
}
