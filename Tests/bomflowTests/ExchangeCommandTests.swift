import Foundation
import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowModel

/// `bomflow export` and `bomflow import` (JSON Lines and Hyades CSV) as real processes.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ExchangeCommandTests {
    /// `bomflow` with `arguments`: standard output and standard error apart.
    func run(_ arguments: [String]) throws -> ProgramRun {
        try ProgramRun.product("bomflow", arguments, standardError: .captured)
    }

    func fixture(_ name: String) -> String {
        RepositoryPaths.root.appendingPathComponent("fixtures/exchange/" + name).path
    }

    func summary(_ run: ProgramRun) throws -> [String: Int] {
        let line = try #require(run.output.split(separator: "\n").last)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return object.filter { $0.key != "seconds" }.compactMapValues { $0 as? Int }
    }

    func reportedLines(_ run: ProgramRun) -> [Int] {
        run.errorOutput.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("line ") else { return nil }
            return Int(line.dropFirst(5).prefix { $0.isNumber })
        }
    }

    @Test func importsTheFixtureReportsEachBadLineAndIsIdempotent() throws {
        let directory = try TemporaryDirectory("import")
        defer { directory.remove() }
        let data = directory.appending("data")
        let first = try run(["import", fixture("workflows.jsonl"), "--data-dir", data])
        #expect(first.status == 1, "refused lines make the exit status 1")
        #expect(try summary(first) == ["imported": 3, "unchanged": 1, "conflicts": 1, "invalid": 7])
        #expect(reportedLines(first).sorted() == [4, 5, 6, 7, 8, 9, 10, 13])
        #expect(
            first.errorOutput.contains(
                "line 10: token 11111111-0000-4000-8000-000000000001 is stored with different content"))

        // The three valid workflows come back out exactly as they went in, oldest first.
        let export = try run(["export", "--data-dir", data])
        #expect(export.status == 0)
        let original = try String(contentsOfFile: fixture("workflows.jsonl"), encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        #expect(export.output == [original[0], original[1], original[11]].joined(separator: "\n") + "\n")
        #expect(export.errorOutput.contains(#""exported":3"#))

        let again = try run(["import", fixture("workflows.jsonl"), "--data-dir", data])
        #expect(try summary(again)["imported"] == 0)
        #expect(try summary(again)["unchanged"] == 4)
        let store = try LMDBStore(path: data)
        #expect(try store.cheapFigures().workflows == 3)
        #expect(try store.verifyIntegrity().isEmpty)
    }

    @Test func importsHyadesRowsAndRefusesWholeWorkflowsOnly() throws {
        let directory = try TemporaryDirectory("import-hyades")
        defer { directory.remove() }
        let data = directory.appending("data")
        let imported = try run(["import", "--hyades", fixture("hyades_workflow_state.csv"), "--data-dir", data])
        #expect(imported.status == 1)
        #expect(try summary(imported)["imported"] == 4)
        #expect(try summary(imported)["invalid"] == 5)
        #expect(reportedLines(imported) == [12, 15, 16, 17, 19])
        let store = try LMDBStore(path: data)
        for number in [4, 5, 6, 8] {
            let token = try #require(Token("aaaaaaaa-0000-4000-8000-00000000000\(number)"))
            #expect(try store.workflow(token) == nil, "nothing partial of a refused workflow")
        }
        let status = try run(["status", "aaaaaaaa-0000-4000-8000-000000000002", "--data-dir", data])
        #expect(status.output.contains(#""failureReason":"Failed to parse BOM: \"bomFormat\" missing,\nat line 2""#))
        #expect(status.output.contains(#""status":"CANCELLED""#))
        let poll = try run(["status", "aaaaaaaa-0000-4000-8000-000000000001", "--data-dir", data])
        #expect(poll.output.contains(#""startedAt":1795860000123"#))
        #expect(
            try summary(try run(["import", "--hyades", fixture("hyades_workflow_state.csv"), "--data-dir", data]))[
                "unchanged"] == 4)
    }

    /// Thousands of workflows in every state: export → import into an empty directory →
    /// export gives the same bytes; the imported store passes the integrity check.
    @Test func exportImportExportIsTheIdentity() throws {
        let directory = try TemporaryDirectory("roundtrip")
        defer { directory.remove() }
        let source = directory.appending("source")
        try fill(source, workflows: 3_000)
        let first = directory.appending("first.jsonl")
        #expect(try run(["export", "--data-dir", source, "--output", first]).status == 0)
        let copy = directory.appending("copy")
        let imported = try run(["import", first, "--data-dir", copy, "--sync", "none", "--batch", "500"])
        #expect(imported.status == 0, "\(imported.errorOutput)")
        #expect(try summary(imported)["imported"] == 3_000)
        let second = directory.appending("second.jsonl")
        #expect(try run(["export", "--data-dir", copy, "--output", second]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: first)) == Data(contentsOf: URL(fileURLWithPath: second)))
        let attributes = try FileManager.default.attributesOfItem(atPath: first)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try LMDBStore(path: copy).verifyIntegrity().isEmpty)
    }

    #if PostgreSQL
        /// The data moves between the backends both ways: LMDB → PostgreSQL → LMDB exports the
        /// same bytes, and Hyades' CSV imports into PostgreSQL as into LMDB.
        @Test func exportsMoveBetweenLMDBAndPostgreSQL() throws {
            let directory = try TemporaryDirectory("backends")
            defer { directory.remove() }
            let server = try PostgresTestServer.shared()
            let database = try server.makeDatabase()
            defer { server.dropDatabase(database) }
            let source = directory.appending("source")
            try fill(source, workflows: 600)
            let first = directory.appending("first.jsonl")
            #expect(try run(["export", "--data-dir", source, "--output", first]).status == 0)
            let imported = try run(["import", first, "--store", database, "--batch", "200"])
            #expect(imported.status == 0, "\(imported.errorOutput)")
            #expect(try summary(imported)["imported"] == 600)
            #expect(try server.psql(#"SELECT count(*) FROM "WORKFLOW_STATE""#, database: Self.name(database)) != "0\n")
            let fromPostgres = directory.appending("postgres.jsonl")
            #expect(try run(["export", "--store", database, "--output", fromPostgres]).status == 0)
            #expect(
                try Data(contentsOf: URL(fileURLWithPath: first))
                    == Data(contentsOf: URL(fileURLWithPath: fromPostgres)))
            let back = directory.appending("back")
            #expect(try run(["import", fromPostgres, "--data-dir", back, "--sync", "none"]).status == 0)
            let last = directory.appending("last.jsonl")
            #expect(try run(["export", "--data-dir", back, "--output", last]).status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: first)) == Data(contentsOf: URL(fileURLWithPath: last)))
            // A second import changes nothing; Hyades' rows arrive as on LMDB.
            #expect(try summary(try run(["import", first, "--store", database]))["unchanged"] == 600)
            let hyades = try run(["import", "--hyades", fixture("hyades_workflow_state.csv"), "--store", database])
            #expect(try summary(hyades)["imported"] == 4, "\(hyades.errorOutput)")
        }

        /// `bomflow import --hyades postgres://…` reads Hyades' own database: its rows (with a
        /// reason that needs CSV quoting) arrive as from its CSV dump.
        @Test func importsStraightFromAHyadesDatabase() throws {
            let directory = try TemporaryDirectory("hyades-db")
            defer { directory.remove() }
            let server = try PostgresTestServer.shared()
            let hyades = try server.makeDatabase()
            defer { server.dropDatabase(hyades) }
            try server.psql(
                """
                CREATE TABLE "WORKFLOW_STATE" ("ID" BIGINT PRIMARY KEY, "FAILURE_REASON" TEXT, "PARENT_STEP_ID" BIGINT,
                  "STARTED_AT" TIMESTAMPTZ, "STATUS" VARCHAR(64) NOT NULL, "STEP" VARCHAR(64) NOT NULL,
                  "TOKEN" UUID NOT NULL, "UPDATED_AT" TIMESTAMPTZ NOT NULL, UNIQUE ("TOKEN", "STEP"));
                INSERT INTO "WORKFLOW_STATE" VALUES
                  (1, NULL, NULL, '2026-11-28 10:00:00.123+00', 'COMPLETED', 'BOM_CONSUMPTION',
                   'bbbbbbbb-0000-4000-8000-000000000001', '2026-11-28 10:00:01.5+00'),
                  (2, 'parse error, "line 3"', 1, NULL, 'FAILED', 'BOM_PROCESSING',
                   'bbbbbbbb-0000-4000-8000-000000000001', '2026-11-28 10:00:02+00'),
                  (3, NULL, 2, NULL, 'CANCELLED', 'VULN_ANALYSIS', 'bbbbbbbb-0000-4000-8000-000000000001',
                   '2026-11-28 10:00:02+00'),
                  (4, NULL, NULL, NULL, 'PENDING', 'BOM_CONSUMPTION', 'bbbbbbbb-0000-4000-8000-000000000002',
                   '2026-11-28 11:00:00+01');
                """, database: Self.name(hyades))
            let data = directory.appending("data")
            let imported = try run(["import", "--hyades", hyades, "--data-dir", data, "--sync", "none"])
            #expect(imported.status == 0, "\(imported.errorOutput)")
            #expect(try summary(imported)["imported"] == 2)
            let status = try run(["status", "bbbbbbbb-0000-4000-8000-000000000001", "--data-dir", data])
            #expect(status.output.contains(#""failureReason":"parse error, \"line 3\"""#), "\(status.output)")
            #expect(status.output.contains(#""startedAt":1795860000123"#))
            #expect(try summary(try run(["import", "--hyades", hyades, "--data-dir", data]))["unchanged"] == 2)
        }

        static func name(_ url: String) -> String {
            String(URLComponents(string: url)?.path.dropFirst() ?? "")
        }
    #endif

    /// Writes `workflows` workflows in every state into a new LMDB store at `path`.
    func fill(_ path: String, workflows count: Int) throws {
        var options = StoreOptions()
        options.durability = .none
        do {
            let store = try LMDBStore(path: path, options: options)
            var operations: [WriteOperation] = []
            for number in 0..<count {
                let token = Token.make(UInt64(number))
                operations.append(
                    .create(
                        token: token,
                        definition: WorkflowDefinition(template: number % 3 == 0 ? .reanalysis : .bomUpload),
                        labels: try Labels(["n": String(number % 7)]), createdBy: number % 2 == 0 ? "ci" : nil))
                switch number % 4 {
                case 0: operations.append(.update(token: token, step: .vulnAnalysis, command: .start))
                case 1:
                    operations.append(
                        .update(
                            token: token, step: .bomConsumption,
                            command: .setStatus(.failed, failureReason: "bad #\(number)")))
                case 2:
                    operations.append(
                        .update(
                            token: token, step: .bomConsumption,
                            command: .progress(ProgressUpdate(expected: 10, addCompleted: Int64(number % 10)))))
                default:
                    operations.append(
                        .update(
                            token: token, step: .bomConsumption, command: .setStatus(.completed, failureReason: nil)))
                }
            }
            _ = try store.perform(operations)
        }
    }
}
