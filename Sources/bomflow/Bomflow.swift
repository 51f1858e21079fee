import ArgumentParser
import WorkflowAPI

/// The `bomflow` command: the workflow-state service and its tools (DESIGN.md §5).
@main
struct Bomflow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bomflow",
        abstract: "Workflow state of SBOM processing on an embedded LMDB file.",
        discussion: """
            Every option also reads a BOMFLOW_* environment variable (named in its help); a flag on \
            the command line wins. Several processes may use one data directory at the same time.
            """,
        version: BomflowVersion.current,
        subcommands: [
            Serve.self, Status.self, Workflows.self, Maintenance.self, Stats.self, Check.self, Backup.self,
            Restore.self, Export.self, Import.self, Worker.self, Keys.self, Webhooks.self, Queues.self, Events.self,
        ]
    )
}
