internal import LMDB
public import Notifications
public import Storage
internal import WorkflowModel

/// Webhooks and the transactional outbox (docs/NOTIFICATIONS.md; key layouts in docs/STORAGE.md):
/// `webhooks` (UUID → the webhook's stored JSON), `outbox` (sequence → delivery record) and its
/// indexes: `outbox-due` (due time ‖ sequence, pending only), `outbox-order` (webhook ‖ token ‖
/// sequence, pending only: the first entry of a pair is the only one that may be attempted),
/// `outbox-pending` (sequence), `outbox-finished` (finished time ‖ sequence: retention) and
/// `outbox-dead` (sequence).
extension LMDBStore {
    // MARK: Writes inside a batch

    /// Queues the deliveries the change of `workflow` (stored under `id`) from `original` causes;
    /// called by every write of a workflow, in its transaction.
    func queueNotifications(
        from original: Workflow?, to workflow: Workflow, id: UInt64, in txn: borrowing WriteTransaction, now: Timestamp
    ) throws {
        let deliveries = try NewDelivery.deliveries(
            from: original, to: workflow, at: now,
            webhooks: { try loadWebhooks(in: txn) },
            context: {
                let project = try Token(workflow.labels["project"] ?? "").flatMap { uuid in
                    try loadProject(.uuid(uuid), in: txn)
                }
                return NotificationPayload.Context(project: project, bom: try bomDocument(id: id, in: txn))
            })
        for delivery in deliveries { try enqueue(delivery, in: txn) }
    }

    /// Adds a new delivery under the next sequence number. - Returns: it as stored.
    @discardableResult
    func enqueue(_ new: NewDelivery, in txn: borrowing WriteTransaction) throws -> Delivery {
        let current =
            try txn.withValue(forKey: Keys.nextDeliverySequence, in: databases.meta) { span in
                span.count == 8 ? loadUInt64(span, at: 0) : nil
            } ?? 1
        guard let sequence = current else { throw StoreError.corrupted("next-delivery-sequence record") }
        try txn.put(Keys.workflow(sequence + 1), forKey: Keys.nextDeliverySequence, in: databases.meta)
        let delivery = Delivery(sequence: sequence, new)
        try putDelivery(delivery, replacing: nil, in: txn)
        return delivery
    }

    /// Writes a delivery's record and moves its index entries from `old`'s to its own.
    func putDelivery(_ delivery: Delivery, replacing old: Delivery?, in txn: borrowing WriteTransaction) throws {
        let before = old.map(Self.outboxEntries) ?? []
        let after = Self.outboxEntries(delivery)
        for entry in before.subtracting(after) { _ = try txn.delete(entry.key, in: outboxIndex(entry.table)) }
        for entry in after.subtracting(before) {
            // A due entry carries its pair (webhook ‖ token): "is anything claimable" reads no record.
            let value = entry.table == .due ? delivery.webhook.bytes + delivery.token.bytes : []
            try txn.put(value, forKey: entry.key, in: outboxIndex(entry.table))
        }
        try txn.put(DeliveryCodec.encode(delivery), forKey: Keys.workflow(delivery.sequence), in: databases.outbox)
    }

    private func deleteDelivery(_ delivery: Delivery, in txn: borrowing WriteTransaction) throws {
        for entry in Self.outboxEntries(delivery) { _ = try txn.delete(entry.key, in: outboxIndex(entry.table)) }
        _ = try txn.delete(Keys.workflow(delivery.sequence), in: databases.outbox)
    }

    enum OutboxTable: Hashable { case due, order, pending, finished, dead }

    struct OutboxEntry: Hashable {
        let table: OutboxTable
        let key: [UInt8]
    }

    func outboxIndex(_ table: OutboxTable) -> Database {
        switch table {
        case .due: databases.outboxDue
        case .order: databases.outboxOrder
        case .pending: databases.outboxPending
        case .finished: databases.outboxFinished
        case .dead: databases.outboxDead
        }
    }

