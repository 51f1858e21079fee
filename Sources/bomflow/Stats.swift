import ArgumentParser
import JSON
import LMDBStore
import Storage
import WorkflowModel

/// `bomflow stats`.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print counts by status, the environment's size and use, and its reader table, as JSON.")

    @OptionGroup var store: StoreArguments

    func run() throws {
        if self.store.isPostgres {
            try printFigures(try self.store.openWorkflowStore(mustExist: true, readOnly: true).cheapFigures())
            return
        }
        let store = try store.openStore(mustExist: true, readOnly: true)
        let stats = try store.statistics()
        var json = JSONWriter()
        json.beginObject()
        json.member("workflows", Int64(stats.workflows))
        json.member("processing", Int64(stats.processing))
        json.member("done", Int64(stats.done))
        json.key("steps")
        json.beginObject()
        for status in StepStatus.allCases { json.member(status.rawValue, Int64(stats.stepsByStatus[status] ?? 0)) }
        json.endObject()
        json.member("deadlineEntries", Int64(stats.deadlineEntries))
        json.member("boms", Int64(stats.boms))
        json.member("bomBytes", Int64(stats.bomBytes))
        json.member("projects", Int64(stats.projects))
        json.member("mapSizeBytes", Int64(stats.mapSize))
        json.member("usedBytes", Int64(stats.usedBytes))
        json.member("pageSize", Int64(stats.pageSize))
        json.member("lastTransactionId", Int64(stats.lastTransactionID))
        json.member("maxReaders", Int64(stats.maxReaders))
        json.key("readers")
        json.beginArray()
        for reader in stats.readers {
            json.beginObject()
            json.member("pid", Int64(reader.pid))
            json.key("transactionId")
            if let id = reader.transactionID { json.number(Int64(id)) } else { json.null() }
            json.endObject()
        }
        json.endArray()
        json.member("staleReadersCleared", Int64(stats.staleReadersCleared))
        json.member("formatVersion", Int64(stats.formatVersion))
        json.endObject()
        printJSON(json.bytes)
    }

    /// On PostgreSQL: the figures `/metrics` shows (the total of workflows is PostgreSQL's estimate).
    private func printFigures(_ figures: CheapFigures) throws {
        var json = JSONWriter()
        json.beginObject()
        json.member("backend", "postgres")
        json.member("workflows", Int64(figures.workflows))
        json.member("processing", Int64(figures.processing))
        json.member("done", Int64(figures.done))
        json.member("deadlineEntries", Int64(figures.deadlineEntries))
        json.member("boms", Int64(figures.boms))
        json.member("bomBytes", Int64(figures.bomBytes))
        json.member("projects", Int64(figures.projects))
        json.endObject()
        printJSON(json.bytes)
    }
}
