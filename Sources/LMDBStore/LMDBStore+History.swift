internal import LMDB
internal import Notifications
public import Storage
public import WorkflowModel

/// The event history (docs/HISTORY.md): in the `steps` database after the workflow's step rows,
/// key workflow ID (8) ‖ 0xFF ‖ sequence number (8), so that one workflow's events are one key
/// range in order, and an update's event lands on the leaf its step row dirtied anyway (format 7;
/// format 6 kept them in a B-tree of their own, one more random leaf and branch path per update).
extension LMDBStore {
    /// ``WorkflowStorage/history(_:after:limit:)``.
    public func history(_ token: Token, after: UInt64, limit: Int) throws(StoreError) -> HistoryPage? {
        let limit = Swift.max(1, Swift.min(limit, HistoryEvent.limit))
        return try read { txn in
            guard let id = try workflowID(for: token, in: txn) else { return nil }
            let prefix = Keys.historyPrefix(id)
            var page = HistoryPage(events: [], first: 0, last: 0)
            try txn.withCursor(databases.steps) { cursor in
                (page.first, page.last) = try Self.historyRange(prefix, cursor: &cursor)
                guard page.last > after else { return }
                var more = try cursor.seek(atOrAfter: Keys.historyEvent(id, after == UInt64.max ? after : after + 1))
                while more, page.events.count < limit {
                    let event: HistoryEvent? = try cursor.withCurrent { key, value throws(StoreError) in
                        guard hasPrefix(key, prefix), key.count == Keys.historyKeyCount else { return nil }
                        return try HistoryCodec.decode(value, sequence: loadUInt64(key, at: 9))
                    }
                    guard let event else { break }
                    page.events.append(event)
                    more = try cursor.next()
                }
            }
            return page
        }
    }

    /// Appends a change's events to the workflow's history: a summarised event folds into the
    /// newest one when it continues it (same key, new count), others take the next number; beyond
    /// ``HistoryEvent/limit`` events the oldest summarised one goes, else the oldest.
    func appendHistory(_ events: [HistoryEvent], id: UInt64, in txn: borrowing WriteTransaction) throws {
        guard !events.isEmpty else { return }
        let prefix = Keys.historyPrefix(id)
        try txn.withCursor(databases.steps) { cursor in
            // One seek for the newest number; the oldest is only needed past the bound (numbers
            // are given out densely from 1, so at most `last` events are kept).
            var last = try Self.lastSequence(prefix, cursor: &cursor)
            var newest: HistoryEvent? = nil
            if last > 0, events[0].kind.isSummarised {
                newest = try cursor.withCurrent { _, value throws(StoreError) in
                    try HistoryCodec.decode(value, sequence: last)
                }
            }
            for var event in events {
                if let newest, let merged = event.summarised(into: newest) {
                    event = merged
                } else {
                    last += 1
                    event.sequence = last
                }
                newest = event
                try txn.put(
                    HistoryCodec.encode(event), forKey: Keys.historyEvent(id, event.sequence), in: databases.steps)
            }
            guard last > UInt64(HistoryEvent.limit) else { return }
            // One event goes per event that came. The range overstates the count once a summarised
            // event was dropped from its middle; then the events are counted.
            var first = try Self.historyRange(prefix, cursor: &cursor).0
            for _ in events.indices where last - first + 1 > UInt64(HistoryEvent.limit) {
                guard let victim = try Self.historyVictim(prefix, cursor: &cursor) else { break }
                try txn.delete(Keys.historyEvent(id, victim), in: databases.steps)
                if victim == first { first = try Self.historyRange(prefix, cursor: &cursor).0 }
            }
        }
    }

    /// The first and last sequence numbers stored under `prefix` (0, 0 when none); leaves the
    /// cursor on the last one.
    private static func historyRange(_ prefix: [UInt8], cursor: inout Cursor) throws -> (UInt64, UInt64) {
        guard try cursor.seek(atOrAfter: prefix), cursor.withCurrent({ key, _ in hasPrefix(key, prefix) }) else {
            return (0, 0)
        }
        let first = cursor.withCurrent { key, _ in loadUInt64(key, at: 9) }
        return (first, try lastSequence(prefix, cursor: &cursor))
    }

    /// The last sequence number stored under `prefix` (0 when none); leaves the cursor on it.
    private static func lastSequence(_ prefix: [UInt8], cursor: inout Cursor) throws -> UInt64 {
        // The next workflow ID's keys follow every key of this one, and its events follow its rows.
        let id = loadUInt64(prefix, at: 0)
        let beyond = id < UInt64.max ? try cursor.seek(atOrAfter: Keys.workflow(id + 1)) : false
        let positioned = beyond ? try cursor.previous() : try cursor.last()
        guard positioned,
            cursor.withCurrent({ key, _ in hasPrefix(key, prefix) && key.count == Keys.historyKeyCount })
        else { return 0 }
        return cursor.withCurrent { key, _ in loadUInt64(key, at: 9) }
    }

