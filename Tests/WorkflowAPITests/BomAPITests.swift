import Foundation
import HTTP1
import LMDBStore
import Storage
import TestSupport
import Testing
import WorkflowAPI
import WorkflowModel

/// Dependency-Track's upload and project endpoints through the service, and the raw multipart
/// cases of issue 12: each refusal has its status and leaves nothing stored.
struct BomAPITests {
    static let bom = #"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}"#
    static let xml = #"<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1"></bom>"#

    static func put(_ members: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: members, options: [.sortedKeys]), as: UTF8.self)
    }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// Nothing was stored: no workflow, no project, no BOM bytes.
    static func expectNothingStored(_ api: ServiceFixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let figures = try api.store.cheapFigures()
        #expect(
            try api.store.list(WorkflowQuery()).workflows.isEmpty && figures.projects == 0 && figures.bomBytes == 0,
            sourceLocation: sourceLocation)
        #expect(
            try api.sqlRowCounts() ?? "0|0|0|0" == "0|0|0|0", "rows in the database", sourceLocation: sourceLocation)
    }

    @Test func putUploadsPollsAndFetches() throws {
        let api = try ServiceFixture()
        let response = api.call(
            .put, "/api/v1/bom",
            Self.put([
                "bom": Self.base64(Self.bom), "projectName": " acme ", "projectVersion": "1.0", "autoCreate": true,
                "project": NSNull(), "projectTags": [["name": "ci"]],
            ]))
        #expect(response.status == .ok, "\(response.text)")
        let answer = try #require(api.json(response) as? [String: String])
        #expect(Set(answer.keys) == ["token", "projectUuid"])
        let token = try #require(answer["token"])
        #expect(api.call(.get, "/api/v1/event/token/\(token)").text == #"{"processing":true,"status":"PENDING"}"#)
        let fetched = api.call(.get, "/api/v1/workflow/token/\(token)/bom")
        #expect(fetched.status == .ok)
        #expect(fetched.text == Self.bom)
        #expect(fetched.headers["Content-Type"] == "application/vnd.cyclonedx+json")
        let project = try #require(
            api.json(api.call(.get, "/api/v1/project/\(answer["projectUuid"] ?? "")")) as? [String: Any])
        #expect(project["name"] as? String == "acme", "names are trimmed as Dependency-Track trims them")
        #expect(project["lastBomImportFormat"] as? String == "CycloneDX 1.5")
        #expect(project["lastBomImport"] as? Int64 != nil)
        #expect((project["tags"] as? [[String: String]]) == [["name": "ci"]])
        let lookup = api.call(.get, "/api/v1/project/lookup?name=acme&version=1.0")
        #expect(lookup.status == .ok)
        #expect(api.call(.get, "/api/v1/workflow/token/3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab/bom").status == .notFound)
    }

    /// Tokens the server makes (an upload's, a create's without one) are version-7 UUIDs of the
    /// store's clock (Token.timeOrdered): later ones sort after earlier ones.
    @Test func tokensTheServerMakesAreTimeOrdered() throws {
        let api = try ServiceFixture()
        let before = api.store.options.clock().milliseconds
        var tokens: [Token] = []
        for number in 0..<3 {
            let upload = api.call(
                .put, "/api/v1/bom",
                Self.put([
                    "bom": Self.base64(Self.bom), "projectName": "acme", "projectVersion": "\(number)",
                    "autoCreate": true,
                ]))
            #expect(upload.status == .ok, "\(upload.text)")
            let uploaded = try #require(api.json(upload) as? [String: String])
            tokens.append(try #require(Token(uploaded["token"] ?? "")))
            usleep(2_000)
            let created = api.call(.post, "/api/v1/workflow", #"{"template":"BOM_UPLOAD"}"#)
            #expect(created.status == .created, "\(created.text)")
            let workflow = try #require(api.json(created) as? [String: Any])
            tokens.append(try #require(Token(workflow["token"] as? String ?? "")))
            usleep(2_000)
        }
        let after = api.store.options.clock().milliseconds
        for token in tokens {
            #expect(Array(token.description)[14] == "7", "\(token)")
            #expect((before...after).contains(Int64(token.high >> 16)), "\(token)")
        }
        #expect(tokens == tokens.sorted())
        // A client's own token is kept as given.
        let own = "3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab"
        let created = api.call(.post, "/api/v1/workflow", #"{"token":"\#(own)","template":"BOM_UPLOAD"}"#)
        #expect((api.json(created) as? [String: Any])?["token"] as? String == own)
    }

    @Test func postMultipartAsClientsSendIt() throws {
        let api = try ServiceFixture()
        let parts = [
            Multipart.Part(name: "autoCreate", contentType: "text/plain", body: Array("True".utf8)),
            Multipart.Part(name: "projectName", body: Array("acme".utf8)),
            Multipart.Part(name: "projectVersion", body: Array("2".utf8)),
            Multipart.Part(name: "isLatest", body: Array("TRUE".utf8)),
            Multipart.Part(name: "projectTags", body: Array("a, b,,c".utf8)),
            Multipart.Part(
                name: "bom", filename: "bom.xml", contentType: "application/xml", body: Array(Self.xml.utf8)),
        ]
        let response = api.call(
            .post, "/api/v1/bom", bytes: Multipart.serialize(parts, boundary: "+++"),
            headers: [("Content-Type", "multipart/form-data; boundary=+++")])
        #expect(response.status == .ok, "\(response.text)")
        let token = try #require((api.json(response) as? [String: String])?["token"])
        let fetched = api.call(.get, "/api/v1/workflow/token/\(token)/bom")
        #expect(fetched.text == Self.xml)
        #expect(fetched.headers["Content-Type"] == "application/vnd.cyclonedx+xml")
        let project = try #require(
            api.json(api.call(.get, "/api/v1/project/lookup?name=acme&version=2")) as? [String: Any])
        #expect(project["isLatest"] as? Bool == true)
        #expect((project["tags"] as? [[String: String]])?.map { $0["name"] ?? "" } == ["a", "b", "c"])
        #expect(project["lastBomImportFormat"] as? String == "CycloneDX 1.4")
    }

    /// The raw cases: each refused with its status and a message, nothing stored.
    @Test(arguments: [
        ("no bom", Self.put(["projectName": "a", "autoCreate": true]), 400, "bom is required"),
        ("bad base64", Self.put(["bom": "not base64!", "projectName": "a", "autoCreate": true]), 400, "base64"),
        (
            "not CycloneDX",
            Self.put(["bom": Self.base64("SPDXVersion: 2.3"), "projectName": "a", "autoCreate": true]), 400, "neither"
        ),
        (
            "SPDX JSON",
            Self.put(["bom": Self.base64(#"{"spdxVersion":"SPDX-2.3"}"#), "projectName": "a", "autoCreate": true]), 400,
            "not CycloneDX"
        ),
        ("no project", Self.put(["bom": Self.base64(Self.bom)]), 400, "projectName"),
        (
            "empty project", Self.put(["bom": Self.base64(Self.bom), "project": "", "projectName": ""]), 400,
            "projectName"
        ),
        ("bad project uuid", Self.put(["bom": Self.base64(Self.bom), "project": "nope"]), 400, "not a UUID"),
        (
            "unknown project", Self.put(["bom": Self.base64(Self.bom), "projectName": "a", "projectVersion": "1"]), 404,
            "The project could not be found."
        ),
        (
            "unknown uuid",
            Self.put([
                "bom": Self.base64(Self.bom), "project": "3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab", "autoCreate": true,
            ]), 404, "The project could not be found."
        ),
        (
            "unknown parent",
            Self.put(["bom": Self.base64(Self.bom), "projectName": "a", "autoCreate": true, "parentName": "p"]), 404,
            "The parent component could not be found."
        ),
        (
            "bad boolean", Self.put(["bom": Self.base64(Self.bom), "projectName": "a", "autoCreate": "yes"]), 400,
            "true or false"
        ),
        (
            "unknown member", Self.put(["bom": Self.base64(Self.bom), "projectName": "a", "autoCreat": true]), 400,
            "autoCreat"
        ),
        ("not JSON", "bom=abc", 400, "not valid JSON"),
    ])
    func putRefusals(_ what: String, body: String, status: Int, message: String) throws {
        let api = try ServiceFixture()
        let response = api.call(.put, "/api/v1/bom", body)
        #expect(response.status.code == status, "\(what): \(response.text)")
        #expect(response.text.contains(message), "\(what): \(response.text)")
        #expect(response.headers["Content-Type"] == "text/plain; charset=utf-8", "\(what)")
        try Self.expectNothingStored(api)
    }

    static func multipart(_ parts: [(String, String)]) -> [UInt8] {
        Multipart.serialize(parts.map { Multipart.Part(name: $0.0, body: Array($0.1.utf8)) }, boundary: "xyz")
    }

    @Test(arguments: [
        ("no boundary", "multipart/form-data", Self.multipart([("bom", BomAPITests.bom)]), 400, "boundary"),
        (
            "json content type", "application/json", Self.multipart([("bom", BomAPITests.bom)]), 400,
            "multipart/form-data"
        ),
        (
            "missing bom part", "multipart/form-data; boundary=xyz",
            Self.multipart([("projectName", "a"), ("autoCreate", "true")]), 400, "bom field is required"
        ),
        (
            "duplicate field", "multipart/form-data; boundary=xyz",
            Self.multipart([
                ("bom", BomAPITests.bom), ("projectName", "a"), ("projectName", "b"), ("autoCreate", "true"),
            ]), 400, "more than once"
        ),
        (
            "unknown field", "multipart/form-data; boundary=xyz",
            Self.multipart([("bom", BomAPITests.bom), ("projectNam", "a")]), 400, "Unknown form field"
        ),
        (
            "bad boolean", "multipart/form-data; boundary=xyz",
            Self.multipart([("bom", BomAPITests.bom), ("projectName", "a"), ("autoCreate", "1")]), 400, "true or false"
        ),
        (
            "truncated", "multipart/form-data; boundary=xyz",
            Array(Self.multipart([("bom", BomAPITests.bom), ("projectName", "a")]).dropLast(12)), 400, "truncated"
        ),
        (
            "wrong boundary", "multipart/form-data; boundary=abc", Self.multipart([("bom", BomAPITests.bom)]), 400,
            "does not contain its boundary"
        ),
        (
            "unknown project", "multipart/form-data; boundary=xyz",
            Self.multipart([("bom", BomAPITests.bom), ("projectName", "a")]), 404, "The project could not be found."
        ),
    ])
    func postRefusals(_ what: String, contentType: String, body: [UInt8], status: Int, message: String) throws {
        let api = try ServiceFixture()
        let response = api.call(.post, "/api/v1/bom", bytes: body, headers: [("Content-Type", contentType)])
        #expect(response.status.code == status, "\(what): \(response.text)")
        #expect(response.text.contains(message), "\(what): \(response.text)")
        #expect(response.headers["Content-Type"] == "text/plain; charset=utf-8", "\(what)")
        try Self.expectNothingStored(api)
    }

    @Test func aBOMOverTheLimitIs413() throws {
        let api = try ServiceFixture(maxBomBytes: 1024)
        let big = #"{"bomFormat":"CycloneDX","x":""# + String(repeating: "a", count: 1100) + #""}"#
        let put = api.call(
            .put, "/api/v1/bom", Self.put(["bom": Self.base64(big), "projectName": "a", "autoCreate": true]))
        #expect(put.status == .contentTooLarge, "\(put.text)")
        let post = api.call(
            .post, "/api/v1/bom", bytes: Self.multipart([("bom", big), ("projectName", "a"), ("autoCreate", "true")]),
            headers: [("Content-Type", "multipart/form-data; boundary=xyz")])
        #expect(post.status == .contentTooLarge, "\(post.text)")
        try Self.expectNothingStored(api)
        let limits = WorkflowService.bomBodyLimits(maxBomBytes: 1024)
        #expect(limits.map(\.path) == ["/api/v1/bom", "/api/v1/bom"])
        #expect(limits[0].bytes >= 1024 / 3 * 4 && limits[1].bytes >= 1024)
    }

    @Test func projectsCreateListLookupDelete() throws {
        let api = try ServiceFixture()
        let created = api.call(
            .put, "/api/v1/project",
            #"{"name":"acme","version":"1","tags":[{"name":"x"}],"classifier":"APPLICATION","isLatest":true}"#)
        #expect(created.status == .created, "\(created.text)")
        let parent = try #require((api.json(created) as? [String: Any])?["uuid"] as? String)
        let child = api.call(.put, "/api/v1/project", #"{"name":"acme","version":"2","parent":{"uuid":"\#(parent)"}}"#)
        #expect(child.status == .created, "\(child.text)")
        let childJSON = try #require(api.json(child) as? [String: Any])
        #expect((childJSON["parent"] as? [String: String])?["name"] == "acme")
        #expect(childJSON["lastBomImport"] == nil, "null fields are omitted")
        let again = api.call(.put, "/api/v1/project", #"{"name":"acme","version":"1"}"#)
        #expect(again.status == .conflict)
        #expect(api.call(.put, "/api/v1/project", #"{"name":"acme","colour":"red"}"#).status == .badRequest)
        #expect(api.call(.put, "/api/v1/project", #"{"version":"1"}"#).status == .badRequest)
        #expect(
            api.call(.put, "/api/v1/project", #"{"name":"b","parent":{"uuid":"3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab"}}"#)
                .status == .notFound)
        let page = api.call(.get, "/api/v1/project?name=acme&pageNumber=2&pageSize=1")
        #expect(page.headers["X-Total-Count"] == "2")
        #expect((api.json(page) as? [[String: Any]])?.map { $0["version"] as? String } == ["2"])
        #expect(api.call(.get, "/api/v1/project?limit=0").status == .badRequest)
        #expect(api.call(.get, "/api/v1/project?sortName=name").status == .badRequest)
        #expect(api.call(.get, "/api/v1/project/lookup?name=acme&version=9").status == .notFound)
        #expect(api.call(.get, "/api/v1/project/lookup?version=9").status == .badRequest)
        let literal = api.call(.delete, "/api/v1/project/lookup")
        #expect(literal.status == .methodNotAllowed, "a literal segment is never a {uuid}: \(literal.text)")
        #expect(literal.headers["Allow"]?.contains("GET") == true)
        let bad = api.call(.get, "/api/v1/project/nope")
        #expect(bad.status == .badRequest && bad.text.contains("getProject.uuid"))
        #expect(api.call(.delete, "/api/v1/project/\(parent)").status == .noContent)
        #expect(api.call(.delete, "/api/v1/project/\(parent)").status == .notFound)
        #expect(api.call(.get, "/api/v1/project/\(parent)").text == "The project could not be found.")
        #expect(try api.integrityProblems() == [])
    }

    @Test func createWithAConcurrencyKey() throws {
        let api = try ServiceFixture()
        let first = api.call(.post, "/api/v1/workflow", #"{"template":"PROJECT_CLONE","concurrencyKey":"p"}"#)
        #expect(first.status == .created)
        #expect((api.json(first) as? [String: Any])?["held"] as? Bool == false)
        let second = api.call(.post, "/api/v1/workflow", #"{"template":"PROJECT_CLONE","concurrencyKey":"p"}"#)
        #expect((api.json(second) as? [String: Any])?["held"] as? Bool == true)
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"template":"PROJECT_CLONE","concurrencyKey":""}"#).status
                == .badRequest)
    }
}
