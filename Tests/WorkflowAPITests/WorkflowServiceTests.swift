import Foundation
import HTTP1
import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowAPI
import WorkflowModel

#if PostgreSQL
    import PostgresStore
#endif

/// The API without sockets: requests go straight into the service, responses come back through
/// the closure (after the writer thread's commit for writes).
final class ServiceFixture {
    let directory: TemporaryDirectory
    let store: any WorkflowStorage
    let writer: WriteQueue
    let service: WorkflowService

    init(
        authenticated: Bool = false, maxBomBytes: Int = WorkflowService.defaultMaxBomBytes, secureCookies: Bool = false
    ) throws {
        directory = try TemporaryDirectory("api")
        var options = StoreOptions()
        options.durability = .none
        options.mapSize = 64 << 20
        store = try Self.openStore(directory: directory, options: options)
        writer = WriteQueue(store: store)
        service = WorkflowService(
            store: store, writer: writer, version: "test",
            authenticator: authenticated ? Authenticator(store: store) : nil, maxBomBytes: maxBomBytes,
            secureCookies: secureCookies)
    }

    deinit {
        writer.stop()
        #if PostgreSQL
            (store as? PostgresStore)?.close()
        #endif
        directory.remove()
    }

    /// On PostgreSQL, the rows of `WORKFLOW_STATE`, workflows, projects and BOMs counted by SQL
    /// (`a|b|c|d`), so that "changed nothing" is checked in the database itself; nil on LMDB.
    func sqlRowCounts() throws -> String? {
        guard TestBackend.current == .postgres else { return nil }
        let url = try TestBackend.databaseURL(for: directory.path)
        let database = String(URLComponents(string: url)?.path.dropFirst() ?? "")
        return try PostgresTestServer.shared().psql(
            """
            SELECT (SELECT count(*) FROM "WORKFLOW_STATE") || '|' || (SELECT count(*) FROM bomflow_workflow) || '|'
                || (SELECT count(*) FROM bomflow_project) || '|' || (SELECT count(*) FROM bomflow_bom)
            """, database: database
        ).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What the backend's consistency check finds (empty when all is well).
    func integrityProblems() throws -> [String] {
        if let lmdb = store as? LMDBStore { return try lmdb.verifyIntegrity() }
        #if PostgreSQL
            if let postgres = store as? PostgresStore { return try postgres.verifyIntegrity() }
        #endif
        return ["no integrity check"]
    }

    /// LMDB in `directory`, or a fresh PostgreSQL database when `BOMFLOW_TEST_BACKEND=postgres`.
    static func openStore(directory: TemporaryDirectory, options: StoreOptions) throws -> any WorkflowStorage {
        guard TestBackend.current == .postgres else { return try LMDBStore(path: directory.path, options: options) }
        #if PostgreSQL
            var configuration = PostgresStore.Configuration()
            configuration.poolSize = 4
            return try PostgresStore(
                location: try PostgresLocation(try TestBackend.databaseURL(for: directory.path)), options: options,
                configuration: configuration)
        #else
            throw StoreError.failed("BOMFLOW_TEST_BACKEND=postgres, but this build has no PostgreSQL backend")
        #endif
    }

    func call(_ method: HTTPMethod, _ target: String, _ body: String = "", headers: [(String, String)] = [])
        -> HTTPResponse
    {
        call(method, target, bytes: Array(body.utf8), headers: headers)
    }

    func call(_ method: HTTPMethod, _ target: String, bytes: [UInt8], headers: [(String, String)] = []) -> HTTPResponse
    {
        let request = HTTPRequest(method: method, target: target, headers: HTTPHeaders(headers), body: bytes)
        let done = DispatchSemaphore(value: 0)
        let box = ResponseBox()
        service.handle(request) { response in
            box.response = response
            done.signal()
        }
        _ = done.wait(timeout: .now() + 10)
        return box.response ?? HTTPResponse(status: HTTPStatus(code: 599, reason: "no response"))
    }

    func json(_ response: HTTPResponse) -> Any? { try? JSONSerialization.jsonObject(with: Data(response.body)) }
}

final class ResponseBox: @unchecked Sendable {
    var response: HTTPResponse?
}

extension HTTPResponse {
    var text: String { String(decoding: body, as: UTF8.self) }
}

struct DependencyTrackEndpointTests {
    let token = "3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab"

