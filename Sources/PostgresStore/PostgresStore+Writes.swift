// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation
    internal import NIOCore
    internal import PostgresNIO
    public import Storage
    public import WorkflowModel

    /// The write operations: each batch one transaction (``PostgresStore/transaction(notify:_:)``).
    extension PostgresStore {
        public func perform(_ operations: [WriteOperation]) throws(StoreError) -> [Result<WriteOutcome, WorkflowError>]
        {
            try perform([operations], admitting: { [true] })[0] ?? []
        }

        /// ``WorkflowStorage/perform(_:admitting:)``. PostgreSQL has no store-wide write lock to wait
        /// for, so `admit` runs once, before the transaction begins; a batch retried after a lost
        /// race keeps that answer.
        public func perform(
            _ batches: [[WriteOperation]], admitting admit: () -> [Bool]
        ) throws(StoreError) -> [[Result<WriteOutcome, WorkflowError>]?] {
            let admitted = admit()
            guard admitted.contains(true) else { return batches.map { _ in nil } }
            let touched = Self.lockOrder(
                of: zip(batches, admitted).filter(\.1).flatMap(\.0).map(\.unattributed.operation))
            return try transaction { session throws(SQLFailure) in
                let now = options.clock()
                try Self.lock(touched, session: session)
                do {
                    return try WriteBatches.apply(batches, admitted: admitted) { operation, origin in
                        try Self.refuseNUL(in: operation)
                        try Self.refuseNUL(in: origin)
                        return try apply(operation, by: origin, session: session, now: now)
                    }
                } catch let failure as SQLFailure {
                    throw failure
                } catch let error as StoreError {
                    throw SQLFailure.store(error)
                } catch {
                    throw SQLFailure.store(.failed("\(error)"))
                }
            }
        }

        /// The workflows a batch changes (``lock(_:session:)`` locks them in token order).
        static func lockOrder(of operations: [WriteOperation]) -> [Token] {
            var tokens: Set<Token> = []
            for operation in operations {
                switch operation {
                case .create(let token, _, _, _, _), .addSteps(let token, _), .update(let token, _, _, _),
                    .restart(let token, _), .cancel(let token, _), .delete(let token):
                    tokens.insert(token)
                case .upload(let upload): tokens.insert(upload.token)
                case .importWorkflow(let workflow): tokens.insert(workflow.token)
                case .claim, .createProject, .deleteProject, .createWebhook, .updateWebhook, .deleteWebhook,
                    .testWebhook, .redeliver, .pauseQueue, .attributed:
                    break
                }
            }
            return Array(tokens)
        }

        /// Locks the existing workflows among `tokens` at the start of a batch's transaction, in
        /// token order. Two writers (threads or hosts) whose batches share workflows then wait for
        /// each other instead of deadlocking (which PostgreSQL finds only after `deadlock_timeout`,
        /// 1 s by default, and which reruns a whole batch), and each operation's own lock costs
        /// no round trip.
        static func lock(_ tokens: [Token], session: Session) throws(SQLFailure) {
            guard !tokens.isEmpty else { return }
            let uuids = tokens.map(Rows.uuid)
            let rows = try session.query(
                "SELECT token FROM bomflow_workflow WHERE token = ANY(\(uuids)::UUID[]) ORDER BY token FOR UPDATE")
            for row in rows {
                let uuid: UUID = try decoding { try Cells(row)[0] }
                session.lockedTokens.insert(Rows.token(uuid))
            }
        }

        /// PostgreSQL's `text` cannot hold U+0000; such a value is refused before anything is written.
        static func refuseNUL(in operation: WriteOperation) throws(WorkflowError) {
            func check(_ texts: [String?]) throws(WorkflowError) {
                for case let text? in texts where text.utf8.contains(0) {
                    throw .invalidRecord("PostgreSQL cannot store the NUL character (U+0000) in text")
                }
            }
            switch operation {
            case .create(_, _, let labels, let createdBy, let key):
                try check(labels.flatMap { [$0.key, $0.value] } + [createdBy, key])
            case .update(_, _, let command, _):
                switch command {
                case .setStatus(_, let reason): try check([reason])
                default: break
                }
            case .claim(_, let worker, _, _): try check([worker])
            case .cancel(_, let reason): try check([reason])
            case .upload(let upload):
                try check(upload.tags + [upload.createdBy] + Self.referenceTexts(upload.project))
            case .createProject(let draft):
                try check(draft.tags + [draft.name, draft.version])
            case .importWorkflow(let workflow):
                try check(
                    workflow.labels.flatMap { [$0.key, $0.value] } + [workflow.createdBy, workflow.concurrencyKey]
                        + workflow.steps.flatMap { [$0.failureReason, $0.claim?.worker] })
            // A webhook is stored as JSON in a bytea column, where NUL is escaped.
            case .addSteps, .restart, .delete, .deleteProject, .createWebhook, .updateWebhook, .deleteWebhook,
                .testWebhook, .redeliver, .pauseQueue, .attributed:
                break
            }
        }

        /// The names an origin records (a key's, a worker's) go into `text` columns too.
        static func refuseNUL(in origin: Origin) throws(WorkflowError) {
            for case let text? in [origin.name, origin.key] where text.utf8.contains(0) {
                throw .invalidRecord("PostgreSQL cannot store the NUL character (U+0000) in text")
            }
        }

        private static func referenceTexts(_ reference: ProjectReference) -> [String?] {
            if case .name(let name, let version) = reference { return [name, version] }
            return []
        }

        func apply(_ operation: WriteOperation, by origin: Origin, session: Session, now: Timestamp) throws
            -> WriteOutcome
        {
            switch operation {
            case .create(let token, let definition, let labels, let createdBy, let concurrencyKey):
                if let existing = try Self.load(token, session: session, lock: true) {
                    guard existing.workflow.hasDefinition(definition, labels: labels, concurrencyKey: concurrencyKey)
                    else {
                        throw WorkflowError.conflictingDefinition(token)
                    }
                    return .alreadyExists(existing.workflow)
                }
                let workflow = try Workflow.make(
                    token: token, definition: definition, labels: labels, createdBy: createdBy,
                    concurrencyKey: concurrencyKey, now: now)
                return .created(try insert(workflow, by: origin, session: session, now: now).workflow)
            case .upload(let upload):
                return try self.upload(upload, by: origin, session: session, now: now)
            case .createProject(let draft):
                let (project, parent) = try createProject(draft, session: session, now: now)
                return .projectCreated(project, parent: parent)
            case .deleteProject(let uuid):
                try deleteProject(uuid, session: session)
                return .projectDeleted(uuid)
            case .addSteps(let token, let specs):
                return try change(token, by: origin, session: session, now: now) { workflow throws(WorkflowError) in
                    try workflow.addSteps(specs, now: now)
                    return true
                }
            case .update(let token, let step, let command, let actor):
                return try change(token, by: origin, session: session, now: now) { workflow throws(WorkflowError) in
                    try workflow.apply(command, to: step, now: now, by: actor)
                }
            case .claim(let names, let worker, let lease, let max):
                return .claimed(
                    try claim(
                        names, worker: worker, leaseMilliseconds: lease, max: max, by: origin, now: now,
                        session: session))
            case .restart(let token, let step):
                return try change(token, by: origin, cause: .restart(step), session: session, now: now) {
                    workflow throws(WorkflowError) in
                    try workflow.restart(from: step, now: now)
                    return true
                }
            case .cancel(let token, let reason):
                return try change(token, by: origin, cause: .cancel(reason: reason), session: session, now: now) {
                    workflow throws(WorkflowError) in
                    try workflow.cancel(reason: reason, now: now)
                }
            case .importWorkflow(var workflow):
                workflow.isHeld = false
                if let existing = try Self.load(workflow.token, session: session, lock: true) {
                    var candidate = workflow
                    candidate.isHeld = existing.workflow.isHeld
                    guard existing.workflow == candidate else {
                        throw WorkflowError.conflictingDefinition(workflow.token)
                    }
                    return .alreadyExists(existing.workflow)
                }
                return .created(try insert(workflow, by: origin, cause: .imported, session: session, now: now).workflow)
            case .delete(let token):
                guard let loaded = try Self.load(token, session: session, lock: true) else {
                    throw WorkflowError.unknownWorkflow(token)
                }
                try remove(loaded, session: session, now: now)
                return .deleted(token)
            case .createWebhook, .updateWebhook, .deleteWebhook, .testWebhook, .redeliver:
                return try applyOutbox(operation, session: session, now: now)
            case .pauseQueue(let name, let paused):
                let rows =
                    paused
                    ? try session.query(
                        """
                        INSERT INTO bomflow_queue_pause (step, paused_at) VALUES (\(name.rawValue), \(now.milliseconds))
                        ON CONFLICT (step) DO NOTHING RETURNING step
                        """)
                    : try session.query("DELETE FROM bomflow_queue_pause WHERE step = \(name.rawValue) RETURNING step")
                return .queuePaused(name, paused: paused, changed: rows.first != nil)
            case .attributed(let inner, let by):
                return try apply(inner, by: by, session: session, now: now)
            }
        }

        /// Locks and loads the workflow, lets `body` change it, and writes what changed.
        func change(
            _ token: Token, by origin: Origin, cause: HistoryCause = .change, session: Session, now: Timestamp,
            _ body: (inout Workflow) throws(WorkflowError) -> Bool
        ) throws -> WriteOutcome {
            guard let loaded = try Self.load(token, session: session, lock: true) else {
                throw WorkflowError.unknownWorkflow(token)
            }
            var workflow = loaded.workflow
            guard try body(&workflow) else { return .updated(loaded.workflow, changed: false) }
            workflow.version += 1
            return .updated(
                try save(workflow, replacing: loaded, by: origin, cause: cause, session: session, now: now),
                changed: true)
        }

        /// Claims up to `max` ready steps named in `names`, the longest-ready first. Workflows another
        /// transaction holds are skipped (`SKIP LOCKED`), so concurrent claims on several hosts never
        /// wait for each other and never take the same step.
        func claim(
            _ names: [StepName], worker: String, leaseMilliseconds: Int64, max: Int, by origin: Origin, now: Timestamp,
            session: Session
        ) throws -> [ClaimedStep] {
            guard max >= 1 else { return [] }
            try Workflow.validateWorker(worker)
            try Workflow.validateLease(leaseMilliseconds)
            let texts = Array(Set(names.map(\.rawValue)))
            // The first ready entries of each name, highest priority then oldest (one index range
            // each, as LMDB's cursors), merged;
            // a few more than asked, so that workflows another host has locked can be skipped.
            let slack = Int64(max + 16)
            let rows = try session.query(
                """
                SELECT c.workflow_id, c.ordinal FROM unnest(\(texts)::TEXT[]) AS n(name)
                CROSS JOIN LATERAL (
                    SELECT b.workflow_id, b.ordinal, b.priority, b.claimable_since FROM bomflow_step b
                    WHERE b.step = n.name AND b.claimable_since IS NOT NULL
                    ORDER BY b.priority DESC, b.claimable_since, b.workflow_id, b.ordinal LIMIT \(slack)) c
                WHERE NOT EXISTS (SELECT 1 FROM bomflow_queue_pause q WHERE q.step = n.name)
                ORDER BY c.priority DESC, c.claimable_since, c.workflow_id, c.ordinal LIMIT \(slack)
                """)
            var found: [(id: Int64, ordinal: Int)] = []
            for row in rows {
                let (id, ordinal): (Int64, Int16) = try Self.decoding {
                    let cells = Cells(row)
                    return (try cells[0], try cells[1])
                }
                found.append((id, Int(ordinal)))
            }
            // Lock their workflows, skipping those another transaction holds (never waiting).
            let ids = Array(Set(found.map(\.id)))
            var locked = Set<Int64>()
            if !ids.isEmpty {
                for row in try session.query(
                    "SELECT id FROM bomflow_workflow WHERE id = ANY(\(ids)) FOR UPDATE SKIP LOCKED")
                {
                    locked.insert(try Self.decoding { try Cells(row)[0] })
                }
            }
            let candidates = found.filter { locked.contains($0.id) }
            var claimed: [ClaimedStep] = []
            var current: [Int64: LoadedWorkflow] = [:]
            for candidate in candidates where claimed.count < max {
                guard
                    let loaded = try current[candidate.id]
                        ?? Self.load(id: candidate.id, session: session, lock: false),
                    candidate.ordinal < loaded.workflow.steps.count
                else { continue }
                var workflow = loaded.workflow
                let name = workflow.steps[candidate.ordinal].name
                guard
                    let claim = try workflow.claim(name, worker: worker, leaseMilliseconds: leaseMilliseconds, now: now)
                else { continue }
                workflow.version += 1
                let stored = try save(workflow, replacing: loaded, by: origin, session: session, now: now)
                current[candidate.id] = LoadedWorkflow(id: loaded.id, workflow: stored, stateIDs: loaded.stateIDs)
                claimed.append(
                    ClaimedStep(
                        token: workflow.token, step: name, labels: workflow.labels, claim: claim,
                        bom: try bomSummary(id: candidate.id, session: session)))
            }
            return claimed
        }

        // MARK: Rows

        /// Stores a new workflow (create, import, upload). A token a concurrent transaction took
        /// first makes the batch run again, which then finds that workflow.
        func insert(
            _ workflow: Workflow, by origin: Origin, cause: HistoryCause = .created, session: Session, now: Timestamp
        ) throws -> LoadedWorkflow {
            let labels = workflow.labels.items
            let rows = try session.query(
                """
                INSERT INTO bomflow_workflow (token, created_at, template, created_by, label_keys, label_values, version,
                    definition_step_count, concurrency_key, held, token_status, processing, finished_at, priority)
                VALUES (\(Rows.uuid(workflow.token)), \(workflow.createdAt.milliseconds), \(workflow.template?.rawValue),
                    \(workflow.createdBy), \(labels.map(\.key)), \(labels.map(\.value)), \(Int64(workflow.version)),
                    \(Int32(workflow.definitionStepCount)), \(workflow.concurrencyKey), false, 0, true, NULL,
                    \(Int16(clamping: workflow.priority)))
                ON CONFLICT (token) DO NOTHING RETURNING id
                """)
            guard let row = rows.first else {
                throw SQLFailure.retry("workflow \(workflow.token) was created concurrently")
            }
            let id: Int64 = try Self.decoding { try Cells(row)[0] }
            for label in labels {
                session.send(
                    "INSERT INTO bomflow_label (key, value, workflow_id) VALUES (\(label.key), \(label.value), \(id))")
            }
            let shell = LoadedWorkflow(
                id: id,
                workflow: Workflow(
                    token: workflow.token, createdAt: workflow.createdAt, template: workflow.template,
                    createdBy: workflow.createdBy, labels: workflow.labels, version: 0,
                    definitionStepCount: workflow.definitionStepCount, steps: [],
                    concurrencyKey: workflow.concurrencyKey, priority: workflow.priority),
                stateIDs: [])
            let stored = try save(
                workflow, replacing: shell, by: origin, cause: cause, session: session, now: now, isNew: true)
            return LoadedWorkflow(id: id, workflow: stored, stateIDs: [])
        }

        /// Writes `workflow` over `original`: the workflow row, the steps that differ, the new steps,
        /// and the concurrency-key queue (as ``LMDBStore`` does: held when it enters a non-empty
        /// queue; the runner leaving releases the next).
        /// - Returns: the workflow as stored (``Workflow/isHeld`` decided here).
        @discardableResult
        func save(
            _ workflow: Workflow, replacing original: LoadedWorkflow, by origin: Origin, cause: HistoryCause = .change,
            session: Session, now: Timestamp, isNew: Bool = false
        ) throws -> Workflow {
            var workflow = workflow
            var releaseNextOf: String?
            if let key = workflow.concurrencyKey {
                let wasQueued = !isNew && original.workflow.isProcessing
                if workflow.isProcessing, !wasQueued {
                    try lockQueue(key, session: session)
                    if try firstQueued(key, session: session) != nil { workflow.hold(now: now) }
                    session.send("INSERT INTO bomflow_queue (key, workflow_id) VALUES (\(key), \(original.id))")
                } else if !workflow.isProcessing, wasQueued {
                    try lockQueue(key, session: session)
                    if !workflow.isHeld { releaseNextOf = key }
                    workflow.isHeld = false
                    session.send("DELETE FROM bomflow_queue WHERE key = \(key) AND workflow_id = \(original.id)")
                }
            }
            try write(workflow, over: original, by: origin, cause: cause, session: session, now: now, isNew: isNew)
            if let key = releaseNextOf { try releaseNext(key, session: session, now: now) }
            return workflow
        }

        /// The row writes of ``save``: pipelined, checked at the next flush or commit; the change's
        /// events in the workflow's history and the deliveries of the notifications it causes, in
        /// the same transaction.
        func write(
            _ workflow: Workflow, over original: LoadedWorkflow, by origin: Origin, cause: HistoryCause,
            session: Session, now: Timestamp, isNew: Bool = false
        ) throws {
            appendHistory(
                HistoryEvent.events(
                    from: isNew ? nil : original.workflow, to: workflow, by: origin, cause: cause, at: now),
                id: original.id, session: session)
            try queueNotifications(
                from: isNew ? nil : original.workflow, to: workflow, id: original.id, session: session, now: now)
            let processing = workflow.isProcessing
            session.send(
                """
                UPDATE bomflow_workflow SET version = \(Int64(workflow.version)), held = \(workflow.isHeld),
                    token_status = \(Rows.tokenStatusCode(workflow.tokenStatus)), processing = \(processing),
                    finished_at = \(processing ? nil : workflow.lastUpdatedAt.milliseconds)
                WHERE id = \(original.id)
                """)
            let old = original.workflow
            var stateIDs = original.stateIDs
            let added = workflow.steps.count - stateIDs.count
            if added > 0 {
                let rows = try session.query(
                    """
                    SELECT nextval(pg_get_serial_sequence('"WORKFLOW_STATE"', 'ID')) FROM generate_series(1, \(Int64(added)))
                    """)
                for row in rows { stateIDs.append(try Self.decoding { try Cells(row)[0] }) }
            }
            var idByName: [String: Int64] = [:]
            for (ordinal, step) in workflow.steps.enumerated() { idByName[step.name.rawValue] = stateIDs[ordinal] }
            let token = Rows.uuid(workflow.token)
            for ordinal in workflow.steps.indices {
                let row = StepRow(workflow, ordinal)
                let stateID = stateIDs[ordinal]
                let parentID = row.parent.flatMap { idByName[$0] }
                if ordinal >= old.steps.count {
                    session.send(
                        """
                        INSERT INTO "WORKFLOW_STATE" ("ID", "FAILURE_REASON", "PARENT_STEP_ID", "STARTED_AT", "STATUS", "STEP",
                            "TOKEN", "UPDATED_AT")
                        VALUES (\(stateID), \(row.failureReason), \(parentID),
                            (TIMESTAMPTZ 'epoch' + \(row.startedAt)::BIGINT * INTERVAL '1 millisecond'), \(row.status), \(row.name), \(token),
                            (TIMESTAMPTZ 'epoch' + \(row.updatedAt)::BIGINT * INTERVAL '1 millisecond'))
                        """)
                    session.send(
                        """
                        INSERT INTO bomflow_step (state_id, workflow_id, ordinal, step, created_as, progress_expected,
                            progress_completed, progress_failed, progress_threshold, claim_worker, claim_attempt,
                            claim_lease_expires_at, attempts, ready_at, claimable_since, deadline, lease_due, priority)
                        VALUES (\(stateID), \(original.id), \(Int16(ordinal)), \(row.name), \(row.createdAs),
                            \(row.progressExpected), \(row.progressCompleted), \(row.progressFailed), \(row.progressThreshold),
                            \(row.claimWorker), \(row.claimAttempt), \(row.claimLease), \(row.attempts), \(row.readyAt),
                            \(row.claimableSince), \(row.deadline), \(row.leaseDue), \(Int16(clamping: workflow.priority)))
                        """)
                    continue
                }
                let before = StepRow(old, ordinal)
                guard row != before else { continue }
                if !row.sameState(as: before) {
                    session.send(
                        """
                        UPDATE "WORKFLOW_STATE" SET "FAILURE_REASON" = \(row.failureReason), "PARENT_STEP_ID" = \(parentID),
                            "STARTED_AT" = (TIMESTAMPTZ 'epoch' + \(row.startedAt)::BIGINT * INTERVAL '1 millisecond'), "STATUS" = \(row.status),
                            "UPDATED_AT" = (TIMESTAMPTZ 'epoch' + \(row.updatedAt)::BIGINT * INTERVAL '1 millisecond')
                        WHERE "ID" = \(stateID)
                        """)
                }
                session.send(
                    """
                    UPDATE bomflow_step SET progress_expected = \(row.progressExpected),
                        progress_completed = \(row.progressCompleted), progress_failed = \(row.progressFailed),
                        progress_threshold = \(row.progressThreshold), claim_worker = \(row.claimWorker),
                        claim_attempt = \(row.claimAttempt), claim_lease_expires_at = \(row.claimLease),
                        attempts = \(row.attempts), ready_at = \(row.readyAt), claimable_since = \(row.claimableSince),
                        deadline = \(row.deadline), lease_due = \(row.leaseDue)
                    WHERE state_id = \(stateID)
                    """)
            }
        }

        /// Deletes the workflow's rows (its steps, labels, BOM and queue entry go with it); a
        /// processing workflow that ran its key's queue releases the next.
        func remove(_ loaded: LoadedWorkflow, session: Session, now: Timestamp) throws {
            let workflow = loaded.workflow
            if let key = workflow.concurrencyKey, workflow.isProcessing { try lockQueue(key, session: session) }
            session.send("DELETE FROM \"WORKFLOW_STATE\" WHERE \"TOKEN\" = \(Rows.uuid(workflow.token))")
            session.send("DELETE FROM bomflow_workflow WHERE id = \(loaded.id)")
            if let key = workflow.concurrencyKey, workflow.isProcessing, !workflow.isHeld {
                try releaseNext(key, session: session, now: now)
            }
        }

        // MARK: Concurrency keys

        /// Serialises the queue of `key` across hosts for the rest of the transaction.
        private func lockQueue(_ key: String, session: Session) throws {
            _ = try session.query("SELECT pg_advisory_xact_lock(\(Schema.queueLockNamespace), hashtext(\(key)))")
        }

        private func firstQueued(_ key: String, session: Session) throws -> Int64? {
            let rows = try session.query(
                "SELECT workflow_id FROM bomflow_queue WHERE key = \(key) ORDER BY workflow_id LIMIT 1")
            guard let row = rows.first else { return nil }
            return try Self.decoding { try Cells(row)[0] }
        }

        /// Releases the first workflow queued under `key` when it is held.
        private func releaseNext(_ key: String, session: Session, now: Timestamp) throws {
            guard let first = try firstQueued(key, session: session),
                let loaded = try Self.load(id: first, session: session, lock: true), loaded.workflow.isHeld
            else { return }
            var workflow = loaded.workflow
            workflow.release(now: now)
            workflow.version += 1
            try write(workflow, over: loaded, by: .system("concurrency"), cause: .change, session: session, now: now)
        }
    }
#endif
