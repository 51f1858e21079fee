import ArgumentParser
import Dispatch
import FoundationEssentials
import JSON
import Notifications
import Sockets
import Storage
import WorkflowModel

#if canImport(Glibc)
    import Glibc
#endif

/// `bomflow webhooks add|list|update|delete|test|deliveries|redeliver`: the webhook API's
/// operations on the store directly (docs/NOTIFICATIONS.md), like `keys`.
struct Webhooks: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage webhooks and their deliveries (docs/NOTIFICATIONS.md).",
        subcommands: [Add.self, List.self, Update.self, Delete.self, Test.self, Deliveries.self, Redeliver.self])

    /// What `add` and `update` share.
    struct Settings: ParsableArguments {
        @Option(help: "http:// or https:// URL (no credentials: send them with --header).")
        var url: String?
        @Option(name: .customLong("group"), help: "A group it receives; repeat for several (update: replaces all).")
        var groups: [String] = []
        @Option(help: "Only workflows of this project UUID.")
        var project: String?
        @Option(name: .customLong("label"), help: "Only workflows with this label, key:value; repeat for several.")
        var labels: [String] = []
        @Option(help: "A file holding the signing secret (not an argument: others can read the command line).")
        var secretFile: String?
        @Option(name: .customLong("header"), help: "A header sent with each delivery, 'Name: value'; repeat.")
        var headers: [String] = []
        @Option(help: "Send the BOM itself in Dependency-Track's groups: true or false.")
        var includeBom: Bool?
        @Option(help: "true or false (a disabled webhook gets no new notifications).")
        var enabled: Bool?

        func draft() throws -> WebhookDraft {
            var draft = WebhookDraft()
            draft.url = url
            if !groups.isEmpty {
                draft.groups = try groups.map { name in
                    guard let group = NotificationGroup(rawValue: name) else {
                        throw ValidationError(
                            "--group \(name): one of \(NotificationGroup.allCases.map(\.rawValue).joined(separator: ", "))"
                        )
                    }
                    return group
                }
            }
            if let project {
                guard let uuid = Token(project) else { throw ValidationError("--project is a UUID") }
                draft.project = uuid
            }
            if !labels.isEmpty {
                draft.labels = try labels.map { text in
                    guard let colon = text.firstIndex(of: ":") else { throw ValidationError("--label is key:value") }
                    return Labels.Label(key: String(text[..<colon]), value: String(text[text.index(after: colon)...]))
                }
            }
            if let secretFile {
                guard let data = FileManager.default.contents(atPath: secretFile) else {
                    throw ValidationError("--secret-file: cannot read \(secretFile)")
                }
                var secret = String(decoding: data, as: UTF8.self)
                while secret.hasSuffix("\n") || secret.hasSuffix("\r") { secret.removeLast() }
                draft.secret = secret
            }
            if !headers.isEmpty {
                draft.headers = try headers.map { text in
                    guard let colon = text.firstIndex(of: ":") else {
                        throw ValidationError("--header is 'Name: value'")
                    }
                    return Webhook.Header(
                        name: String(text[..<colon]),
                        value: String(text[text.index(after: colon)...].drop { $0 == " " }))
                }
            }
            draft.includeBom = includeBom
            draft.enabled = enabled
            return draft
        }
    }

    static func perform(_ store: any WorkflowStorage, _ operation: WriteOperation) throws -> WriteOutcome {
        do { return try store.perform(operation) } catch {
            switch error {
            case .refused(let refusal): throw CommandFailure(refusal.description)
            case .storage(let failure): throw CommandFailure(failure.description)
            }
        }
    }

    static func print(_ write: (inout JSONWriter) -> Void) {
        var json = JSONWriter()
        write(&json)
        Swift.print(json.text)
    }

    static func show(_ outcome: WriteOutcome) {
        switch outcome {
        case .webhook(let webhook, _): print { webhook.write(to: &$0) }
        case .queued(let delivery): print { delivery.write(to: &$0) }
        default: break
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a webhook; prints it as JSON.")
        @OptionGroup var store: StoreArguments
        @OptionGroup var settings: Settings

        func run() throws {
            let workflowStore = try store.openWorkflowStore(mustExist: false)
            let webhook: Webhook
            do {
                webhook = try settings.draft().webhook(id: Token.random(), createdAt: workflowStore.options.clock())
            } catch let error as WebhookError {
                throw ValidationError(error.description)
            }
            show(try perform(workflowStore, .createWebhook(webhook)))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every webhook, one JSON object per line.")
        @OptionGroup var store: StoreArguments

        func run() throws {
            let workflowStore = try store.openWorkflowStore(mustExist: true, readOnly: true)
            for webhook in try workflowStore.webhooks() { print { webhook.write(to: &$0) } }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change what the options name; prints the webhook.")
        @OptionGroup var store: StoreArguments
        @Argument(help: "The webhook's UUID.") var uuid: String
        @OptionGroup var settings: Settings
        @Flag(help: "Remove the signing secret.") var removeSecret = false

        func run() throws {
            guard let id = Token(uuid) else { throw ValidationError("not a UUID: \(uuid)") }
            var draft = try settings.draft()
            if removeSecret { draft.secret = .some(nil) }
            show(try perform(try store.openWorkflowStore(mustExist: true), .updateWebhook(id, draft)))
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a webhook and its pending deliveries.")
        @OptionGroup var store: StoreArguments
        @Argument(help: "The webhook's UUID.") var uuid: String

        func run() throws {
            guard let id = Token(uuid) else { throw ValidationError("not a UUID: \(uuid)") }
            _ = try perform(try store.openWorkflowStore(mustExist: true), .deleteWebhook(id))
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue a test notification for a webhook (a serving process delivers it); prints it.")
        @OptionGroup var store: StoreArguments
        @Argument(help: "The webhook's UUID.") var uuid: String

        func run() throws {
            guard let id = Token(uuid) else { throw ValidationError("not a UUID: \(uuid)") }
            show(try perform(try store.openWorkflowStore(mustExist: true), .testWebhook(id)))
        }
    }

    struct Deliveries: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deliveries newest first, as JSON: state, attempts, last error, payload.")
        @OptionGroup var store: StoreArguments
        @Option(help: "PENDING, DELIVERED or DEAD.") var state: String?
        @Option(help: "Only this webhook's.") var webhook: String?
        @Option(help: "At most this many (1 to 1000).") var limit = 100
        @Option(help: "Continue below this sequence number (the previous page's nextBefore).") var before: UInt64?

        func run() throws {
            var query = DeliveryQuery(before: before, limit: limit)
            if let state {
                guard let parsed = DeliveryState(name: state) else {
                    throw ValidationError("--state is PENDING, DELIVERED or DEAD")
                }
                query.state = parsed
            }
            if let webhook {
                guard let id = Token(webhook) else { throw ValidationError("--webhook is a UUID") }
                query.webhook = id
            }
            guard (1...1000).contains(limit) else { throw ValidationError("--limit is 1 to 1000") }
            let page = try store.openWorkflowStore(mustExist: true, readOnly: true).deliveries(query)
            print { Delivery.write(page.deliveries, next: page.nextBefore, to: &$0) }
        }
    }

    struct Redeliver: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a dead (or delivered) delivery pending again, attempts from 0; prints it.")
        @OptionGroup var store: StoreArguments
        @Argument(help: "The delivery's sequence number.") var sequence: UInt64

        func run() throws {
            show(try perform(try store.openWorkflowStore(mustExist: true), .redeliver(sequence)))
        }
    }
}
