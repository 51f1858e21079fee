// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation
    internal import Notifications
    internal import PostgresNIO
    public import Storage
    public import WorkflowModel

    /// The event history (docs/HISTORY.md) in `bomflow_event`: one row per event, keyed by the
    /// workflow's ID and the event's number, deleted with the workflow (`ON DELETE CASCADE`).
    extension PostgresStore {
        /// ``WorkflowStorage/history(_:after:limit:)``.
        public func history(_ token: Token, after: UInt64, limit: Int) throws(StoreError) -> HistoryPage? {
            let limit = Int64(Swift.max(1, Swift.min(limit, HistoryEvent.limit)))
            return try read { session throws(SQLFailure) in
                let found = try session.query(
                    """
                    SELECT w.id, COALESCE(min(e.seq), 0), COALESCE(max(e.seq), 0) FROM bomflow_workflow w
                    LEFT JOIN bomflow_event e ON e.workflow_id = w.id WHERE w.token = \(Rows.uuid(token)) GROUP BY w.id
                    """)
                guard let row = found.first else { return nil }
                let (id, first, last): (Int64, Int64, Int64) = try Self.decoding {
                    let cells = Cells(row)
                    return (try cells[0], try cells[1], try cells[2])
                }
                var page = HistoryPage(events: [], first: UInt64(first), last: UInt64(last))
                guard UInt64(last) > after else { return page }
                let rows = try session.query(
                    """
                    SELECT \(unescaped: Self.eventColumns) FROM bomflow_event
                    WHERE workflow_id = \(id) AND seq > \(Int64(clamping: after)) ORDER BY seq LIMIT \(limit)
                    """)
                for row in rows { page.events.append(try Self.decodeEvent(row)) }
                return page
            }
        }

        static let eventColumns =
            "seq, at, first_at, count, kind, origin_kind, origin_name, origin_key, version, step, from_status, "
            + "to_status, attempt, detail, reason, webhook, delivery"

        static func decodeEvent(_ row: PostgresRow) throws(SQLFailure) -> HistoryEvent {
            try decoding {
                let cells = Cells(row)
                let sequence: Int64 = try cells[0]
                let kindName: String = try cells[4]
                let originName: String = try cells[5]
                let stepName: String? = try cells[9]
                let from: String? = try cells[10]
                let to: String? = try cells[11]
                let firstAt: Int64? = try cells[2]
                let count: Int32 = try cells[3]
                let version: Int64? = try cells[8]
                let attempt: Int32? = try cells[12]
                let webhook: UUID? = try cells[15]
                let delivery: Int64? = try cells[16]
                guard let kind = HistoryEvent.Kind(rawValue: kindName),
                    let originKind = Origin.Kind(rawValue: originName)
                else { throw StoreError.corrupted("history event \(sequence)") }
                func status(_ text: String?) throws -> StepStatus? {
                    guard let text else { return nil }
                    guard let status = StepStatus(rawValue: text) else {
                        throw StoreError.corrupted("history event \(sequence): status \(text)")
                    }
                    return status
                }
                return HistoryEvent(
                    sequence: UInt64(sequence), at: Timestamp(milliseconds: try cells[1]),
                    firstAt: firstAt.map(Timestamp.init(milliseconds:)), count: Int(count), kind: kind,
                    origin: Origin(kind: originKind, name: try cells[6], key: try cells[7]),
                    version: version.map { UInt64($0) }, step: stepName.flatMap(StepName.init), from: try status(from),
                    to: try status(to), attempt: attempt.map(Int.init), detail: try cells[13], reason: try cells[14],
                    webhook: webhook.map(Rows.token), delivery: delivery.map { UInt64($0) })
            }
        }

        /// Appends a change's events to the workflow's history, pipelined (the workflow is locked by
        /// the caller's transaction): each one folds into the newest event when it continues a
        /// summarised one, or takes the next number; then the bound drops the oldest summarised
        /// events, else the oldest, beyond ``HistoryEvent/limit`` (never the newest, whose number
        /// the next one follows: a number is never given out twice). Numbers are dense from 1, so
        /// the events are counted only once a number passes the bound.
        func appendHistory(_ events: [HistoryEvent], id: Int64, session: Session) {
            guard !events.isEmpty else { return }
            for event in events {
                let origin = event.origin
                session.send(
                    """
                    WITH newest AS (
                        SELECT seq, kind, step, origin_kind, origin_name, origin_key FROM bomflow_event
                        WHERE workflow_id = \(id) ORDER BY seq DESC LIMIT 1
                    ), folded AS (
                        UPDATE bomflow_event e SET at = \(event.at.milliseconds), first_at = COALESCE(e.first_at, e.at),
                            count = e.count + \(Int32(clamping: event.count)), version = \(event.version.map { Int64(clamping: $0) }),
                            attempt = \(event.attempt.map { Int32(clamping: $0) }), detail = \(event.detail)
                        FROM newest n
                        WHERE \(event.kind.isSummarised) AND e.workflow_id = \(id) AND e.seq = n.seq
                            AND n.kind = \(event.kind.rawValue) AND n.step IS NOT DISTINCT FROM \(event.step?.rawValue)
                            AND n.origin_kind = \(origin.kind.rawValue) AND n.origin_name IS NOT DISTINCT FROM \(origin.name)
                            AND n.origin_key IS NOT DISTINCT FROM \(origin.key)
                        RETURNING e.seq
                    )
                    INSERT INTO bomflow_event (workflow_id, seq, at, first_at, count, kind, origin_kind, origin_name,
                        origin_key, version, step, from_status, to_status, attempt, detail, reason, webhook, delivery)
                    SELECT \(id), COALESCE((SELECT seq FROM newest), 0) + 1, \(event.at.milliseconds),
                        \(event.firstAt?.milliseconds), \(Int32(clamping: event.count)), \(event.kind.rawValue),
                        \(origin.kind.rawValue), \(origin.name), \(origin.key), \(event.version.map { Int64(clamping: $0) }),
                        \(event.step?.rawValue), \(event.from?.rawValue), \(event.to?.rawValue),
                        \(event.attempt.map { Int32(clamping: $0) }), \(event.detail), \(event.reason),
                        \(event.webhook.map(Rows.uuid)), \(event.delivery.map { Int64(clamping: $0) })
                    WHERE NOT EXISTS (SELECT 1 FROM folded)
                    """)
            }
            session.send(
                """
                DELETE FROM bomflow_event WHERE workflow_id = \(id)
                    AND EXISTS (SELECT 1 FROM bomflow_event WHERE workflow_id = \(id) AND seq > \(Int64(HistoryEvent.limit)))
                    AND seq IN (
                    SELECT seq FROM bomflow_event WHERE workflow_id = \(id)
                        AND seq < (SELECT max(seq) FROM bomflow_event WHERE workflow_id = \(id))
                    ORDER BY kind IN ('HEARTBEAT', 'PROGRESS') DESC, seq
                    LIMIT GREATEST(0, (SELECT count(*) FROM bomflow_event WHERE workflow_id = \(id)) - \(Int64(HistoryEvent.limit))))
                """)
        }

        /// Appends the event of a finished delivery to its workflow's history (locking the workflow
        /// for its number), when the workflow is still stored.
        func appendDeliveryEvent(_ delivery: Delivery, at now: Timestamp, session: Session) throws {
            guard let event = HistoryEvent.finished(delivery, at: now) else { return }
            let rows = try session.query(
                "SELECT id FROM bomflow_workflow WHERE token = \(Rows.uuid(delivery.token)) FOR UPDATE")
            guard let row = rows.first else { return }
            let id: Int64 = try Self.decoding { try Cells(row)[0] }
            appendHistory([event], id: id, session: session)
        }
    }
#endif
