import LMDB
import Storage
import TestSupport
import Testing
import WorkflowModel

@testable import LMDBStore

/// One record per workflow (format 9, docs/STORAGE.md): the workflow record lives in `steps` at
/// the workflow's ID, before its rows, so an update dirties one leaf page for record and row;
/// `workflows` lists the IDs with empty values, written on create and delete only.
struct WorkflowRecordTests {
    static let step = StepName("BOM_CONSUMPTION")!

    /// Pending, running, completed (with a label), failed, and one deleted.
    func populate(_ fixture: StoreFixture) throws {
        var names: [StepName] = []
        for number in UInt64(1)...5 {
            names = try fixture.create(Token.make(number), labels: number == 3 ? ["project": "acme"] : [:]).steps
                .map(\.name)
        }
        try fixture.store!.perform(.update(token: Token.make(2), step: Self.step, command: .start))
        for name in names { try fixture.set(Token.make(3), name, .completed) }
        try fixture.set(Token.make(4), Self.step, .failed, reason: "broken")
        try fixture.store!.perform(.delete(token: Token.make(5)))
    }

    /// Each `steps` key of 8 bytes (a workflow record) with its value, and each `workflows` entry.
    func layout(_ store: LMDBStore) throws -> (records: [UInt64: [UInt8]], listed: [UInt64: [UInt8]]) {
        try store.read { txn in
            var records: [UInt64: [UInt8]] = [:]
            var listed: [UInt64: [UInt8]] = [:]
            try txn.withCursor(store.databases.steps) { cursor in
                var more = try cursor.first()
                while more {
                    if cursor.key.count == 8 { records[loadUInt64(cursor.key, at: 0)] = cursor.value }
                    more = try cursor.next()
                }
            }
            try txn.withCursor(store.databases.workflows) { cursor in
                var more = try cursor.first()
                while more {
                    listed[loadUInt64(cursor.key, at: 0)] = cursor.value
                    more = try cursor.next()
                }
            }
            return (records, listed)
        }
    }

    @Test func theRecordSitsBeforeItsRowsAndWorkflowsListsTheIDs() throws {
        let fixture = try StoreFixture()
        try populate(fixture)
        let (records, listed) = try layout(fixture.db)
        #expect(records.keys.sorted() == [1, 2, 3, 4], "the deleted workflow's record went with it")
        #expect(listed.keys.sorted() == [1, 2, 3, 4])
        #expect(listed.values.allSatisfy { $0.isEmpty })
        // The record decodes to the workflow's current version (updates rewrote it in `steps`).
        let version = try #require(try fixture.store!.workflow(.make(3))?.version)
        let bytes = try #require(records[3])
        let recorded = try RecordCodec.decodeWorkflow(bytes.span)
        #expect(recorded.version == version)
        #expect(version > 1)
        try fixture.expectIntact()
    }

    /// A format-8 directory (records in `workflows`) is migrated at open: every record moves into
    /// `steps`, `workflows` keeps the IDs, and workflows, histories, lists and polls are unchanged.
    @Test func formatEightIsMigrated() throws {
        let fixture = try StoreFixture()
        try populate(fixture)
        let tokens = (UInt64(1)...4).map { Token.make($0) }
        let before = try tokens.map { try fixture.store!.workflow($0) }
        let histories = try tokens.map { try fixture.store!.history($0, after: 0, limit: 500) }
        let statuses = try tokens.map { try fixture.store!.tokenStatus($0) }
        let options = fixture.db.options
        try downgradeToFormatEight(fixture)
        try fixture.reopen { $0 = options }
        #expect(try fixture.db.statistics().formatVersion == 9)
        let (records, listed) = try layout(fixture.db)
        #expect(records.keys.sorted() == [1, 2, 3, 4])
        #expect(listed.keys.sorted() == [1, 2, 3, 4] && listed.values.allSatisfy { $0.isEmpty })
        #expect(try tokens.map { try fixture.store!.workflow($0) } == before)
        #expect(try tokens.map { try fixture.store!.history($0, after: 0, limit: 500) } == histories)
        #expect(try tokens.map { try fixture.store!.tokenStatus($0) } == statuses)
        #expect(
            try fixture.store!.list(WorkflowQuery(label: Labels.Label(key: "project", value: "acme"))).workflows.map(
                \.token) == [.make(3)])
        try fixture.expectIntact()
        // And it goes on working: an update, a create and a delete.
        try fixture.set(Token.make(1), Self.step, .completed)
        try fixture.create(Token.make(6))
        try fixture.store!.perform(.delete(token: Token.make(4)))
        #expect(try layout(fixture.db).records.keys.sorted() == [1, 2, 3, 6])
        try fixture.expectIntact()
    }

    /// Rewrites the store as format 8 had it: every record back in `workflows`, version 8; with
    /// `emptying`, that workflow's entry left empty (which no format before 9 wrote).
    func downgradeToFormatEight(_ fixture: StoreFixture, emptying: UInt64? = nil) throws {
        let environment = try Environment.open(path: fixture.directory.path)
        let meta = try environment.openDatabase(named: "meta")
        let steps = try environment.openDatabase(named: "steps")
        let workflows = try environment.openDatabase(named: "workflows")
        try environment.write { txn in
            #expect(try OlderFormats.moveRecordsToWorkflows(in: txn, steps: steps, workflows: workflows) == 4)
            if let emptying { try txn.put([], forKey: Keys.workflow(emptying), in: workflows) }
            try txn.put([0, 0, 0, 8], forKey: Array("format-version".utf8), in: meta)
        }
    }

    /// A format-8 store with an empty `workflows` entry is damaged: the migration stops with
    /// `corrupted` naming the workflow, and writes nothing (the version stays 8).
    @Test func anEmptyFormatEightEntryStopsTheMigration() throws {
        let fixture = try StoreFixture()
        try populate(fixture)
        let options = fixture.db.options
        try downgradeToFormatEight(fixture, emptying: 2)
        #expect(throws: StoreError.corrupted("workflow 2 has an empty record in workflows")) {
            try fixture.reopen { $0 = options }
        }
        let environment = try Environment.open(path: fixture.directory.path)
        let meta = try environment.openDatabase(named: "meta")
        #expect(try environment.read { try $0.value(forKey: Array("format-version".utf8), in: meta) } == [0, 0, 0, 8])
    }

    /// The integrity check names a record `workflows` does not list, a listed workflow without a
    /// record, and a `workflows` entry that still carries a record (format 8).
    @Test func theCheckFindsRecordsAndListingsThatDisagree() throws {
        let fixture = try StoreFixture()
        try populate(fixture)
        let store = fixture.db
        let record = try #require(try layout(store).records[2])
        try store.write { txn in
            _ = try txn.delete(Keys.workflow(1), in: store.databases.workflows)
            _ = try txn.delete(Keys.workflow(3), in: store.databases.steps)
            try txn.put(record, forKey: Keys.workflow(2), in: store.databases.workflows)
        }
        let problems = try fixture.integrityProblems()
        #expect(problems.contains("a record of workflow 1, which workflows does not list"))
        #expect(problems.contains("workflow 3 is listed in workflows but has no record in steps"))
        #expect(problems.contains("the workflows entry of 2 carries a value (format 8)"))
    }
}
