import ArgumentParser
import BomflowServer
import JSON
import LMDBStore
import Storage
import WorkflowModel

/// `bomflow maintenance`: one pass of timeouts and retention.
struct Maintenance: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one maintenance pass (step timeouts, then retention) and print what it did.",
        discussion: """
            Only one process of the host runs a pass at a time; if another holds the lease, this prints \
            "skipped": true. Creates the data directory when it does not exist yet.
            """)

    @OptionGroup var store: StoreArguments

    @OptionGroup var periods: MaintenanceArguments

    func run() throws {
        let store = try store.openWorkflowStore(mustExist: false) { options in
            periods.apply(to: &options)
        }
        try Serve.serverStep { () throws(ServerError) in
            try ServerRuntime.checkClock(now: store.options.clock().milliseconds)
        }
        let report = try store.runMaintenance()
        var json = JSONWriter()
        json.beginObject()
        json.member("skipped", report.skipped)
        json.member("timedOut", Int64(report.timedOut))
        json.member("failed", Int64(report.failed))
        json.member("cancelled", Int64(report.cancelled))
        json.member("deleted", Int64(report.deleted))
        json.member("deadlineEntriesVisited", Int64(report.deadlineEntriesVisited))
        json.member("finishedEntriesVisited", Int64(report.finishedEntriesVisited))
        json.member("transactions", Int64(report.transactions))
        json.endObject()
        printJSON(json.bytes)
    }
}
