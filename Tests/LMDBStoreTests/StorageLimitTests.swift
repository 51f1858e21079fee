import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

struct StorageLimitTests {
    /// A small map fills up: every failing write is `storageFull` (never acknowledged), reads keep
    /// working, and after deletes writes succeed again.
    @Test func mapFullIsACleanErrorAndRecoverable() throws {
        let fixture = try StoreFixture { $0.mapSize = 1 << 20 }
        let padding = String(repeating: "x", count: 200)
        var stored: [Token] = []
        var fullErrors = 0
        for number in 1...20_000 {
            let token = Token.make(UInt64(number))
            do {
                try fixture.create(token, labels: ["a": padding, "b": padding])
                stored.append(token)
            } catch WorkflowStoreError.storage(.storageFull) {
                fullErrors += 1
                #expect(try fixture.db.workflow(token) == nil, "a refused write must not be stored")
                if fullErrors == 3 { break }
            }
        }
        #expect(fullErrors == 3, "the 1 MiB map must fill up")
        #expect(stored.count > 100)
        // Reads still work, for every acknowledged workflow.
        for token in stored { #expect(try fixture.db.isProcessing(token)) }
        try fixture.expectIntact()
        // Delete some (one transaction each) and write again.
        var deleted = 0
        for token in stored.prefix(50) {
            do {
                try fixture.db.perform(.delete(token: token))
                deleted += 1
            } catch WorkflowStoreError.storage(.storageFull) {}
        }
        #expect(deleted >= 40)
        try fixture.create(.make(1_000_000))
        #expect(try fixture.db.workflow(.make(1_000_000)) != nil)
        try fixture.expectIntact()
    }
}