    /// The index entries a delivery's state calls for.
    static func outboxEntries(_ delivery: Delivery) -> Set<OutboxEntry> {
        let sequence = Keys.workflow(delivery.sequence)
        switch delivery.state {
        case .pending:
            return [
                OutboxEntry(table: .due, key: Keys.finished(delivery.dueAt, delivery.sequence)),
                OutboxEntry(table: .order, key: delivery.webhook.bytes + delivery.token.bytes + sequence),
                OutboxEntry(table: .pending, key: sequence),
            ]
        case .delivered:
            return [
                OutboxEntry(
                    table: .finished, key: Keys.finished(delivery.finishedAt ?? delivery.dueAt, delivery.sequence))
            ]
        case .dead:
            return [
                OutboxEntry(
                    table: .finished, key: Keys.finished(delivery.finishedAt ?? delivery.dueAt, delivery.sequence)),
                OutboxEntry(table: .dead, key: sequence),
            ]
        }
    }

    func loadDelivery<T: TransactionReading & ~Copyable>(_ sequence: UInt64, in txn: borrowing T) throws -> Delivery? {
        try txn.withValue(forKey: Keys.workflow(sequence), in: databases.outbox) { span in
            try DeliveryCodec.decode(span, sequence: sequence)
        }
    }

    func loadWebhooks<T: TransactionReading & ~Copyable>(in txn: borrowing T) throws -> [Webhook] {
        try txn.withCursor(databases.webhooks) { cursor in
            var webhooks: [Webhook] = []
            var more = try cursor.first()
            while more {
                guard let webhook = Webhook(stored: cursor.value) else {
                    throw StoreError.corrupted("webhook record \(Token(bytes: cursor.key)?.description ?? "?")")
                }
                webhooks.append(webhook)
                more = try cursor.next()
            }
            return webhooks.sorted { $0.createdAt < $1.createdAt }
        }
    }

    func loadWebhook<T: TransactionReading & ~Copyable>(_ id: Token, in txn: borrowing T) throws -> Webhook? {
        guard let bytes = try txn.value(forKey: id.bytes, in: databases.webhooks) else { return nil }
        guard let webhook = Webhook(stored: bytes) else { throw StoreError.corrupted("webhook record \(id)") }
        return webhook
    }

    /// The webhook and outbox operations of a batch.
    func applyOutbox(_ operation: WriteOperation, in txn: borrowing WriteTransaction, now: Timestamp) throws
        -> WriteOutcome
    {
        switch operation {
        case .createWebhook(let webhook):
            try txn.put(webhook.stored, forKey: webhook.id.bytes, in: databases.webhooks, options: .noOverwrite)
            return .webhook(webhook, created: true)
        case .updateWebhook(let id, let draft):
            guard let existing = try loadWebhook(id, in: txn) else { throw WorkflowError.unknownWebhook(id) }
            let webhook: Webhook
            do { webhook = try draft.applied(to: existing) } catch {
                throw WorkflowError.invalidWebhook(error.description)
            }
            try txn.put(webhook.stored, forKey: id.bytes, in: databases.webhooks)
            return .webhook(webhook, created: false)
        case .deleteWebhook(let id):
            guard try txn.delete(id.bytes, in: databases.webhooks) else { throw WorkflowError.unknownWebhook(id) }
            let sequences: [UInt64] = try txn.withCursor(databases.outboxOrder) { cursor in
                var found: [UInt64] = []
                var more = try cursor.seek(atOrAfter: id.bytes)
                while more {
                    let key = cursor.key
                    guard key.count == 40, key.starts(with: id.bytes) else { break }
                    found.append(loadUInt64(key, at: 32))
                    more = try cursor.next()
                }
                return found
            }
            for sequence in sequences {
                if let delivery = try loadDelivery(sequence, in: txn) { try deleteDelivery(delivery, in: txn) }
            }
            return .webhookDeleted(id, pendingDropped: sequences.count)
        case .testWebhook(let id):
            guard let webhook = try loadWebhook(id, in: txn) else { throw WorkflowError.unknownWebhook(id) }
            return .queued(try enqueue(WriteOperation.testDelivery(for: webhook, now: now), in: txn))
        case .redeliver(let sequence):
            guard let delivery = try loadDelivery(sequence, in: txn) else {
                throw WorkflowError.unknownDelivery(sequence)
            }
            let again = try WriteOperation.redelivered(delivery, now: now)
            try putDelivery(again, replacing: delivery, in: txn)
            return .queued(again)
        default:
            throw StoreError.failed("not an outbox operation")
        }
    }

