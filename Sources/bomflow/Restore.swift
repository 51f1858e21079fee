import ArgumentParser
import Dispatch
import FoundationEssentials
import JSON
import LMDBStore
import Sockets
import Storage

#if canImport(Glibc)
    import Glibc
#endif

/// `bomflow restore SRC`: puts a backup back.
struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the data directory's contents with a backup written by `bomflow backup`.",
        discussion: """
            Refuses while any server or bomflow command has the data directory open (stop them first), \
            and refuses a directory that already holds data unless --force is given. The backup is copied \
            beside the data and opened (format version, counts; every invariant with --verify) before one \
            atomic rename puts it in place, so a failed restore leaves the directory as it was. Workflows \
            written after the backup was taken are gone afterwards.
            """)

    @OptionGroup var store: StoreArguments

    @Argument(help: "The backup directory (holding data.mdb).")
    var source: String

    @Flag(help: "Replace data that the directory already holds.")
    var force = false

    @Flag(help: "Also check every invariant between rows and indexes of the backup (reads it all).")
    var verify = false

    func run() throws {
        try store.requireLMDB("restore", instead: "restore PostgreSQL with its own tools")
        let started = Date()
        var options = StoreOptions()
        options.mapSize = store.mapSize.bytes
        let report: RestoreReport
        do {
            report = try LMDBStore.restore(
                from: source, into: store.dataDir, replacing: force, verify: verify, options: options)
        } catch .unsafeLocation(let why) {
            StandardStreams.writeError("bomflow: refusing \(store.dataDir): \(why)\n")
            throw ExitCode(78)
        } catch .corrupted(let why) {
            StandardStreams.writeError("bomflow: restore refused, nothing changed: \(why)\n")
            throw ExitCode(65)
        } catch {
            throw CommandFailure("restore refused: \(error)")
        }
        guard report.problems.isEmpty else {
            throw CommandFailure(
                "the backup in \(source) is inconsistent; nothing was restored:\n"
                    + report.problems.prefix(20).joined(separator: "\n"))
        }
        var json = JSONWriter()
        json.beginObject()
        json.member("restored", store.dataDir)
        json.member("workflows", Int64(report.workflows))
        json.member("bytes", Int64(report.bytes))
        json.key("seconds")
        json.number((Date().timeIntervalSince(started) * 1000).rounded() / 1000)
        json.endObject()
        printJSON(json.bytes)
    }
}
