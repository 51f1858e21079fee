// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation
    internal import NIOCore
    public import Notifications
    internal import PostgresNIO
    public import Storage
    internal import WorkflowModel

    /// Webhooks (`bomflow_webhook`: the stored JSON of each) and the transactional outbox
    /// (`bomflow_outbox`, partial indexes for due, per-pair order, retention and dead ones), with
    /// the same rules as on LMDB (docs/NOTIFICATIONS.md).
    extension PostgresStore {
        static let deliveryColumns =
            "seq, id, webhook, token, grp, created_at, payload, state, attempts, due_at, lease_holder, last_error, finished_at"

        /// A pending delivery `o` that is the first pending one of its webhook and workflow (the
        /// rest wait, so each pair is delivered in order).
        static let claimable = """
            o.state = 0 AND NOT EXISTS (SELECT 1 FROM bomflow_outbox p WHERE p.state = 0
                AND p.webhook = o.webhook AND p.token = o.token AND p.seq < o.seq)
            """

        // MARK: Inside a batch

        /// Queues the deliveries the change of workflow `id` from `old` to `workflow` causes.
        func queueNotifications(from old: Workflow?, to workflow: Workflow, id: Int64, session: Session, now: Timestamp)
            throws
        {
            let deliveries = try NewDelivery.deliveries(
                from: old, to: workflow, at: now,
                webhooks: { try loadWebhooks(session: session) },
                context: {
                    let project = try Token(workflow.labels["project"] ?? "").flatMap { uuid in
                        try loadProject(.uuid(uuid), session: session, lock: false)
                    }
                    return NotificationPayload.Context(project: project, bom: try bomDocument(id: id, session: session))
                })
            for delivery in deliveries { try enqueue(delivery, session: session) }
        }

        func bomDocument(id: Int64, session: Session) throws -> BomDocument? {
            let rows = try session.query(
                "SELECT format, spec_version, content FROM bomflow_bom WHERE workflow_id = \(id)")
            guard let row = rows.first else { return nil }
            return try Self.decoding {
                let cells = Cells(row)
                let code: Int16 = try cells[0]
                var content: ByteBuffer = try cells[2]
                guard let format = BomFormat(rawValue: UInt8(clamping: code)) else {
                    throw StoreError.corrupted("BOM format \(code)")
                }
                return BomDocument(
                    format: format, specVersion: try cells[1],
                    bytes: content.readBytes(length: content.readableBytes) ?? [])
            }
        }

        @discardableResult
        func enqueue(_ new: NewDelivery, session: Session) throws -> Delivery {
            var payload = ByteBuffer()
            payload.writeBytes(new.payload)
            let rows = try session.query(
                """
                INSERT INTO bomflow_outbox (id, webhook, token, grp, created_at, payload, state, attempts, due_at)
                VALUES (\(Rows.uuid(new.id)), \(Rows.uuid(new.webhook)), \(Rows.uuid(new.token)), \(new.group.rawValue),
                    \(new.createdAt.milliseconds), \(payload), 0, 0, \(new.createdAt.milliseconds))
                RETURNING seq
                """)
            let sequence: Int64 = try Self.scalar(rows) ?? 0
            return Delivery(sequence: UInt64(sequence), new)
        }

        func loadWebhooks(session: Session) throws -> [Webhook] {
            let rows = try session.query("SELECT id, config FROM bomflow_webhook ORDER BY created_at, id")
            var webhooks: [Webhook] = []
            for row in rows { webhooks.append(try Self.decodeWebhook(row)) }
            return webhooks
        }

        func loadWebhook(_ id: Token, session: Session, lock: Bool) throws -> Webhook? {
            let rows = try session.query(
                "SELECT id, config FROM bomflow_webhook WHERE id = \(Rows.uuid(id))\(unescaped: lock ? " FOR UPDATE" : "")"
            )
            guard let row = rows.first else { return nil }
            return try Self.decodeWebhook(row)
        }

        static func decodeWebhook(_ row: PostgresRow) throws -> Webhook {
            try decoding {
                let cells = Cells(row)
                let id: UUID = try cells[0]
                var config: ByteBuffer = try cells[1]
                guard let webhook = Webhook(stored: config.readBytes(length: config.readableBytes) ?? []) else {
                    throw StoreError.corrupted("webhook record \(id)")
                }
                return webhook
            }
        }

        func loadDelivery(_ sequence: UInt64, session: Session, lock: Bool) throws -> Delivery? {
            let rows = try session.query(
                """
                SELECT \(unescaped: Self.deliveryColumns) FROM bomflow_outbox WHERE seq = \(Int64(clamping: sequence))\(unescaped: lock ? " FOR UPDATE" : "")
                """)
            guard let row = rows.first else { return nil }
            return try Self.decodeDelivery(row)
        }

        static func decodeDelivery(_ row: PostgresRow) throws -> Delivery {
            try decoding {
                let cells = Cells(row)
                let sequence: Int64 = try cells[0]
                let id: UUID = try cells[1]
                let webhook: UUID = try cells[2]
                let token: UUID = try cells[3]
                let groupName: String = try cells[4]
                var payload: ByteBuffer = try cells[6]
                let stateCode: Int16 = try cells[7]
                let attempts: Int32 = try cells[8]
                let finished: Int64? = try cells[12]
                guard let group = NotificationGroup(rawValue: groupName),
                    let state = DeliveryState(rawValue: UInt8(clamping: stateCode))
                else { throw StoreError.corrupted("delivery \(sequence)") }
                return Delivery(
                    sequence: UInt64(sequence), id: Rows.token(id), webhook: Rows.token(webhook),
                    token: Rows.token(token),
                    group: group, createdAt: Timestamp(milliseconds: try cells[5]),
                    payload: payload.readBytes(length: payload.readableBytes) ?? [], state: state,
                    attempts: Int(attempts), dueAt: Timestamp(milliseconds: try cells[9]), leaseHolder: try cells[10],
                    lastError: try cells[11], finishedAt: finished.map(Timestamp.init(milliseconds:)))
            }
        }

        /// Writes the changeable columns of a delivery.
        func update(_ delivery: Delivery, session: Session) {
            session.send(
                """
                UPDATE bomflow_outbox SET state = \(Int16(delivery.state.rawValue)), attempts = \(Int32(clamping: delivery.attempts)),
                    due_at = \(delivery.dueAt.milliseconds), lease_holder = \(delivery.leaseHolder),
                    last_error = \(delivery.lastError), finished_at = \(delivery.finishedAt?.milliseconds)
                WHERE seq = \(Int64(clamping: delivery.sequence))
                """)
        }

        /// The webhook and outbox operations of a batch.
        func applyOutbox(_ operation: WriteOperation, session: Session, now: Timestamp) throws -> WriteOutcome {
            switch operation {
            case .createWebhook(let webhook):
                var config = ByteBuffer()
                config.writeBytes(webhook.stored)
                session.send(
                    """
                    INSERT INTO bomflow_webhook (id, config, created_at)
                    VALUES (\(Rows.uuid(webhook.id)), \(config), \(webhook.createdAt.milliseconds))
                    """)
                return .webhook(webhook, created: true)
            case .updateWebhook(let id, let draft):
                guard let existing = try loadWebhook(id, session: session, lock: true) else {
                    throw WorkflowError.unknownWebhook(id)
                }
                let webhook: Webhook
                do { webhook = try draft.applied(to: existing) } catch {
                    throw WorkflowError.invalidWebhook(error.description)
                }
                var config = ByteBuffer()
                config.writeBytes(webhook.stored)
                session.send("UPDATE bomflow_webhook SET config = \(config) WHERE id = \(Rows.uuid(id))")
                return .webhook(webhook, created: false)
            case .deleteWebhook(let id):
                let deleted = try session.query("DELETE FROM bomflow_webhook WHERE id = \(Rows.uuid(id)) RETURNING id")
                guard deleted.first != nil else { throw WorkflowError.unknownWebhook(id) }
                let dropped = try session.query(
                    "DELETE FROM bomflow_outbox WHERE webhook = \(Rows.uuid(id)) AND state = 0 RETURNING seq")
                var count = 0
                for _ in dropped { count += 1 }
                return .webhookDeleted(id, pendingDropped: count)
            case .testWebhook(let id):
                guard let webhook = try loadWebhook(id, session: session, lock: false) else {
                    throw WorkflowError.unknownWebhook(id)
                }
                return .queued(try enqueue(WriteOperation.testDelivery(for: webhook, now: now), session: session))
            case .redeliver(let sequence):
                guard let delivery = try loadDelivery(sequence, session: session, lock: true) else {
                    throw WorkflowError.unknownDelivery(sequence)
                }
                let again = try WriteOperation.redelivered(delivery, now: now)
                update(again, session: session)
                return .queued(again)
            default:
                throw SQLFailure.store(.failed("not an outbox operation"))
            }
        }

        // MARK: The delivering process

        public func webhooks() throws(StoreError) -> [Webhook] {
            try read { session throws(SQLFailure) in try Self.decoding { try loadWebhooks(session: session) } }
        }

        public func hasDueDeliveries() throws(StoreError) -> Bool {
            let now = options.clock().milliseconds
            return try read { session throws(SQLFailure) in
                let rows = try session.query(
                    """
                    SELECT EXISTS (SELECT 1 FROM bomflow_outbox o WHERE \(unescaped: Self.claimable) AND o.due_at <= \(now))
                    """)
                return try Self.scalar(rows) ?? false
            }
        }

        /// ``WorkflowStorage/claimDeliveries(holder:max:leaseMilliseconds:)``: `FOR UPDATE SKIP
        /// LOCKED` over the due ones that are first of their webhook and workflow.
        public func claimDeliveries(holder: String, max: Int, leaseMilliseconds: Int64) throws(StoreError)
            -> [DeliveryTask]
        {
            guard max > 0 else { return [] }
            let now = options.clock()
            let leaseEnd = now.adding(milliseconds: leaseMilliseconds).milliseconds
            return try transaction(notify: false) { session throws(SQLFailure) in
                try Self.decoding {
                    let rows = try session.query(
                        """
                        WITH candidates AS (
                            SELECT o.seq FROM bomflow_outbox o
                            WHERE \(unescaped: Self.claimable) AND o.due_at <= \(now.milliseconds)
                            ORDER BY o.due_at LIMIT \(Int64(max))
                            FOR UPDATE SKIP LOCKED
                        )
                        UPDATE bomflow_outbox o SET lease_holder = \(holder), due_at = \(leaseEnd)
                        FROM candidates c WHERE o.seq = c.seq
                        RETURNING \(unescaped: Self.deliveryColumns.split(separator: ",").map { "o." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
                        """)
                    var claimed: [Delivery] = []
                    for row in rows { claimed.append(try Self.decodeDelivery(row)) }
                    guard !claimed.isEmpty else { return [] }
                    let webhooks = Dictionary(
                        try loadWebhooks(session: session).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                    var tasks: [DeliveryTask] = []
                    for delivery in claimed.sorted(by: { $0.sequence < $1.sequence }) {
                        guard let webhook = webhooks[delivery.webhook] else {
                            session.send("DELETE FROM bomflow_outbox WHERE seq = \(Int64(clamping: delivery.sequence))")
                            continue
                        }
                        tasks.append(DeliveryTask(delivery: delivery, webhook: webhook))
                    }
                    return tasks
                }
            }
        }

        public func finishDeliveries(_ reports: [DeliveryReport], policy: RetryPolicy) throws(StoreError)
            -> [Delivery]
        {
            guard !reports.isEmpty else { return [] }
            let now = options.clock()
            return try transaction(notify: true) { session throws(SQLFailure) in
                try Self.decoding {
                    var finished: [Delivery] = []
                    for report in reports.sorted(by: { $0.sequence < $1.sequence }) {
                        guard let delivery = try loadDelivery(report.sequence, session: session, lock: true),
                            delivery.state == .pending, delivery.leaseHolder == report.holder
                        else { continue }
                        let after = policy.applying(report, to: delivery, now: now, jitter: Double.random(in: 0...1))
                        update(after, session: session)
                        try appendDeliveryEvent(after, at: now, session: session)
                        finished.append(after)
                    }
                    return finished
                }
            }
        }

        public func deliveries(_ query: DeliveryQuery) throws(StoreError) -> DeliveryPage {
            let limit = Swift.max(1, Swift.min(query.limit, 1000))
            return try read { session throws(SQLFailure) in
                var conditions: [String] = []
                var binds = PostgresBindings()
                if let state = query.state {
                    binds.append(Int16(state.rawValue))
                    conditions.append("state = $\(binds.count)")
                }
                if let webhook = query.webhook {
                    binds.append(Rows.uuid(webhook))
                    conditions.append("webhook = $\(binds.count)")
                }
                if let id = query.id {
                    binds.append(Rows.uuid(id))
                    conditions.append("id = $\(binds.count)")
                }
                if let before = query.before {
                    binds.append(Int64(clamping: before))
                    conditions.append("seq < $\(binds.count)")
                }
                binds.append(Int64(limit + 1))
                let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
                let rows = try session.query(
                    PostgresQuery(
                        unsafeSQL:
                            "SELECT \(Self.deliveryColumns) FROM bomflow_outbox \(filter) ORDER BY seq DESC LIMIT $\(binds.count)",
                        binds: binds))
                var found: [Delivery] = []
                for row in rows { found.append(try Self.decoding { try Self.decodeDelivery(row) }) }
                let more = found.count > limit
                let page = Array(found.prefix(limit))
                return DeliveryPage(deliveries: page, nextBefore: more ? page.last?.sequence : nil)
            }
        }

        public func outboxFigures() throws(StoreError) -> OutboxFigures {
            try read { session throws(SQLFailure) in
                let rows = try session.query(
                    """
                    SELECT (SELECT count(*) FROM bomflow_outbox WHERE state = 0),
                        (SELECT count(*) FROM bomflow_outbox WHERE state = 2),
                        (SELECT min(created_at) FROM bomflow_outbox WHERE state = 0)
                    """)
                guard let row = rows.first else { return OutboxFigures() }
                return try Self.decoding {
                    let cells = Cells(row)
                    var figures = OutboxFigures()
                    let pending: Int64 = try cells[0]
                    let dead: Int64 = try cells[1]
                    let oldest: Int64? = try cells[2]
                    figures.pending = Int(pending)
                    figures.dead = Int(dead)
                    figures.oldestPending = oldest.map(Timestamp.init(milliseconds:))
                    return figures
                }
            }
        }

        /// One batch of retention of delivered and dead deliveries.
        func pruneDeliveries(before cutoff: Timestamp, session: Session) throws -> (
            more: Bool, delta: MaintenanceReport
        ) {
            let batch = Int64(options.maintenanceBatchSize)
            let rows = try session.query(
                """
                DELETE FROM bomflow_outbox WHERE seq IN (SELECT seq FROM bomflow_outbox
                    WHERE state <> 0 AND finished_at < \(cutoff.milliseconds) ORDER BY finished_at LIMIT \(batch))
                RETURNING seq
                """)
            var delta = MaintenanceReport()
            for _ in rows { delta.deliveriesPruned += 1 }
            return (Int64(delta.deliveriesPruned) == batch, delta)
        }
    }
#endif

#if PostgreSQL
    extension PostgresStore {
        /// ``WorkflowStorage/queues()``: counts over the partial indexes of ready and claimed
        /// steps (the cost grows with what is ready or claimed), and the pauses.
        public func queues() throws(StoreError) -> [QueueFigures] {
            try read { session throws(SQLFailure) in
                let rows = try session.query(
                    """
                    SELECT coalesce(s.step, p.step), coalesce(s.ready, 0), coalesce(s.claimed, 0), s.oldest,
                        p.step IS NOT NULL
                    FROM (
                        SELECT step, count(*) FILTER (WHERE claimable_since IS NOT NULL) AS ready,
                            count(*) FILTER (WHERE claim_worker IS NOT NULL) AS claimed,
                            min(claimable_since) AS oldest
                        FROM bomflow_step WHERE claimable_since IS NOT NULL OR claim_worker IS NOT NULL GROUP BY step
                    ) s FULL JOIN bomflow_queue_pause p ON p.step = s.step
                    """)
                var figures: [QueueFigures] = []
                for row in rows {
                    let figure: QueueFigures? = try Self.decoding {
                        let cells = Cells(row)
                        let text: String = try cells[0]
                        guard let name = StepName(text) else { return nil }
                        let ready: Int64 = try cells[1]
                        let claimed: Int64 = try cells[2]
                        let oldest: Int64? = try cells[3]
                        return QueueFigures(
                            step: name, ready: Int(ready), claimed: Int(claimed),
                            oldestReady: oldest.map(Timestamp.init(milliseconds:)), paused: try cells[4])
                    }
                    if let figure { figures.append(figure) }
                }
                return figures.sorted { $0.step < $1.step }
            }
        }
    }
#endif
