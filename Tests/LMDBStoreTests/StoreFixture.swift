import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

#if PostgreSQL
    import PostgresStore
#endif

/// The storage backends the shared store tests run against: LMDB always, PostgreSQL in builds
/// with the `PostgreSQL` trait (a private cluster, ``PostgresTestServer``).
enum Backend: String, CaseIterable, CustomStringConvertible, Sendable {
    case lmdb
    case postgres

    /// The backends of this build.
    static var all: [Backend] {
        #if PostgreSQL
            [.lmdb, .postgres]
        #else
            [.lmdb]
        #endif
    }

    var description: String { rawValue }
}

/// A store on a fresh temp directory (LMDB) or a fresh database (PostgreSQL) with a manual
/// clock; one per test (STYLE.md rule 10).
final class StoreFixture {
    let backend: Backend
    let directory: TemporaryDirectory
    let clock = ManualClock()
    private(set) var store: (any WorkflowStorage)?
    /// The database URL (PostgreSQL).
    private(set) var databaseURL: String?

    init(_ backend: Backend = .lmdb, _ configure: (inout StoreOptions) -> Void = { _ in }) throws {
        self.backend = backend
        directory = try TemporaryDirectory("store")
        var options = StoreOptions()
        options.durability = .none
        options.mapSize = 256 << 20
        options.clock = clock.closure
        configure(&options)
        try open(options)
    }

    private func open(_ options: StoreOptions) throws {
        switch backend {
        case .lmdb:
            store = try LMDBStore(path: directory.path, options: options)
        case .postgres:
            #if PostgreSQL
                let server = try PostgresTestServer.shared()
                if databaseURL == nil { databaseURL = try server.makeDatabase() }
                var configuration = PostgresStore.Configuration()
                configuration.poolSize = 3
                store = try PostgresStore(
                    location: try PostgresLocation(databaseURL!), options: options, configuration: configuration)
            #else
                Issue.record("this build has no PostgreSQL backend")
            #endif
        }
    }

    /// The LMDB store (tests of LMDB's own features).
    var db: LMDBStore { store as! LMDBStore }

    /// Closes the store and opens it again (a process restart).
    func reopen(_ configure: (inout StoreOptions) -> Void = { _ in }) throws {
        var options = store!.options
        configure(&options)
        close()
        try open(options)
    }

    private func close() {
        #if PostgreSQL
            (store as? PostgresStore)?.close()
        #endif
        store = nil
    }

    deinit {
        close()
        #if PostgreSQL
            if let databaseURL, let server = try? PostgresTestServer.shared() {
                server.dropDatabase(databaseURL)
            }
        #endif
        directory.remove()
    }

    /// What the backend's own consistency check finds (empty when all is well).
    func integrityProblems() throws -> [String] {
        switch store {
        case let lmdb as LMDBStore: return try lmdb.verifyIntegrity()
        default:
            #if PostgreSQL
                if let postgres = store as? PostgresStore { return try postgres.verifyIntegrity() }
            #endif
            return ["no integrity check for \(backend)"]
        }
    }

    @discardableResult
    func create(_ token: Token, _ template: Template = .bomUpload, labels: [String: String] = [:]) throws -> Workflow {
        let outcome = try store!.perform(
            .create(
                token: token, definition: WorkflowDefinition(template: template), labels: try Labels(labels),
                createdBy: "test"))
        return try #require(outcome.workflow)
    }

    /// Creates a workflow of the given steps (no template).
    @discardableResult
    func create(_ token: Token, steps: [StepSpec]) throws -> Workflow {
        let outcome = try store!.perform(
            .create(token: token, definition: WorkflowDefinition(steps: steps), labels: Labels(), createdBy: nil))
        return try #require(outcome.workflow)
    }

    @discardableResult
    func set(_ token: Token, _ step: StepName, _ status: StepStatus, reason: String? = nil) throws -> Workflow {
        let outcome = try store!.perform(
            .update(token: token, step: step, command: .setStatus(status, failureReason: reason)))
        return try #require(outcome.workflow)
    }

    func expectIntact(sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try integrityProblems() == [], sourceLocation: sourceLocation)
    }
}
