// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation
    internal import PostgresNIO
    public import Storage
    internal import WorkflowModel

    extension PostgresStore {
        /// Checks that the derived state agrees with the workflows: each workflow row's poll columns,
        /// each step's index columns (ready queue, deadline, lease), the labels table, the
        /// concurrency-key queues (exactly one runner per non-empty queue), and that every
        /// `WORKFLOW_STATE` row belongs to a workflow. Reads everything: for tests and `bomflow check`
        /// on small databases, not for a hot path.
        /// - Returns: one line per problem; empty when all is consistent.
        public func verifyIntegrity() throws(StoreError) -> [String] {
            var problems: [String] = []
            var position: UInt64?
            var runners: [String: Int] = [:]
            var members: [String: Int] = [:]
            repeat {
                let page = try exportPage(after: position, limit: 200)
                for workflow in page.workflows {
                    problems += try check(workflow)
                    if let key = workflow.concurrencyKey, workflow.isProcessing {
                        members[key, default: 0] += 1
                        if !workflow.isHeld { runners[key, default: 0] += 1 }
                    }
                }
                position = page.nextCursor
            } while position != nil
            for (key, count) in members where runners[key, default: 0] != 1 {
                problems.append("queue \(key): \(count) workflows, \(runners[key, default: 0]) not held (want 1)")
            }
            let orphans: Int64 = try read { session throws(SQLFailure) in
                try Self.scalar(
                    try session.query(
                        """
                        SELECT (SELECT count(*) FROM "WORKFLOW_STATE" s WHERE NOT EXISTS
                                (SELECT 1 FROM bomflow_step b WHERE b.state_id = s."ID"))
                            + (SELECT count(*) FROM bomflow_queue q JOIN bomflow_workflow w ON w.id = q.workflow_id
                                WHERE NOT w.processing OR w.concurrency_key IS DISTINCT FROM q.key)
                            + (SELECT count(*) FROM bomflow_step b JOIN bomflow_workflow w ON w.id = b.workflow_id
                                WHERE b.priority <> w.priority)
                        """)) ?? 0
            }
            if orphans > 0 {
                problems.append("\(orphans) step or queue rows belong to no workflow they should or differ in priority")
            }
            return problems
        }

        private func check(_ workflow: Workflow) throws(StoreError) -> [String] {
            let token = Rows.uuid(workflow.token)
            return try read { session throws(SQLFailure) in
                var problems: [String] = []
                let name = workflow.token.description
                let header = try session.query(
                    """
                    SELECT w.held, w.token_status, w.processing, w.finished_at,
                        (SELECT count(*) FROM bomflow_queue q WHERE q.workflow_id = w.id),
                        ARRAY(SELECT l.key || '=' || l.value FROM bomflow_label l WHERE l.workflow_id = w.id
                            ORDER BY l.key)
                    FROM bomflow_workflow w WHERE w.token = \(token)
                    """)
                guard let row = header.first else { return ["\(name): no workflow row"] }
                let (held, status, processing, finished, queued, labels): (Bool, Int16, Bool, Int64?, Int64, [String]) =
                    try Self.decoding {
                        let cells = Cells(row)
                        return (try cells[0], try cells[1], try cells[2], try cells[3], try cells[4], try cells[5])
                    }
                if held != workflow.isHeld { problems.append("\(name): held flag") }
                if status != Rows.tokenStatusCode(workflow.tokenStatus) { problems.append("\(name): token status") }
                if processing != workflow.isProcessing { problems.append("\(name): processing flag") }
                if finished != (workflow.isProcessing ? nil : workflow.lastUpdatedAt.milliseconds) {
                    problems.append("\(name): finished_at")
                }
                let inQueue = workflow.concurrencyKey != nil && workflow.isProcessing
                if (queued == 1) != inQueue || queued > 1 { problems.append("\(name): queue membership") }
                if labels != workflow.labels.items.map({ "\($0.key)=\($0.value)" }) {
                    problems.append("\(name): labels")
                }
                let steps = try session.query(
                    """
                    SELECT b.ordinal, b.step, s."STEP", s."TOKEN", b.claimable_since, b.deadline, b.lease_due
                    FROM bomflow_step b JOIN bomflow_workflow w ON w.id = b.workflow_id
                    JOIN "WORKFLOW_STATE" s ON s."ID" = b.state_id WHERE w.token = \(token) ORDER BY b.ordinal
                    """)
                var ordinal = 0
                for row in steps {
                    let (stored, queueName, stepName, stepToken, claimable, deadline, leaseDue):
                        (Int16, String, String, UUID, Int64?, Int64?, Int64?) = try Self.decoding {
                            let cells = Cells(row)
                            return (
                                try cells[0], try cells[1], try cells[2], try cells[3], try cells[4], try cells[5],
                                try cells[6]
                            )
                        }
                    guard Int(stored) == ordinal, ordinal < workflow.steps.count else {
                        problems.append("\(name): step ordinals")
                        break
                    }
                    let expected = StepRow(workflow, ordinal)
                    if queueName != stepName || stepName != expected.name || Rows.token(stepToken) != workflow.token {
                        problems.append("\(name): step \(ordinal) name or token")
                    }
                    if claimable != expected.claimableSince { problems.append("\(name): step \(ordinal) ready queue") }
                    if deadline != expected.deadline { problems.append("\(name): step \(ordinal) deadline") }
                    if leaseDue != expected.leaseDue { problems.append("\(name): step \(ordinal) lease") }
                    ordinal += 1
                }
                if ordinal != workflow.steps.count { problems.append("\(name): \(ordinal) step rows") }
                return problems
            }
        }
    }
#endif
