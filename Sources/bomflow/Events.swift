import ArgumentParser
import Dispatch
import FoundationEssentials
import Interchange
import JSON
import Notifications
import Sockets
import Storage
import WorkflowModel

#if canImport(Glibc)
    import Glibc
#endif

/// `bomflow events TOKEN [--follow]`: a workflow's event history (docs/HISTORY.md).
struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a workflow's event history, oldest first; with --follow, then each new event as it comes.",
        discussion: """
            Reads the store directly (any process may be serving it). A line per event: \
            #SEQUENCE TIME TYPE [STEP] [FROM → TO] [attempt N] [×COUNT] [DETAIL] [(REASON)] by WHO. \
            A summarised event (HEARTBEAT, PROGRESS) changes in place: it is printed when it first appears.
            """)

    @OptionGroup var store: StoreArguments

    @Argument(help: "The workflow's token (a UUID).")
    var token: String

    @Option(help: "Only events after this sequence number.")
    var after: UInt64 = 0

    @Flag(help: "Keep printing new events until interrupted or the workflow is deleted.")
    var follow = false

    @Flag(help: "One JSON object per line (the API's event shape) instead of text.")
    var json = false

    func validate() throws {
        guard Token(token) != nil else { throw ValidationError("'\(token)' is not a UUID") }
    }

    func run() throws {
        let token = Token(self.token)!
        let store = try store.openWorkflowStore(mustExist: true, readOnly: true)
        var after = self.after
        var counter = try store.changeCounter()
        while true {
            guard let page = try store.history(token, after: after, limit: HistoryEvent.limit) else {
                if after > 0 || self.after > 0 {
                    StandardStreams.writeError("workflow \(token) was deleted\n")
                    return
                }
                throw ValidationError("no workflow \(token)")
            }
            // Written at once (not buffered), so that a reader of a pipe sees each event when it comes.
            let text = page.events.map { render($0) + "\n" }.joined()
            if !text.isEmpty { StandardStreams.writeOutput(text) }
            after = page.events.last?.sequence ?? after
            if page.events.count == HistoryEvent.limit { continue }
            guard follow else { return }
            // Wait for any commit (of any process) before reading again.
            while try store.changeCounter() == counter { PosixThread.sleep(seconds: 0.1) }
            counter = try store.changeCounter()
        }
    }

    private func render(_ event: HistoryEvent) -> String {
        guard json else { return HistoryShapes.line(event, time: ISOTime.string(event.at)) }
        var writer = JSONWriter()
        HistoryShapes.write(event, into: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