    // MARK: The delivering process

    public func webhooks() throws(StoreError) -> [Webhook] {
        try read { txn in try loadWebhooks(in: txn) }
    }

    /// The due deliveries (`outbox-due` up to `now`) that are the first pending one of their
    /// webhook and workflow in `outbox-order`, at most `limit`, looking at no more than 1,000 due
    /// entries. Reads no delivery record: a due entry's value is its pair (webhook ‖ token).
    func claimableSequences<T: TransactionReading & ~Copyable>(limit: Int, now: Timestamp, in txn: borrowing T)
        throws -> [UInt64]
    {
        let due: [(sequence: UInt64, pair: [UInt8])] = try txn.withCursor(databases.outboxDue) { cursor in
            var found: [(UInt64, [UInt8])] = []
            var more = try cursor.first()
            while more, found.count < 1000 {
                let key = cursor.key
                guard key.count == 16, Self.keyTime(key) <= now else { break }
                found.append((loadUInt64(key, at: 8), cursor.value))
                more = try cursor.next()
            }
            return found
        }
        var claimable: [UInt64] = []
        for entry in due where entry.pair.count == 32 && claimable.count < limit {
            let first: UInt64? = try txn.withCursor(databases.outboxOrder) { cursor in
                guard try cursor.seek(atOrAfter: entry.pair) else { return nil }
                let key = cursor.key
                return key.count == 40 && key.starts(with: entry.pair) ? loadUInt64(key, at: 32) : nil
            }
            if first == entry.sequence { claimable.append(entry.sequence) }
        }
        return claimable
    }

    /// ``WorkflowStorage/hasDueDeliveries()``: ``claimableSequences(limit:now:in:)`` finds one.
    public func hasDueDeliveries() throws(StoreError) -> Bool {
        let now = options.clock()
        return try read { txn in try !claimableSequences(limit: 1, now: now, in: txn).isEmpty }
    }

    /// ``WorkflowStorage/claimDeliveries(holder:max:leaseMilliseconds:)``: the
    /// ``claimableSequences(limit:now:in:)``, each leased to `holder`.
    public func claimDeliveries(holder: String, max: Int, leaseMilliseconds: Int64) throws(StoreError)
        -> [DeliveryTask]
    {
        guard max > 0 else { return [] }
        let now = options.clock()
        return try write { txn in
            var tasks: [DeliveryTask] = []
            var webhooks: [Token: Webhook?] = [:]
            for sequence in try claimableSequences(limit: max, now: now, in: txn) {
                guard let delivery = try loadDelivery(sequence, in: txn), delivery.state == .pending else { continue }
                if webhooks[delivery.webhook] == nil {
                    webhooks[delivery.webhook] = try loadWebhook(delivery.webhook, in: txn)
                }
                guard let webhook = webhooks[delivery.webhook] ?? nil else {
                    try deleteDelivery(delivery, in: txn)  // its webhook is gone
                    continue
                }
                var claimed = delivery
                claimed.leaseHolder = holder
                claimed.dueAt = now.adding(milliseconds: leaseMilliseconds)
                try putDelivery(claimed, replacing: delivery, in: txn)
                tasks.append(DeliveryTask(delivery: claimed, webhook: webhook))
            }
            return tasks
        }
    }

    /// ``WorkflowStorage/finishDeliveries(_:policy:)``.
    public func finishDeliveries(_ reports: [DeliveryReport], policy: RetryPolicy) throws(StoreError) -> [Delivery] {
        guard !reports.isEmpty else { return [] }
        let now = options.clock()
        return try write { txn in
            var finished: [Delivery] = []
            for report in reports {
                guard let delivery = try loadDelivery(report.sequence, in: txn), delivery.state == .pending,
                    delivery.leaseHolder == report.holder
                else { continue }
                let after = policy.applying(report, to: delivery, now: now, jitter: Double.random(in: 0...1))
                try putDelivery(after, replacing: delivery, in: txn)
                try appendDeliveryEvent(after, at: now, in: txn)
                finished.append(after)
            }
            return finished
        }
    }

