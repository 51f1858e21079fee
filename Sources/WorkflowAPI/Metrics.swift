internal import Logging
public import Notifications
internal import Sockets
public import Storage
internal import Synchronization
internal import WorkflowModel

/// Counters for `GET /metrics` (Prometheus text exposition format 0.0.4). Labels have bounded
/// cardinality: the route pattern (never the raw path) and the status code.
public final class Metrics: Sendable {
    /// Upper bounds of the latency histogram, in seconds.
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    /// Request counts, kept per thread (``PerThread``: each event loop counts in its own copy,
    /// without a shared lock on the poll path) and added up for a scrape.
    private struct Requests {
        /// Answers by route and status, indexed without hashing: row route index + 1 (0: no
        /// route matched), column status − 100; a row (4 KiB) is made on its route's first
        /// answer on this thread's copy.
        var counts: [[Int]] = []
        /// Answers with a status outside 100...599 (none the API sends), keyed by route index
        /// × 1,000 + status.
        var otherCounts: [Int: Int] = [:]
        var latencyCounts = [Int](repeating: 0, count: Metrics.buckets.count + 1)
        var latencySum = 0.0
        var latencyCount = 0

        static let columns = 500

        mutating func count(route: Int, status: Int) {
            let row = route + 1
            let column = status - 100
            guard row >= 0, column >= 0, column < Self.columns else {
                otherCounts[row * 1000 + status, default: 0] += 1
                return
            }
            makeRow(row)
            counts[row][column] += 1
        }

        /// Makes row `row` (and the rows before it) if it is not there yet.
        private mutating func makeRow(_ row: Int) {
            if row >= counts.count { counts += repeatElement([], count: row + 1 - counts.count) }
            if counts[row].isEmpty { counts[row] = [Int](repeating: 0, count: Self.columns) }
        }

        /// Every count keyed by route index × 1,000 + status (route −1: no route matched).
        var keyed: [Int: Int] {
            var keyed = otherCounts
            for (row, columns) in counts.enumerated() {
                for (column, count) in columns.enumerated() where count > 0 {
                    keyed[row * 1000 + column + 100, default: 0] += count
                }
            }
            return keyed
        }

        mutating func add(_ other: Requests) {
            for (row, columns) in other.counts.enumerated() where !columns.isEmpty {
                makeRow(row)
                for column in columns.indices { counts[row][column] += columns[column] }
            }
            otherCounts.merge(other.otherCounts, uniquingKeysWith: +)
            for index in latencyCounts.indices { latencyCounts[index] += other.latencyCounts[index] }
            latencySum += other.latencySum
            latencyCount += other.latencyCount
        }
    }

    private struct State {
        var maintenance = MaintenanceReport()
        var maintenancePasses = 0
        var maintenanceSkipped = 0
    }

    private let state = Mutex(State())
    private let requests = PerThread(Requests())
    /// This process's webhook deliveries (the delivering thread counts them).
    public let deliveries = DeliveryCounters()

    /// Empty counters.
    public init() {}

    /// `duration` in seconds. Its `components` would be two 128-bit divisions per request; a
    /// duration under 9.2 s (any a request takes) fits its attoseconds in 64 bits.
    static func seconds(_ duration: Duration) -> Double {
        let attoseconds = duration.attoseconds
        if let small = Int64(exactly: attoseconds) { return Double(small) / 1e18 }
        return Double(attoseconds) / 1e18
    }

    /// Counts one answered request.
    func recordRequest(route: Int, status: Int, seconds: Double) {
        let bucket = Metrics.buckets.firstIndex { seconds <= $0 } ?? Metrics.buckets.count
        requests.withLock { requests in
            requests.count(route: route, status: status)
            requests.latencyCounts[bucket] += 1
            requests.latencySum += seconds
            requests.latencyCount += 1
        }
    }

