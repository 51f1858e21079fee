import ArgumentParser
import Storage
import WorkflowModel

/// `bomflow queues list|pause|resume`: the ready queues on the store directly (issue 14).
struct Queues: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the ready queues; pause or resume one (claims skip a paused queue).",
        subcommands: [List.self, Pause.self, Resume.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per step name: ready, claimed, the oldest ready step's age, paused (tab-separated).")
        @OptionGroup var store: StoreArguments

        func run() throws {
            let workflowStore = try store.openWorkflowStore(mustExist: true, readOnly: true)
            let now = workflowStore.options.clock()
            for queue in try workflowStore.queues() {
                let age =
                    queue.oldestReady.map { String(max(0, now.milliseconds - $0.milliseconds) / 1000) + "s" } ?? "-"
                print("\(queue.step)\t\(queue.ready)\t\(queue.claimed)\t\(age)\t\(queue.paused ? "paused" : "running")")
            }
        }
    }

    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause a step name's queue on every process and host: no claims, no timeouts of its ready steps.")
        @OptionGroup var store: StoreArguments
        @Argument(help: "The step name.") var step: String

        func run() throws { try Queues.set(step, paused: true, store) }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused queue.")
        @OptionGroup var store: StoreArguments
        @Argument(help: "The step name.") var step: String

        func run() throws { try Queues.set(step, paused: false, store) }
    }

    static func set(_ step: String, paused: Bool, _ store: StoreArguments) throws {
        guard let name = StepName(step) else { throw ValidationError(WorkflowError.invalidStepName(step).description) }
        do {
            try store.openWorkflowStore(mustExist: false).perform(.pauseQueue(name, paused: paused))
        } catch let error as WorkflowStoreError {
            switch error {
            case .refused(let refusal): throw CommandFailure(refusal.description)
            case .storage(let failure): throw CommandFailure(failure.description)
            }
        }
    }
}
