import ArgumentParser
import Interchange
import LMDBStore
import Storage
import WorkflowModel

/// `bomflow status TOKEN`: the Dependency-Track status array of one workflow, read directly
/// from the data directory (works while servers run).
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a workflow's step statuses as Dependency-Track's /api/v1/workflow/token/{uuid}/status does.")

    @OptionGroup var store: StoreArguments

    @Flag(name: .long, help: "Print the whole workflow (metadata, readiness, progress) instead.")
    var full = false

    @Argument(help: "The workflow token (a UUID).")
    var token: String

    func validate() throws {
        guard Token(token) != nil else { throw ValidationError("'\(token)' is not a UUID") }
    }

    func run() throws {
        let store = try store.openWorkflowStore(mustExist: true, readOnly: true)
        guard let token = Token(token), let workflow = try store.workflow(token) else {
            throw CommandFailure(DependencyTrackShapes.unknownToken(token))
        }
        printJSON(full ? WorkflowShapes.json(workflow) : DependencyTrackShapes.workflowStatus(workflow))
    }
}