    /// ``WorkflowStorage/deliveries(_:)``: `outbox` backwards from `before` (or `outbox-dead` for
    /// dead ones), at most 100,000 records read per page.
    public func deliveries(_ query: DeliveryQuery) throws(StoreError) -> DeliveryPage {
        let limit = Swift.max(1, Swift.min(query.limit, 1000))
        return try read { txn in
            let database = query.state == .dead ? databases.outboxDead : databases.outbox
            let (sequences, next): ([UInt64], UInt64?) = try txn.withCursor(database) { cursor in
                var more: Bool
                if let before = query.before {
                    more = try cursor.seek(atOrAfter: Keys.workflow(before))
                    more = more ? try cursor.previous() : try cursor.last()
                } else {
                    more = try cursor.last()
                }
                var found: [UInt64] = []
                var visited = 0
                while more, visited < 100_000 {
                    visited += 1
                    found.append(loadUInt64(cursor.key, at: 0))
                    more = try cursor.previous()
                    if found.count >= limit * 4 { break }
                }
                return (found, more ? found.last : nil)
            }
            var page: [Delivery] = []
            var last: UInt64?
            for sequence in sequences {
                guard let delivery = try loadDelivery(sequence, in: txn) else { continue }
                last = sequence
                guard query.matches(delivery) else { continue }
                page.append(delivery)
                if page.count == limit { break }
            }
            let more = page.count == limit || next != nil
            return DeliveryPage(deliveries: page, nextBefore: more ? last : nil)
        }
    }

    public func outboxFigures() throws(StoreError) -> OutboxFigures {
        try read { txn in
            var figures = OutboxFigures()
            figures.pending = try txn.count(of: databases.outboxPending)
            figures.dead = try txn.count(of: databases.outboxDead)
            let oldest: UInt64? = try txn.withCursor(databases.outboxPending) { cursor in
                try cursor.first() ? loadUInt64(cursor.key, at: 0) : nil
            }
            if let oldest, let delivery = try loadDelivery(oldest, in: txn) {
                figures.oldestPending = delivery.createdAt
            }
            return figures
        }
    }

    /// One batch of retention over `outbox-finished`. - Returns: true when more may remain.
    func pruneDeliveries(before cutoff: Timestamp, now: Timestamp, report: inout MaintenanceReport)
        throws(StoreError) -> Bool
    {
        let batch = options.maintenanceBatchSize
        let (more, pruned) = try write { txn -> (Bool, Int) in
            let (keys, _) = try expiredKeys(in: databases.outboxFinished, before: cutoff, limit: batch, txn: txn)
            var pruned = 0
            for key in keys {
                if key.count == 16, let delivery = try loadDelivery(loadUInt64(key, at: 8), in: txn) {
                    try deleteDelivery(delivery, in: txn)
                    pruned += 1
                } else {
                    _ = try txn.delete(key, in: databases.outboxFinished)
                }
            }
            return (keys.count == batch, pruned)
        }
        report.deliveriesPruned += pruned
        if pruned > 0 { report.transactions += 1 }
        return more
    }
}

extension LMDBStore {
    /// The outbox's indexes are exactly what its records' states call for, every record decodes,
    /// and every webhook record decodes (``verifyIntegrity()``).
    func outboxProblems(in txn: borrowing ReadTransaction) throws -> [String] {
        var problems: [String] = []
        var expected: Set<OutboxEntry> = []
        try txn.withCursor(databases.outbox) { cursor in
            var more = try cursor.first()
            while more {
                let key = cursor.key
                if key.count != 8 {
                    problems.append("outbox key of \(key.count) bytes")
                } else {
                    do {
                        let delivery = try DeliveryCodec.decode(cursor.value.span, sequence: loadUInt64(key, at: 0))
                        expected.formUnion(Self.outboxEntries(delivery))
                    } catch {
                        problems.append("outbox record \(loadUInt64(key, at: 0)): \(error)")
                    }
                }
                more = try cursor.next()
            }
        }
        var found: Set<OutboxEntry> = []
        for table in [OutboxTable.due, .order, .pending, .finished, .dead] {
            try txn.withCursor(outboxIndex(table)) { cursor in
                var more = try cursor.first()
                while more {
                    found.insert(OutboxEntry(table: table, key: cursor.key))
                    more = try cursor.next()
                }
            }
        }
        for entry in expected.subtracting(found) { problems.append("missing outbox \(entry.table) entry \(entry.key)") }
        for entry in found.subtracting(expected) { problems.append("stray outbox \(entry.table) entry \(entry.key)") }
        try txn.withCursor(databases.webhooks) { cursor in
            var more = try cursor.first()
            while more {
                if Webhook(stored: cursor.value) == nil {
                    problems.append("webhook record \(cursor.key) does not decode")
                }
                more = try cursor.next()
            }
        }
        return problems
    }
}