    @Test func unknownTokenIsNotProcessing() throws {
        let api = try ServiceFixture()
        for path in ["/api/v1/event/token/", "/api/v1/bom/token/"] {
            let response = api.call(.get, path + token)
            #expect(response.status == .ok)
            #expect(response.text == #"{"processing":false}"#)
            #expect(response.headers["Content-Type"] == "application/json")
        }
    }

    @Test func malformedUUIDGetsDependencyTracksBody() throws {
        let api = try ServiceFixture()
        let response = api.call(.get, "/api/v1/event/token/not-a-uuid")
        #expect(response.status == .badRequest)
        #expect(
            response.text
                == #"[{"message":"Invalid UUID","messageTemplate":"Invalid UUID","path":"isTokenBeingProcessed.uuid","invalidValue":"not-a-uuid"}]"#
        )
    }

    @Test func statusOfAnUnknownTokenIs404PlainText() throws {
        let api = try ServiceFixture()
        let response = api.call(.get, "/api/v1/workflow/token/\(token)/status")
        #expect(response.status == .notFound)
        #expect(response.text == "Provided token \(token) does not exist.")
    }

    @Test func bomUploadLifecycle() throws {
        let api = try ServiceFixture()
        let created = api.call(
            .post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD","labels":{"project":"acme"}}"#)
        #expect(created.status == .created, "\(created.text)")
        #expect(api.call(.get, "/api/v1/event/token/\(token)").text == #"{"processing":true,"status":"PENDING"}"#)
        let again = api.call(
            .post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD","labels":{"project":"acme"}}"#)
        #expect(again.status == .ok, "the same definition again is idempotent")
        let different = api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"REANALYSIS"}"#)
        #expect(different.status == .conflict)
        for step in ["BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE"] {
            let started = api.call(.patch, "/api/v1/workflow/token/\(token)/step/\(step)", #"{"started":true}"#)
            #expect(started.status == .ok, "\(started.text)")
            #expect(api.call(.get, "/api/v1/event/token/\(token)").text == #"{"processing":true,"status":"RUNNING"}"#)
            let done = api.call(.patch, "/api/v1/workflow/token/\(token)/step/\(step)", #"{"status":"COMPLETED"}"#)
            #expect(done.status == .ok, "\(done.text)")
        }
        #expect(api.call(.get, "/api/v1/bom/token/\(token)").text == #"{"processing":false,"status":"COMPLETED"}"#)
        let status = api.call(.get, "/api/v1/workflow/token/\(token)/status")
        let array = try #require(api.json(status) as? [[String: Any]])
        #expect(
            array.map { $0["step"] as? String } == [
                "BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE",
            ])
        #expect(
            array.allSatisfy {
                $0["status"] as? String == "COMPLETED" && $0["startedAt"] is NSNumber && $0["failureReason"] == nil
            })
    }

    @Test func failureCascadesAndTransitionsAreChecked() throws {
        let api = try ServiceFixture()
        _ = api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#)
        let failed = api.call(
            .patch, "/api/v1/workflow/token/\(token)/step/BOM_CONSUMPTION",
            #"{"status":"FAILED","failureReason":"Unparseable BOM"}"#)
        #expect(failed.status == .ok)
        let steps = try #require((api.json(failed) as? [String: Any])?["steps"] as? [[String: Any]])
        #expect(steps.dropFirst().allSatisfy { $0["status"] as? String == "CANCELLED" })
        let invalid = api.call(
            .patch, "/api/v1/workflow/token/\(token)/step/BOM_CONSUMPTION", #"{"status":"COMPLETED"}"#)
        #expect(invalid.status == .conflict)
        #expect(invalid.headers["Content-Type"] == "application/problem+json")
        #expect(invalid.text.contains("invalid-transition"))
        let noReason = api.call(.post, "/api/v1/workflow", #"{"steps":[{"step":"A"}]}"#)
        #expect(noReason.status == .created)
    }

    @Test(arguments: [
        ("/api/v1/workflow", #"{"template":"BOM_UPLOAD","tempalte":"x"}"#, 400),
        ("/api/v1/workflow", #"{"template":"NOPE"}"#, 400),
        ("/api/v1/workflow", #"{"steps":[{"step":"lower"}]}"#, 400),
        ("/api/v1/workflow", #"{"token":"abc","template":"BOM_UPLOAD"}"#, 400),
        ("/api/v1/workflow", #"[1,2]"#, 400),
        ("/api/v1/workflow", "{", 400),
        ("/api/v1/workflow", "", 400),
        ("/api/v1/workflow", #"{"template":"BOM_UPLOAD","labels":{"k":1}}"#, 400),
        ("/api/v1/workflow", #"{"template":true}"#, 400),
    ])
    func badInputIsRefusedAndChangesNothing(path: String, body: String, status: Int) throws {
        let api = try ServiceFixture()
        let response = api.call(.post, path, body)
        #expect(response.status.code == status, "\(response.text)")
        #expect(try api.store.list(WorkflowQuery()).workflows.isEmpty)
        #expect(try api.sqlRowCounts() ?? "0|0|0|0" == "0|0|0|0", "rows in the database")
    }

    @Test func methodNotAllowedAndNotFound() throws {
        let api = try ServiceFixture()
        let wrong = api.call(.put, "/api/v1/workflow")
        #expect(wrong.status == .methodNotAllowed)
        #expect(wrong.headers["Allow"]?.contains("POST") == true)
        #expect(api.call(.get, "/api/v2/nothing").status == .notFound)
        #expect(api.call(.get, "/api/version").text == #"{"application":"bomflow","version":"test"}"#)
    }

    @Test func percentEncodedSegmentsMatchLikeTheirDecodedForm() throws {
        let api = try ServiceFixture()
        let token = "3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab"
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#).status == .created)
        // An encoded literal ("%65" is "e") and an encoded parameter reach the same route.
        let encoded = api.call(.get, "/api/v1/%65vent/token/3d0d3c5e%2D7d4b-4a5e-9c1f-0123456789ab")
        #expect(encoded.text == #"{"processing":true,"status":"PENDING"}"#)
        #expect(api.call(.get, "/api/v1/%65vent/token/%ZZ").status == .badRequest)
        #expect(api.call(.get, "/api/v1/%66vent/token/\(token)").status == .notFound)
        #expect(api.call(.get, "/api//v1/event/token/\(token)?x=1").text == #"{"processing":true,"status":"PENDING"}"#)
    }

    @Test func batchReportsPerItem() throws {
        let api = try ServiceFixture()
        _ = api.call(.post, "/api/v1/workflow", #"{"token":"\#(token)","template":"REANALYSIS"}"#)
        let response = api.call(
            .post, "/api/v1/workflow/steps",
            #"""
            {"updates":[{"token":"\#(token)","step":"VULN_ANALYSIS","status":"COMPLETED"},
                        {"token":"\#(token)","step":"NOPE","status":"COMPLETED"},
                        {"token":"\#(token)","step":"POLICY_EVALUATION","started":true}]}
            """#)
        #expect(response.status == .ok)
        let results = try #require((api.json(response) as? [String: Any])?["results"] as? [[String: Any]])
        #expect(results.map { $0["status"] as? Int } == [200, 404, 200])
    }

    @Test func listAndDelete() throws {
        let api = try ServiceFixture()
        _ = api.call(
            .post, "/api/v1/workflow", #"{"token":"\#(token)","template":"PROJECT_CLONE","labels":{"team":"a b"}}"#)
        let list = api.call(.get, "/api/v1/workflow?label=team:a+b&state=processing&limit=5")
        #expect(list.status == .ok)
        #expect(list.text.contains(token))
        #expect(api.call(.get, "/api/v1/workflow?bogus=1").status == .badRequest)
        #expect(api.call(.delete, "/api/v1/workflow/token/\(token)").status == .noContent)
        #expect(api.call(.get, "/api/v1/workflow/token/\(token)").status == .notFound)
    }
}
