import LMDB
import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

/// Format 7 (issue 15): each `tokens` entry carries its workflow's token status, so the poll is
/// one lookup, and the events live after their workflow's rows in `steps`. The entry follows
/// every status change, a format-6 store is migrated at open, and an entry without the status
/// (an older process during an upgrade) is still answered.
struct TokenEntryTests {
    static let step = StepName("BOM_CONSUMPTION")!

    /// The raw `tokens` entry of `token`.
    func entry(_ fixture: StoreFixture, _ token: Token) throws -> [UInt8]? {
        let environment = try Environment.open(path: fixture.directory.path)
        let tokens = try environment.openDatabase(named: "tokens")
        return try environment.read { txn in try txn.value(forKey: token.bytes, in: tokens) }
    }

    /// Creates five workflows: pending, running, completed, failed, and one deleted.
    func populate(_ fixture: StoreFixture) throws {
        var names: [StepName] = []
        for number in UInt64(1)...5 { names = try fixture.create(Token.make(number)).steps.map(\.name) }
        _ = try fixture.store!.perform(.update(token: Token.make(2), step: Self.step, command: .start))
        for name in names { try fixture.set(Token.make(3), name, .completed) }
        try fixture.set(Token.make(4), Self.step, .failed, reason: "broken")
        _ = try fixture.store!.perform(.delete(token: Token.make(5)))
    }

    func expectStatuses(_ fixture: StoreFixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let store = try #require(fixture.store)
        #expect(try store.tokenStatus(Token.make(1)) == .pending, sourceLocation: sourceLocation)
        #expect(try store.tokenStatus(Token.make(2)) == .running, sourceLocation: sourceLocation)
        #expect(try store.tokenStatus(Token.make(3)) == .completed, sourceLocation: sourceLocation)
        #expect(try store.tokenStatus(Token.make(4)) == .failed, sourceLocation: sourceLocation)
        #expect(try store.tokenStatus(Token.make(5)) == nil, sourceLocation: sourceLocation)
        #expect(try store.isProcessing(Token.make(2)), sourceLocation: sourceLocation)
        #expect(try !store.isProcessing(Token.make(3)), sourceLocation: sourceLocation)
    }

    @Test func theEntryFollowsEveryStatusChange() throws {
        let fixture = try StoreFixture()
        try populate(fixture)
        try expectStatuses(fixture)
        // ID (8 bytes) and the status code: 1 pending, 2 running, 3 completed, 4 failed.
        for (number, code) in [(UInt64(1), UInt8(1)), (2, 2), (3, 3), (4, 4)] {
            let bytes = try #require(try entry(fixture, Token.make(number)))
            #expect(bytes.count == 9)
            #expect(bytes.last == code)
        }
        #expect(try entry(fixture, Token.make(5)) == nil)
        // A restart makes a finished workflow pending again; the entry follows.
        _ = try fixture.store!.perform(.restart(token: Token.make(3), step: Self.step))
        #expect(try fixture.store!.tokenStatus(Token.make(3)) == .pending)
        #expect(try entry(fixture, Token.make(3))?.last == 1)
        try fixture.expectIntact()
    }

    /// A format-6 directory (token entries of the ID alone, events in a `history` database of
    /// their own) is migrated at open: every entry gains its status, every event moves after its
    /// workflow's rows in `steps`, and the check finds nothing.
    @Test func formatSixIsMigrated() throws {
        let fixture = try StoreFixture()
        try populate(fixture)
        let before = try (1...4).map { try fixture.store!.history(Token.make(UInt64($0)), after: 0, limit: 500) }
        #expect(before.allSatisfy { ($0?.events.count ?? 0) > 0 })
        let options = fixture.db.options
        try downgrade(fixture, tokens: (1...4).map { Token.make(UInt64($0)) }, format: 6)
        try fixture.reopen { $0 = options }
        for number in UInt64(1)...4 { #expect(try entry(fixture, Token.make(number))?.count == 9) }
        try expectStatuses(fixture)
        let after = try (1...4).map { try fixture.store!.history(Token.make(UInt64($0)), after: 0, limit: 500) }
        #expect(after == before)
        #expect(try eventsInFormatSixDatabase(fixture) == 0)
        try fixture.expectIntact()
    }

    func eventsInFormatSixDatabase(_ fixture: StoreFixture) throws -> Int {
        let environment = try Environment.open(path: fixture.directory.path)
        let history = try environment.openDatabase(named: "history")
        return try environment.read { txn in try txn.count(of: history) }
    }

    /// An entry without the status in a format-7 store (a format-6 process wrote it during an
    /// upgrade) is answered from the workflow record, and `check` names it.
    @Test func anEntryWithoutTheStatusIsStillAnswered() throws {
        let fixture = try StoreFixture()
        try populate(fixture)
        try downgrade(fixture, tokens: [Token.make(2), Token.make(3)], format: nil)
        try expectStatuses(fixture)
        let problems = try fixture.integrityProblems()
        #expect(problems.count == 2)
        #expect(problems.allSatisfy { $0.contains("has no status") })
        // The next status change (running to failed) writes the whole entry again.
        try fixture.set(Token.make(2), Self.step, .failed, reason: "broken")
        #expect(try entry(fixture, Token.make(2)).map { Array($0.suffix(1)) } == [4])
        #expect(try entry(fixture, Token.make(2))?.count == 9)
    }

    /// Rewrites the entries of `tokens` as format 6 had them (the ID alone) and, when `format`
    /// is given, moves every event into the `history` database with format 6's key (ID ‖ number)
    /// and records `format`.
    func downgrade(_ fixture: StoreFixture, tokens: [Token], format: UInt8?) throws {
        let environment = try Environment.open(path: fixture.directory.path)
        let database = try environment.openDatabase(named: "tokens")
        let meta = try environment.openDatabase(named: "meta")
        let rows = try environment.openDatabase(named: "steps")
        let history = try environment.openDatabase(named: "history")
        let workflows = try environment.openDatabase(named: "workflows")
        try environment.write { txn in
            for token in tokens {
                let value = try #require(try txn.value(forKey: token.bytes, in: database))
                try txn.put(Array(value.prefix(8)), forKey: token.bytes, in: database)
            }
            guard let format else { return }
            try OlderFormats.moveRecordsToWorkflows(in: txn, steps: rows, workflows: workflows)
            var events: [([UInt8], [UInt8])] = []
            try txn.withCursor(rows) { cursor in
                var more = try cursor.first()
                while more {
                    if cursor.key.count == 17 { events.append((cursor.key, cursor.value)) }
                    more = try cursor.next()
                }
            }
            #expect(!events.isEmpty)
            for (key, value) in events {
                _ = try txn.delete(key, in: rows)
                try txn.put(value, forKey: Array(key[0..<8]) + Array(key[9..<17]), in: history)
            }
            try txn.put([0, 0, 0, format], forKey: Array("format-version".utf8), in: meta)
        }
    }
}