    /// Adds a maintenance pass's counts.
    public func recordMaintenance(_ report: MaintenanceReport) {
        state.withLock { state in
            state.maintenancePasses += 1
            if report.skipped { state.maintenanceSkipped += 1 }
            state.maintenance.timedOut += report.timedOut
            state.maintenance.failed += report.failed
            state.maintenance.cancelled += report.cancelled
            state.maintenance.deleted += report.deleted
            state.maintenance.leasesExpired += report.leasesExpired
            state.maintenance.leaseFailures += report.leaseFailures
        }
    }

    /// The exposition text, with the store's figures read now.
    func render(store: any WorkflowStorage, writer: WriteQueue, waiting: Int = 0) -> String {
        let snapshot = state.withLock { $0 }
        var served = Requests()
        requests.withEach { served.add($0) }
        var lines: [String] = []
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, String)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for (labels, value) in samples { lines.append("\(name)\(labels) \(value)") }
        }
        // Indexed as the router numbers its routes: every route, the operator page's too.
        let signatures = WorkflowService.routes.map(\.signature)
        let requestCounts = served.keyed.sorted { $0.key < $1.key }.map { key, count -> (String, String) in
            let route = key / 1000 - 1
            let name = route >= 0 && route < signatures.count ? signatures[route] : "unmatched"
            return ("{route=\"\(name)\",status=\"\(key % 1000)\"}", String(count))
        }
        metric(
            "bomflow_http_requests_total", "counter", "Requests answered by the API, by route pattern and status.",
            requestCounts)
        var cumulative = 0
        var histogram: [(String, String)] = []
        for (index, bound) in Metrics.buckets.enumerated() {
            cumulative += served.latencyCounts[index]
            histogram.append(("_bucket{le=\"\(bound)\"}", String(cumulative)))
        }
        histogram.append(("_bucket{le=\"+Inf\"}", String(served.latencyCount)))
        histogram.append(("_sum", String(served.latencySum)))
        histogram.append(("_count", String(served.latencyCount)))
        lines.append(
            "# HELP bomflow_http_request_duration_seconds Time from a parsed request to its response, writes including their commit."
        )
        lines.append("# TYPE bomflow_http_request_duration_seconds histogram")
        for (suffix, value) in histogram { lines.append("bomflow_http_request_duration_seconds\(suffix) \(value)") }
        metric(
            "bomflow_write_commits_total", "counter", "Group commits by this process's writer.",
            [("", String(writer.commits))])
        metric(
            "bomflow_write_operations_total", "counter", "Operations committed by this process's writer.",
            [("", String(writer.operationsWritten))])
        metric(
            "bomflow_maintenance_passes_total", "counter", "Maintenance passes started by this process.",
            [("", String(snapshot.maintenancePasses))])
        metric(
            "bomflow_maintenance_skipped_total", "counter", "Passes skipped because another process held the lease.",
            [("", String(snapshot.maintenanceSkipped))])
        metric(
            "bomflow_maintenance_steps_total", "counter", "Steps changed by maintenance, by outcome.",
            [
                ("{outcome=\"timed_out\"}", String(snapshot.maintenance.timedOut)),
                ("{outcome=\"failed\"}", String(snapshot.maintenance.failed)),
                ("{outcome=\"cancelled\"}", String(snapshot.maintenance.cancelled)),
                ("{outcome=\"lease_expired\"}", String(snapshot.maintenance.leasesExpired)),
                ("{outcome=\"lease_failed\"}", String(snapshot.maintenance.leaseFailures)),
            ])
        metric(
            "bomflow_maintenance_workflows_deleted_total", "counter", "Workflows deleted by retention.",
            [("", String(snapshot.maintenance.deleted))])
        metric(
            "bomflow_waiting_requests", "gauge", "Watches and claims of this process waiting for a change.",
            [("", String(waiting))])
        let condition = store.condition()
        metric(
            "bomflow_write_lock_wait_seconds_total", "counter",
            "Seconds this process's writer waited for the write lock (held by another process's writer).",
            [("", String(writer.lockWaitSeconds))])
        metric(
            "bomflow_write_timeouts_total", "counter",
            "Writes answered 503 because the write lock was not had within --write-timeout (not applied).",
            [("", String(writer.writesTimedOut))])
        metric(
            "bomflow_write_stalled", "gauge",
            "1 while this process's writes wait longer than --write-timeout for the lock.",
            [("", writer.isStalled ? "1" : "0")])
        metric(
            "bomflow_storage_full", "gauge", "1 while writes are refused for lack of space (map or disk).",
            [("", condition.full == nil ? "0" : "1")])
        metric(
            "bomflow_storage_fatal", "gauge", "1 once the store failed fatally (the process is exiting).",
            [("", condition.fatal == nil ? "0" : "1")])
        let figures: CheapFigures?
        do { figures = try store.cheapFigures() } catch {
            // Served without the store's figures, and said: a scrape must not fail silently.
            Logger(label: "bomflow.metrics").error("cannot read the store's figures", metadata: ["error": "\(error)"])
            figures = nil
        }
        if let figures {
            metric(
                "bomflow_workflows", "gauge",
                "Workflows stored, by state (processing: some step PENDING or TIMED_OUT).",
                [
                    ("{state=\"processing\"}", String(figures.processing)), ("{state=\"done\"}", String(figures.done)),
                ])
            metric(
                "bomflow_deadline_entries", "gauge", "Ready PENDING and TIMED_OUT steps (the timeout scan's index).",
                [("", String(figures.deadlineEntries))])
            metric(
                "bomflow_boms", "gauge", "BOMs stored with their workflows (deleted with them by retention).",
                [("", String(figures.boms))])
            metric(
                "bomflow_bom_bytes", "gauge", "Bytes of the stored BOMs, as uploaded.", [("", String(figures.bomBytes))]
            )
            metric("bomflow_projects", "gauge", "Projects in the registry.", [("", String(figures.projects))])
            metric("bomflow_lmdb_map_size_bytes", "gauge", "The LMDB map size.", [("", String(figures.mapSize))])
            metric("bomflow_lmdb_used_bytes", "gauge", "Bytes of the map in use.", [("", String(figures.usedBytes))])
            metric(
                "bomflow_lmdb_readers", "gauge", "Reader-table slots in use (all processes).",
                [("", String(figures.readers))])
            metric(
                "bomflow_lmdb_stale_readers_cleared_total", "counter", "Stale reader slots this process cleared.",
                [("", String(figures.staleReadersCleared))])
            metric(
                "bomflow_lmdb_write_lock_handovers_total", "counter",
                "Times a writer of this process let a writer waiting for the write lock go first.",
                [("", String(figures.writeLockHandOvers))])
            metric(
                "bomflow_lmdb_last_transaction_id", "gauge", "ID of the newest commit by any process.",
                [("", String(figures.lastTransactionID))])
        }
        let sent = deliveries.snapshot
        metric(
            "bomflow_webhook_deliveries_total", "counter",
            "Webhook attempts by this process: delivered, failed (each failed attempt) and dead (given up).",
            [
                ("{outcome=\"delivered\"}", String(sent.sent)), ("{outcome=\"failed\"}", String(sent.failedAttempts)),
                ("{outcome=\"dead\"}", String(sent.dead)),
            ])
        do {
            let outbox = try store.outboxFigures()
            metric(
                "bomflow_webhook_outbox", "gauge", "Deliveries in the outbox, by state (dead ones until retention).",
                [("{state=\"pending\"}", String(outbox.pending)), ("{state=\"dead\"}", String(outbox.dead))])
            let age = outbox.oldestPending.map { max(0, store.options.clock().milliseconds - $0.milliseconds) } ?? 0
            metric(
                "bomflow_webhook_oldest_pending_seconds", "gauge",
                "Age of the oldest pending delivery (0 when none is pending).", [("", String(Double(age) / 1000))])
        } catch {
            Logger(label: "bomflow.metrics").error("cannot read the outbox's figures", metadata: ["error": "\(error)"])
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
