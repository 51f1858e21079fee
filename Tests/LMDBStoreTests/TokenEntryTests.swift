import LMDB
import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

/// Format 7 (issue 15): each `tokens` entry carries its workflow's token status, so the poll is
/// one lookup. The entry follows every status change, a format-6 store is migrated at open, and
/// an entry without the status (an older process during an upgrade) is still answered.
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

    /// A format-6 directory (entries of the ID alone) is migrated at open: every entry gains its
    /// status, and the check finds nothing.
    @Test func formatSixIsMigrated() throws {
        let fixture = try StoreFixture()
        try populate(fixture)
        let options = fixture.db.options
        try downgrade(fixture, tokens: (1...4).map { Token.make(UInt64($0)) }, format: 6)
        try fixture.reopen { $0 = options }
        for number in UInt64(1)...4 { #expect(try entry(fixture, Token.make(number))?.count == 9) }
        try expectStatuses(fixture)
        try fixture.expectIntact()
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

    /// Rewrites the entries of `tokens` as format 6 had them (the ID alone) and, when given,
    /// records `format`.
    func downgrade(_ fixture: StoreFixture, tokens: [Token], format: UInt8?) throws {
        let environment = try Environment.open(path: fixture.directory.path)
        let database = try environment.openDatabase(named: "tokens")
        let meta = try environment.openDatabase(named: "meta")
        try environment.write { txn in
            for token in tokens {
                let value = try #require(try txn.value(forKey: token.bytes, in: database))
                try txn.put(Array(value.prefix(8)), forKey: token.bytes, in: database)
            }
            if let format { try txn.put([0, 0, 0, format], forKey: Array("format-version".utf8), in: meta) }
        }
    }
}