    /// The event the bound drops when the workflow keeps more than ``HistoryEvent/limit``: the
    /// oldest summarised one, else the oldest; never the newest, so that a number is never given
    /// out twice (a tail that saw it would miss what came next).
    private static func historyVictim(_ prefix: [UInt8], cursor: inout Cursor) throws -> UInt64? {
        var more = try cursor.seek(atOrAfter: prefix)
        var count = 0
        var oldest: UInt64?
        var newest: UInt64?
        var summarised: UInt64?
        while more {
            let entry: (UInt64, Bool)? = cursor.withCurrent { key, value in
                guard hasPrefix(key, prefix), key.count == Keys.historyKeyCount else { return nil }
                let kind = value.count > 1 ? HistoryEvent.Kind(code: value[1]) : nil
                return (loadUInt64(key, at: 9), kind?.isSummarised ?? false)
            }
            guard let (sequence, isSummarised) = entry else { break }
            count += 1
            if oldest == nil { oldest = sequence }
            if isSummarised, summarised == nil { summarised = sequence }
            newest = sequence
            more = try cursor.next()
        }
        guard count > HistoryEvent.limit else { return nil }
        if let summarised, summarised != newest { return summarised }
        return oldest
    }

    /// Deletes the workflow's history (with the workflow).
    func deleteHistory(id: UInt64, in txn: borrowing WriteTransaction) throws {
        let prefix = Keys.historyPrefix(id)
        var keys: [[UInt8]] = []
        try txn.withCursor(databases.steps) { cursor in
            var more = try cursor.seek(atOrAfter: prefix)
            while more {
                let key = cursor.key
                guard key.starts(with: prefix) else { break }
                keys.append(key)
                more = try cursor.next()
            }
        }
        for key in keys { try txn.delete(key, in: databases.steps) }
    }

    /// Appends the event of a finished delivery (delivered or dead) to its workflow's history,
    /// when the workflow is still stored.
    func appendDeliveryEvent(_ delivery: Delivery, at now: Timestamp, in txn: borrowing WriteTransaction) throws {
        guard let event = HistoryEvent.finished(delivery, at: now),
            let id = try workflowID(for: delivery.token, in: txn)
        else { return }
        try appendHistory([event], id: id, in: txn)
    }

    /// Problems of the keys in `steps` other than step rows, for ``verifyIntegrity()`` (one scan of
    /// the tree): workflow records (format 9) of IDs `workflows` does not list, events of workflows
    /// that are not stored, events that do not decode, keys that are neither records, rows nor
    /// events; and anything left in format 6's `history` database.
    func stepsTreeProblems(workflowIDs: Set<UInt64>, in txn: borrowing ReadTransaction) throws -> [String] {
        var problems: [String] = []
        try txn.withCursor(databases.steps) { cursor in
            var more = try cursor.first()
            while more, problems.count < 100 {
                cursor.withCurrent { key, value in
                    if key.count == 9 { return }  // a step row
                    if key.count == 8 {  // a workflow record (format 9)
                        let id = loadUInt64(key, at: 0)
                        if !workflowIDs.contains(id) {
                            problems.append("a record of workflow \(id), which workflows does not list")
                        }
                        return
                    }
                    guard key.count == Keys.historyKeyCount, key[8] == Keys.historyMarker else {
                        problems.append("steps key of \(key.count) bytes")
                        return
                    }
                    let id = loadUInt64(key, at: 0)
                    if !workflowIDs.contains(id) { problems.append("history event of missing workflow \(id)") }
                    do { _ = try HistoryCodec.decode(value, sequence: 0) } catch {
                        problems.append("history event \(id)/\(loadUInt64(key, at: 9)): \(error)")
                    }
                }
                more = try cursor.next()
            }
        }
        let leftOver = try txn.count(of: databases.history)
        if leftOver > 0 { problems.append("\(leftOver) events left in format 6's history database") }
        return problems
    }

    /// Moves format 6's events (database `history`, key ID ‖ number) into `steps` (format 7), in
    /// chunks within the migrating transaction.
    func moveFormatSixHistory(in txn: borrowing WriteTransaction) throws {
        while true {
            var chunk: [([UInt8], [UInt8])] = []
            try txn.withCursor(databases.history) { cursor in
                var more = try cursor.first()
                while more, chunk.count < 10_000 {
                    chunk.append((cursor.key, cursor.value))
                    more = try cursor.next()
                }
            }
            guard !chunk.isEmpty else { return }
            for (key, value) in chunk {
                guard key.count == 16 else { throw StoreError.corrupted("format 6 history key of \(key.count) bytes") }
                _ = try txn.delete(key, in: databases.history)
                try txn.put(
                    value, forKey: Keys.historyEvent(loadUInt64(key, at: 0), loadUInt64(key, at: 8)),
                    in: databases.steps)
            }
        }
    }
}

