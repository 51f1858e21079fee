internal import Dispatch
internal import Logging
internal import Sockets
internal import Storage
internal import WorkflowAPI

#if canImport(Glibc)
    internal import Glibc
#endif

/// Periodic work of a serving process: every tick (100 ms, or the maintenance interval if
/// shorter) the release of read snapshots that other processes' commits made old or that idle
/// threads keep; the backend's upkeep every 10 s (LMDB: stale reader slots, L1); a maintenance
/// pass every interval (only one process at a time runs it: the store's lease).
final class Housekeeping: @unchecked Sendable {
    let logger = Logger(label: "bomflow.housekeeping")
    let store: any WorkflowStorage
    let metrics: Metrics
    let maintenanceEvery: Duration
    private let stopped = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(store: any WorkflowStorage, metrics: Metrics, maintenanceEvery: Duration) {
        self.store = store
        self.metrics = metrics
        self.maintenanceEvery = maintenanceEvery
    }

    func start() {
        PosixThread.start(name: "bomflow-housekeeping") { [self] in
            var nextMaintenance = ContinuousClock.now
            var nextUpkeep = ContinuousClock.now + .seconds(10)
            let tick = min(Duration.milliseconds(100), maintenanceEvery)
            let tickMilliseconds = Int(
                tick.components.seconds * 1000 + tick.components.attoseconds / 1_000_000_000_000_000)
            while stopped.wait(timeout: .now() + .milliseconds(max(tickMilliseconds, 10))) == .timedOut {
                let now = ContinuousClock.now
                store.releaseIdleReaders()
                if now >= nextUpkeep {
                    nextUpkeep = now + .seconds(10)
                    do { _ = try store.housekeep() } catch {
                        logger.error("storage upkeep failed", metadata: ["error": "\(error)"])
                    }
                }
                if now >= nextMaintenance {
                    nextMaintenance = now + maintenanceEvery
                    runMaintenance()
                }
            }
            done.signal()
        }
    }

    private func runMaintenance() {
        do {
            let report = try store.runMaintenance()
            metrics.recordMaintenance(report)
            if report.timedOut + report.failed + report.deleted > 0 {
                logger.info(
                    "maintenance",
                    metadata: [
                        "timedOut": "\(report.timedOut)", "failed": "\(report.failed)",
                        "cancelled": "\(report.cancelled)", "deleted": "\(report.deleted)",
                    ])
            }
        } catch {
            logger.error("maintenance failed", metadata: ["error": "\(error)"])
        }
    }

    func stop() {
        stopped.signal()
        done.wait()
    }
}

/// `--exit-with-parent`: notices, within 100 ms, that the process that started this one has
/// exited (the parent PID changes when a process is re-parented), and then runs `onExit` once.
enum ParentWatch {
    static func start(onExit: @escaping @Sendable () -> Void) {
        let parent = getppid()
        PosixThread.start(name: "bomflow-parent-watch") {
            while getppid() == parent { PosixThread.sleep(seconds: 0.1) }
            onExit()
        }
    }
}