/// The `outbox` record: version (1) ‖ id (16) ‖ webhook (16) ‖ token (16) ‖ group (short string)
/// ‖ created (8) ‖ state (1) ‖ attempts (8) ‖ due (8) ‖ holder (flag, short string) ‖ last error
/// (flag, string) ‖ finished (flag, 8) ‖ payload (rest).
enum DeliveryCodec {
    static func encode(_ delivery: Delivery) -> [UInt8] {
        var writer = ByteWriter(capacity: 96 + delivery.payload.count)
        writer.append(UInt8(1))
        writer.append(contentsOf: delivery.id.bytes)
        writer.append(contentsOf: delivery.webhook.bytes)
        writer.append(contentsOf: delivery.token.bytes)
        writer.appendShortString(delivery.group.rawValue)
        writer.append(UInt64(bitPattern: delivery.createdAt.milliseconds))
        writer.append(delivery.state.rawValue)
        writer.append(UInt64(delivery.attempts))
        writer.append(UInt64(bitPattern: delivery.dueAt.milliseconds))
        if let holder = delivery.leaseHolder {
            writer.append(UInt8(1))
            writer.appendShortString(String(decoding: Array(holder.utf8.prefix(255)), as: UTF8.self))
        } else {
            writer.append(UInt8(0))
        }
        if let error = delivery.lastError {
            writer.append(UInt8(1))
            writer.appendString(String(decoding: Array(error.utf8.prefix(4000)), as: UTF8.self))
        } else {
            writer.append(UInt8(0))
        }
        if let finished = delivery.finishedAt {
            writer.append(UInt8(1))
            writer.append(UInt64(bitPattern: finished.milliseconds))
        } else {
            writer.append(UInt8(0))
        }
        writer.append(contentsOf: delivery.payload)
        return writer.bytes
    }

    static func decode(_ span: Span<UInt8>, sequence: UInt64) throws(StoreError) -> Delivery {
        var reader = ByteReader()
        guard try reader.uint8(span) == 1 else { throw .corrupted("delivery \(sequence): unknown record version") }
        guard let id = Token(bytes: try reader.bytes(16, span)), let webhook = Token(bytes: try reader.bytes(16, span)),
            let token = Token(bytes: try reader.bytes(16, span)),
            let group = NotificationGroup(rawValue: try reader.shortString(span))
        else { throw .corrupted("delivery \(sequence)") }
        let created = try reader.int64(span)
        guard let state = DeliveryState(rawValue: try reader.uint8(span)) else {
            throw .corrupted("delivery \(sequence): state")
        }
        let attempts = Int(clamping: try reader.uint64(span))
        let due = try reader.int64(span)
        let holder = try reader.uint8(span) == 1 ? try reader.shortString(span) : nil
        let error = try reader.uint8(span) == 1 ? try reader.string(span) : nil
        let finished = try reader.uint8(span) == 1 ? Timestamp(milliseconds: try reader.int64(span)) : nil
        let payload = try reader.bytes(span.count - reader.offset, span)
        return Delivery(
            sequence: sequence, id: id, webhook: webhook, token: token, group: group,
            createdAt: Timestamp(milliseconds: created), payload: payload, state: state, attempts: attempts,
            dueAt: Timestamp(milliseconds: due), leaseHolder: holder, lastError: error, finishedAt: finished)
    }
}
