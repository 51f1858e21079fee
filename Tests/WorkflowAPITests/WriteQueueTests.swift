import Foundation
import Storage
import Synchronization
import Testing
import WorkflowAPI
import WorkflowModel

/// The write queue on the backend the test run uses (BOMFLOW_TEST_BACKEND): on PostgreSQL it
/// runs several writers, whose groups overlap on shared workflows.
@Suite struct WriteQueueTests {
    /// Many clients change a few workflows at once, each request touching several of them in a
    /// random order (on PostgreSQL's several writers, the order that deadlocks two transactions
    /// that lock rows one by one): every request is acknowledged, and every acknowledged change
    /// is in the store exactly once.
    @Test func concurrentGroupsOnSharedWorkflowsLoseNothing() throws {
        let fixture = try ServiceFixture()
        let step = StepName("WORK")!
        let tokens = (0..<6).map { _ in Token.random() }
        for token in tokens {
            let created = fixture.writer.submitAndWait([
                .create(
                    token: token, definition: WorkflowDefinition(steps: [StepSpec(step)]), labels: Labels(),
                    createdBy: "test")
            ])
            guard case .success(let results) = created, case .success = results[0] else {
                Issue.record("create failed: \(created)")
                return
            }
        }
        let writer = fixture.writer
        let clients = 8
        let requestsPerClient = 40
        let sent = Mutex([Token: Int64]())
        let failures = Mutex([String]())
        DispatchQueue.concurrentPerform(iterations: clients) { client in
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<requestsPerClient {
                let touched = Array(tokens.shuffled(using: &generator).prefix(Int.random(in: 2...4, using: &generator)))
                let operations = touched.map { token in
                    WriteOperation.update(
                        token: token, step: step, command: .progress(ProgressUpdate(addCompleted: 1)))
                }
                switch writer.submitAndWait(operations) {
                case .success(let results) where results.allSatisfy({ if case .success = $0 { true } else { false } }):
                    sent.withLock { for token in touched { $0[token, default: 0] += 1 } }
                case let other:
                    failures.withLock { $0.append("client \(client): \(other)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let expected = sent.withLock { $0 }
        #expect(expected.values.reduce(0, +) >= Int64(clients * requestsPerClient * 2))
        for token in tokens {
            let workflow = try #require(try fixture.store.workflow(token))
            #expect(workflow.steps[0].progress?.completed ?? 0 == expected[token, default: 0])
        }
        if fixture.store.callsMayBlock { #expect(WriteQueue.defaultWriters(for: fixture.store) > 1) }
    }
}
