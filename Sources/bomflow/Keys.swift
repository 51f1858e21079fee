import ArgumentParser
import Dispatch
import FoundationEssentials
import LMDBStore
import Sockets
import Storage
import WorkflowAPI

#if canImport(Glibc)
    import Glibc
#endif

/// `bomflow keys create|list|revoke`.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage API keys (stored only as SHA-256 digests).",
        subcommands: [Create.self, List.self, Revoke.self])

    enum PermissionArgument: String, ExpressibleByArgument, CaseIterable {
        case read, write, admin
        var permission: Permission {
            switch self {
            case .read: .read
            case .write: .write
            case .admin: .admin
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key and print it once (it cannot be shown again).")
        @OptionGroup var store: StoreArguments
        @Option(help: "A unique name for the key (recorded as the creator of the workflows it creates).")
        var name: String
        @Option(
            name: .customLong("permission"), help: "read, write or admin; repeat for several (default: read and write)."
        )
        var permissions: [PermissionArgument] = []

        func validate() throws {
            guard !name.isEmpty, name.utf8.count <= 128 else { throw ValidationError("--name must be 1 to 128 bytes") }
            guard !name.hasPrefix("ui-session:") else {
                throw ValidationError("names starting with ui-session: are the operator page's sign-in sessions")
            }
        }

        func run() throws {
            let workflowStore = try store.openWorkflowStore(mustExist: false)
            let granted = permissions.isEmpty ? Permission([.read, .write]) : Permission(permissions.map(\.permission))
            guard let key = try Authenticator.issueKey(in: workflowStore, name: name, permissions: granted) else {
                throw CommandFailure("a key named '\(name)' exists already")
            }
            print(key)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List keys: name, permissions, creation time (never the keys).")
        @OptionGroup var store: StoreArguments

        func run() throws {
            let workflowStore = try store.openWorkflowStore(mustExist: true, readOnly: true)
            let keys = try workflowStore.apiKeys()
            // Sign-in sessions of the operator page are stored as keys too (docs/UI.md): counted, not listed.
            let sessions = keys.filter { $0.name.hasPrefix("ui-session:") }
            for record in keys where !record.name.hasPrefix("ui-session:") {
                let permission = Permission(rawValue: record.permissions)
                let names = [(Permission.read, "read"), (.write, "write"), (.admin, "admin")].filter {
                    permission.contains($0.0)
                }.map(\.1)
                print("\(record.name)\t\(names.joined(separator: ","))\t\(record.createdAt)")
            }
            if !sessions.isEmpty { print("(\(sessions.count) sign-in sessions of the operator page)") }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke the key with this name (servers stop accepting it within 5 s).")
        @OptionGroup var store: StoreArguments
        @Argument(help: "The key's name.")
        var name: String

        func run() throws {
            let workflowStore = try store.openWorkflowStore(mustExist: true)
            guard try workflowStore.revokeAPIKey(name: name) else { throw CommandFailure("no key named '\(name)'") }
        }
    }
}
