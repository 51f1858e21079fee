import Foundation
import TestSupport
import Testing

/// `bomflow queues list|pause|resume` on the store directly, on the test run's backend.
struct QueueCommandTests {
    @Test func pauseListAndResume() throws {
        let directory = try TemporaryDirectory("queues-cli")
        defer { directory.remove() }
        let data = directory.appending("data")
        func bomflow(_ arguments: [String]) throws -> (status: Int32, lines: [String]) {
            let child = try ChildProcess("bomflow", ["queues"] + arguments + ["--data-dir", data], quiet: true)
            let status = child.wait()
            return (status, child.outputLines)
        }
        #expect(try bomflow(["pause", "LICENSE_SCAN"]).status == 0)
        #expect(try bomflow(["pause", "LICENSE_SCAN"]).status == 0, "idempotent")
        #expect(try bomflow(["list"]).lines == ["LICENSE_SCAN\t0\t0\t-\tpaused"])
        #expect(try bomflow(["resume", "LICENSE_SCAN"]).status == 0)
        #expect(try bomflow(["list"]).lines.isEmpty)
        #expect(try bomflow(["pause", "license-scan"]).status == 64)
    }
}
