import ArgumentParser
import Dispatch
import FoundationEssentials
import JSON
import LMDBStore
import Sockets
import Storage
import WorkflowAPI

#if canImport(Glibc)
    import Glibc
#endif

/// `bomflow backup DEST`.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a compacted, consistent copy of the data directory while servers keep running.",
        discussion: """
            DEST must not exist or be an empty directory. The copy holds a read transaction while it runs, \
            is written as DEST/data.mdb.partial, and is renamed to DEST/data.mdb only once it is complete \
            and synced (restore refuses a .partial file).
            """)

    @OptionGroup var store: StoreArguments

    @Argument(help: "The directory to write data.mdb into.")
    var destination: String

    func run() throws {
        try store.requireLMDB("backup", instead: "back up PostgreSQL with its own tools (pg_dump, base backups)")
        let manager = FileManager.default
        if manager.fileExists(atPath: destination) {
            let contents = try manager.contentsOfDirectory(atPath: destination)
            guard contents.isEmpty else { throw CommandFailure("\(destination) is not empty") }
        } else {
            try manager.createDirectory(
                atPath: destination, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let store = try store.openStore(mustExist: true, readOnly: true)
        let started = Date()
        try store.backup(to: destination)
        let size = (try? manager.attributesOfItem(atPath: destination + "/data.mdb")[.size] as? Int) ?? 0
        let seconds = Date().timeIntervalSince(started)
        printJSON(
            JSONWriter.object { json in
                json.member("destination", destination)
                json.member("bytes", Int64(size))
                json.member("seconds", double: (seconds * 1000).rounded() / 1000)
            })
    }
}
