import ArgumentParser
import Dispatch
import FoundationEssentials
import JSON
import LMDBStore
import Sockets

#if canImport(Glibc)
    import Glibc
#endif

/// `bomflow check`: is the data file whole?
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check data.mdb page by page, read-only and without mapping it; prints what is damaged.",
        discussion: """
            Compares the file's size with its meta pages and walks every page of every database (branch, \
            leaf and overflow pages), so a truncated file or a zeroed page is reported here instead of \
            crashing a server. Prints {"ok", "pages", "problems"}; exits 0 when nothing was found and 65 \
            when something was (restore a backup with `bomflow restore`). Safe while servers run; a page \
            being written at that moment may be reported, so check a quiet store or check twice.
            """)

    @Option(name: .long, help: "The data directory (env BOMFLOW_DATA_DIR).")
    var dataDir: String = environment("BOMFLOW_DATA_DIR") ?? "./bomflow-data"

    func run() throws {
        let report = LMDBStore.check(directory: dataDir)
        printJSON(
            JSONWriter.object { json in
                json.member("ok", report.problems.isEmpty)
                json.member("pages", Int64(report.pages))
                json.key("problems")
                json.beginArray()
                for problem in report.problems { json.string(problem) }
                json.endArray()
            })
        if !report.problems.isEmpty { throw ExitCode(65) }
    }
}