/// The record of one history event: codec version (1), kind (1), time (8), count (4), presence
/// bits (2), origin kind (1), then each present field in this order: first time (8), version (8),
/// step, from (1), to (1), attempt (4), detail, reason, webhook (16), origin name, origin key
/// (strings with a two-byte length), delivery (8).
enum HistoryCodec {
    static let version: UInt8 = 1

    static func encode(_ event: HistoryEvent) -> [UInt8] {
        var writer = ByteWriter(capacity: 48)
        writer.append(version)
        writer.append(event.kind.code)
        writer.append(UInt64(bitPattern: event.at.milliseconds))
        writer.append(UInt32(clamping: event.count))
        var bits: UInt16 = 0
        let present: [Bool] = [
            event.firstAt != nil, event.version != nil, event.step != nil, event.from != nil, event.to != nil,
            event.attempt != nil, event.detail != nil, event.reason != nil, event.webhook != nil,
            event.origin.name != nil, event.origin.key != nil, event.delivery != nil,
        ]
        for (bit, isPresent) in present.enumerated() where isPresent { bits |= 1 << UInt16(bit) }
        writer.append(bits)
        writer.append(UInt8(Origin.Kind.allCases.firstIndex(of: event.origin.kind)!))
        if let firstAt = event.firstAt { writer.append(UInt64(bitPattern: firstAt.milliseconds)) }
        if let version = event.version { writer.append(version) }
        if let step = event.step { writer.appendString(step.rawValue) }
        if let from = event.from { writer.append(RecordCodec.code(from)) }
        if let to = event.to { writer.append(RecordCodec.code(to)) }
        if let attempt = event.attempt { writer.append(UInt32(clamping: attempt)) }
        if let detail = event.detail { writer.appendString(clipped(detail)) }
        if let reason = event.reason { writer.appendString(clipped(reason)) }
        if let webhook = event.webhook { writer.append(contentsOf: webhook.bytes) }
        if let name = event.origin.name { writer.appendString(clipped(name)) }
        if let key = event.origin.key { writer.appendString(clipped(key)) }
        if let delivery = event.delivery { writer.append(delivery) }
        return writer.bytes
    }

    static func decode(_ span: Span<UInt8>, sequence: UInt64) throws(StoreError) -> HistoryEvent {
        var reader = ByteReader()
        guard try reader.uint8(span) == version else { throw .corrupted("unknown history record version") }
        guard let kind = HistoryEvent.Kind(code: try reader.uint8(span)) else {
            throw .corrupted("unknown history event kind")
        }
        let at = Timestamp(milliseconds: try reader.int64(span))
        let count = Int(try reader.uint32(span))
        let bits = try reader.uint16(span)
        func has(_ bit: UInt16) -> Bool { bits & (1 << bit) != 0 }
        let originCode = Int(try reader.uint8(span))
        guard originCode < Origin.Kind.allCases.count else { throw .corrupted("unknown history origin kind") }
        var event = HistoryEvent(
            sequence: sequence, at: at, count: count, kind: kind, origin: Origin(kind: Origin.Kind.allCases[originCode])
        )
        if has(0) { event.firstAt = Timestamp(milliseconds: try reader.int64(span)) }
        if has(1) { event.version = try reader.uint64(span) }
        if has(2) {
            let text = try reader.string(span)
            guard let step = StepName(text) else { throw .corrupted("invalid step name in history") }
            event.step = step
        }
        if has(3) { event.from = try RecordCodec.status(try reader.uint8(span)) }
        if has(4) { event.to = try RecordCodec.status(try reader.uint8(span)) }
        if has(5) { event.attempt = Int(try reader.uint32(span)) }
        if has(6) { event.detail = try reader.string(span) }
        if has(7) { event.reason = try reader.string(span) }
        if has(8) {
            guard let webhook = Token(bytes: try reader.bytes(16, span)) else {
                throw .corrupted("invalid webhook in history")
            }
            event.webhook = webhook
        }
        if has(9) { event.origin.name = try reader.string(span) }
        if has(10) { event.origin.key = try reader.string(span) }
        if has(11) { event.delivery = try reader.uint64(span) }
        guard reader.offset == span.count else { throw .corrupted("history record has trailing bytes") }
        return event
    }

    /// Texts are bounded by the model's limits; this keeps the two-byte length safe regardless.
    private static func clipped(_ text: String) -> String {
        guard text.utf8.count > 0xFFFF else { return text }
        return String(decoding: text.utf8.prefix(0xFFFF), as: UTF8.self)
    }
}
