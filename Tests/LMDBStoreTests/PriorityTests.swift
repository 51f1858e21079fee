import LMDB
import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

/// Workflow priorities (issue 14): claims hand out higher priority first, in ready order within
/// one priority, on every backend; the priority is stored, exported and migrated.
struct PriorityTests {
    func create(_ fixture: StoreFixture, _ number: UInt64, priority: Int, steps: [String] = ["WORK"]) throws {
        try fixture.store!.perform(
            .create(
                token: Token.make(number),
                definition: WorkflowDefinition(steps: steps.map { StepSpec(StepName($0)!) }, priority: priority),
                labels: Labels(), createdBy: "test"))
        fixture.clock.advance(milliseconds: 10)
    }

    func claimOne(_ fixture: StoreFixture, _ names: [String]) throws -> Token? {
        let outcome = try fixture.store!.perform(
            .claim(steps: names.map { StepName($0)! }, worker: "w", leaseMilliseconds: 60_000, max: 1))
        guard case .claimed(let claims) = outcome else { return nil }
        return claims.first?.token
    }

    @Test(arguments: Backend.all) func higherPriorityFirstThenReadyOrder(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        // Created (and so ready) in this order: 1 low, 2 default, 3 high, 4 default, 5 high.
        try create(fixture, 1, priority: 10)
        try create(fixture, 2, priority: 50)
        try create(fixture, 3, priority: 90)
        try create(fixture, 4, priority: 50)
        try create(fixture, 5, priority: 90)
        var order: [Token] = []
        while let token = try claimOne(fixture, ["WORK"]) { order.append(token) }
        #expect(order == [3, 5, 2, 4, 1].map { Token.make($0) })
        #expect(try fixture.store!.workflow(Token.make(3))?.priority == 90)
        try fixture.expectIntact()
    }

    @Test(arguments: Backend.all) func priorityOrdersAcrossStepNamesToo(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        try create(fixture, 1, priority: 50, steps: ["A"])
        try create(fixture, 2, priority: 100, steps: ["B"])
        try create(fixture, 3, priority: 0, steps: ["A"])
        try create(fixture, 4, priority: 50, steps: ["B"])
        var order: [Token] = []
        while let token = try claimOne(fixture, ["A", "B"]) { order.append(token) }
        #expect(order == [2, 1, 4, 3].map { Token.make($0) })
    }

    @Test(arguments: Backend.all) func priorityIsPartOfTheDefinition(backend: Backend) throws {
        let fixture = try StoreFixture(backend)
        try create(fixture, 1, priority: 70)
        #expect(throws: WorkflowStoreError.refused(.conflictingDefinition(Token.make(1)))) {
            try self.create(fixture, 1, priority: 71)
        }
        #expect(throws: WorkflowStoreError.refused(.invalidPriority(101))) {
            try self.create(fixture, 2, priority: 101)
        }
        #expect(throws: WorkflowStoreError.refused(.invalidPriority(-1))) {
            try self.create(fixture, 3, priority: -1)
        }
        try create(fixture, 1, priority: 70)  // the same again: idempotent
    }

    /// A format-4 directory (ready keys without the priority byte) is migrated at open: its ready
    /// index is rebuilt, claims and the integrity check work on it.
    @Test func formatFourIsMigrated() throws {
        let fixture = try StoreFixture()
        for number in 1...20 { try create(fixture, UInt64(number), priority: number % 2 == 0 ? 80 : 50) }
        let path = fixture.directory.path
        let options = fixture.db.options
        do {
            let environment = try Environment.open(path: path)
            let ready = try environment.openDatabase(named: "ready")
            let meta = try environment.openDatabase(named: "meta")
            let steps = try environment.openDatabase(named: "steps")
            let workflows = try environment.openDatabase(named: "workflows")
            try environment.write { txn in
                #expect(try OlderFormats.moveRecordsToWorkflows(in: txn, steps: steps, workflows: workflows) == 20)
                var keys: [[UInt8]] = []
                try txn.withCursor(ready) { cursor in
                    var more = try cursor.first()
                    while more {
                        keys.append(cursor.key)
                        more = try cursor.next()
                    }
                }
                #expect(keys.count == 20)
                // Format 4's layout: the same key without the priority byte after the name.
                for key in keys {
                    try txn.delete(key, in: ready)
                    let nameEnd = 1 + Int(key[0])
                    try txn.put([], forKey: Array(key[..<nameEnd]) + Array(key[(nameEnd + 1)...]), in: ready)
                }
                try txn.put([0, 0, 0, 4], forKey: Array("format-version".utf8), in: meta)
            }
        }
        try fixture.reopen { $0 = options }
        try fixture.expectIntact()
        var order: [Token] = []
        while let token = try claimOne(fixture, ["WORK"]) { order.append(token) }
        #expect(
            order
                == (stride(from: 2, through: 20, by: 2).map(UInt64.init)
                + stride(from: 1, through: 19, by: 2).map(UInt64.init)).map { Token.make($0) })
    }
}
