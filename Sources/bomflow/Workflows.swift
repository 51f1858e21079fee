import ArgumentParser
import Interchange
import LMDBStore
import Storage
import WorkflowModel

/// `bomflow workflows list`.
struct Workflows: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect workflows.", subcommands: [List.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List workflows, newest first, as JSON: {\"workflows\": [...], \"nextCursor\": ...}.")

        @OptionGroup var store: StoreArguments

        @Option(help: "Only workflows with this label, as key:value.")
        var label: String?

        @Option(help: "Only processing or done workflows.")
        var state: StateArgument?

        @Option(help: "At most this many (1-1000).")
        var limit: Int = 100

        @Option(help: "Continue from a previous page's nextCursor.")
        var cursor: UInt64?

        func validate() throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
            if let label, !label.contains(":") { throw ValidationError("--label takes key:value") }
        }

        func run() throws {
            let store = try store.openWorkflowStore(mustExist: true, readOnly: true)
            var query = WorkflowQuery(limit: limit, cursor: cursor)
            if let label, let colon = label.firstIndex(of: ":") {
                query.label = Labels.Label(
                    key: String(label[..<colon]), value: String(label[label.index(after: colon)...]))
            }
            query.state = state.map { $0 == .processing ? .processing : .done }
            let page = try store.list(query)
            printJSON(WorkflowShapes.json(page))
        }
    }

    enum StateArgument: String, ExpressibleByArgument, CaseIterable {
        case processing
        case done
    }
}
