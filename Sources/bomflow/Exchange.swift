import ArgumentParser
import Dispatch
import FoundationEssentials
import Interchange
import JSON
import LMDBStore
import Sockets
import Storage
import WorkflowAPI
import WorkflowModel

#if canImport(Glibc)
    import Glibc
#endif

#if PostgreSQL
    import PostgresStore
#endif

/// `bomflow export`: every workflow as JSON Lines.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write every workflow as JSON Lines (one workflow per line: metadata, steps, progress).",
        discussion: """
            Oldest first, read in pages of 1,000 in short read transactions, so servers keep working. \
            Each page is consistent; workflows that change during a long export appear as they were \
            when their page was read. `bomflow import` reads the file back.
            """)

    @OptionGroup var store: StoreArguments

    @Option(name: .shortAndLong, help: "Write to this file (mode 0600, replaced atomically) instead of stdout.")
    var output: String?

    func run() throws {
        let started = Date()
        let workflowStore = try store.openWorkflowStore(mustExist: true, readOnly: true)
        let temporary = output.map { $0 + ".partial" }
        let handle: FileStream
        if let temporary {
            do { handle = try FileStream.creating(temporary, mode: 0o600) } catch {
                throw CommandFailure("cannot write \(temporary): \(error)")
            }
        } else {
            handle = FileStream.standardOutput
        }
        let count = try WorkflowTransfer.export(from: workflowStore) { try handle.write($0) }
        if let temporary, let output {
            try handle.synchronize()
            try handle.close()
            if FileManager.default.fileExists(atPath: output) { try FileManager.default.removeItem(atPath: output) }
            try FileManager.default.moveItem(atPath: temporary, toPath: output)
        }
        let seconds = Date().timeIntervalSince(started)
        let line = JSONWriter.object { json in
            json.member("exported", Int64(count))
            json.member("seconds", double: (seconds * 1000).rounded() / 1000)
        }
        StandardStreams.write(line + [0x0A], to: 2)
    }
}

/// `bomflow import`: JSON Lines from `export`, or Hyades' WORKFLOW_STATE as CSV.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import workflows from `bomflow export` JSON Lines, or from Hyades' WORKFLOW_STATE table as CSV.",
        discussion: """
            Idempotent: a workflow stored identically already is counted as unchanged. A token that is \
            stored with different content is reported as a conflict and left as it is. A malformed line \
            (or, with --hyades, a malformed row) is reported with its line number on stderr, and nothing \
            of that workflow is written; the other workflows are imported. Writes go in transactions of \
            --batch workflows, durable per --sync. Exits 1 when anything was refused, after importing the \
            rest. Hyades CSV comes from: psql -c "\\copy \\"WORKFLOW_STATE\\" TO 'workflow_state.csv' CSV HEADER"; \
            or name Hyades' database itself: bomflow import --hyades postgres://USER@HOST/DATABASE
            """)

    @OptionGroup var store: StoreArguments

    @Argument(help: "The file to read; - reads stdin; with --hyades also a postgres:// URL of Hyades' database.")
    var file: String

    @Flag(help: "The file is Hyades' WORKFLOW_STATE table as CSV with a header, or Hyades' database.")
    var hyades = false

    @Option(help: "A file whose first line is the password of the Hyades database named by the URL.")
    var sourcePasswordFile: String?

    @Option(help: "Workflows per transaction (1 to 10000).")
    var batch = 1000

    func validate() throws {
        guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be 1 to 10000") }
    }

    func run() throws {
        let started = Date()
        let workflowStore = try store.openWorkflowStore(mustExist: false)
        var reported = 0
        var importer = WorkflowTransfer.Importer(into: workflowStore, batch: batch) { line, message in
            reported += 1
            if reported <= 1000 {
                StandardStreams.writeError("line \(line): \(message)\n")
            } else if reported == 1001 {
                StandardStreams.writeError("(more problems; only the first 1000 are listed)\n")
            }
        }
        if hyades, PostgresLocationText.isURL(file) {
            let csv = try Self.hyadesDatabase(file, passwordFile: sourcePasswordFile)
            let outcome = HyadesImport.read(csv)
            for problem in outcome.problems { importer.refuse(line: problem.line, problem.message) }
            for entry in outcome.workflows { try importer.add(entry.workflow, line: entry.line) }
            try importer.flush()
            let tally = importer.tally
            printJSON(tally.json(seconds: Date().timeIntervalSince(started)))
            if tally.conflicts + tally.invalid > 0 { throw ExitCode.failure }
            return
        }
        let input: FileStream
        if file == "-" {
            input = FileStream.standardInput
        } else {
            do { input = try FileStream.reading(file) } catch { throw CommandFailure("cannot read \(file): \(error)") }
        }
        if hyades {
            let outcome = HyadesImport.read(try input.readAll())
            for problem in outcome.problems { importer.refuse(line: problem.line, problem.message) }
            for entry in outcome.workflows { try importer.add(entry.workflow, line: entry.line) }
        } else {
            var lines = LineReader(input)
            while let (number, line) = try lines.next() {
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                let workflow: Workflow
                do { workflow = try WorkflowExchange.decode(line) } catch {
                    importer.refuse(line: number, error.description)
                    continue
                }
                try importer.add(workflow, line: number)
            }
        }
        try importer.flush()
        let tally = importer.tally
        printJSON(tally.json(seconds: Date().timeIntervalSince(started)))
        if tally.conflicts + tally.invalid > 0 { throw ExitCode.failure }
    }
}

extension Import {
    /// Hyades' `WORKFLOW_STATE` read from its database, as the CSV its dump would be.
    static func hyadesDatabase(_ url: String, passwordFile: String?) throws -> [UInt8] {
        #if PostgreSQL
            var location: PostgresLocation
            do { location = try PostgresLocation(url) } catch { throw ValidationError("\(url): \(error)") }
            if let passwordFile {
                guard let data = FileManager.default.contents(atPath: passwordFile) else {
                    throw ValidationError("--source-password-file: cannot read \(passwordFile)")
                }
                let text = String(decoding: data, as: UTF8.self)
                location.password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            }
            do { return try HyadesSource.csv(from: location) } catch {
                throw CommandFailure("cannot read WORKFLOW_STATE from \(location): \(error)")
            }
        #else
            throw ValidationError("reading a Hyades database needs the PostgreSQL backend, which this build lacks")
        #endif
    }
}

/// `postgres://` or `postgresql://`.
enum PostgresLocationText {
    static func isURL(_ text: String) -> Bool { text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") }
}

/// Lines of a file read in 1 MiB chunks, numbered from 1, without their newline.
struct LineReader {
    let handle: FileStream
    private var buffer: [UInt8] = []
    private var start = 0
    private var number = 0
    private var finished = false

    init(_ handle: FileStream) { self.handle = handle }

    mutating func next() throws -> (Int, [UInt8])? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                number += 1
                return (number, line)
            }
            if finished {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                number += 1
                return (number, line)
            }
            buffer.removeSubrange(0..<start)
            start = 0
            let chunk = try handle.read(upTo: 1 << 20)
            if chunk.isEmpty { finished = true } else { buffer.append(contentsOf: chunk) }
        }
    }
}
