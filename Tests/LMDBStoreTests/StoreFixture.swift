import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

/// A store on a fresh temp directory with a manual clock; one per test (STYLE.md rule 10).
final class StoreFixture {
    let directory: TemporaryDirectory
    let clock = ManualClock()
    private(set) var store: LMDBStore?

    init(_ configure: (inout StoreOptions) -> Void = { _ in }) throws {
        directory = try TemporaryDirectory("store")
        var options = StoreOptions()
        options.durability = .none
        options.mapSize = 256 << 20
        options.clock = clock.closure
        configure(&options)
        store = try LMDBStore(path: directory.path, options: options)
    }

    var db: LMDBStore { store! }

    /// Closes the environment and opens it again (a process restart).
    func reopen(_ configure: (inout StoreOptions) -> Void = { _ in }) throws {
        var options = db.options
        configure(&options)
        store = nil
        store = try LMDBStore(path: directory.path, options: options)
    }

    deinit {
        store = nil
        directory.remove()
    }

    @discardableResult
    func create(_ token: Token, _ template: Template = .bomUpload, labels: [String: String] = [:]) throws -> Workflow {
        let outcome = try db.perform(
            .create(
                token: token, definition: WorkflowDefinition(template: template), labels: try Labels(labels),
                createdBy: "test"))
        return try #require(outcome.workflow)
    }

    @discardableResult
    func set(_ token: Token, _ step: StepName, _ status: StepStatus, reason: String? = nil) throws -> Workflow {
        let outcome = try db.perform(
            .update(token: token, step: step, command: .setStatus(status, failureReason: reason)))
        return try #require(outcome.workflow)
    }

    func expectIntact(sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try db.verifyIntegrity() == [], sourceLocation: sourceLocation)
    }
}
