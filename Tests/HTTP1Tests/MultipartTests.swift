import HTTP1
import Testing

/// multipart/form-data as real clients send it, and what is refused (issue 12's raw cases).
struct MultipartTests {
    static func body(_ text: String) -> [UInt8] { Array(text.replacing("\n", with: "\r\n").utf8) }

    @Test(arguments: [
        ("multipart/form-data; boundary=+++", "+++"),
        ("multipart/form-data;boundary=\"a b:c\"", "a b:c"),
        ("Multipart/Form-Data; charset=utf-8; BOUNDARY=----WebKitFormBoundaryX", "----WebKitFormBoundaryX"),
    ])
    func boundariesRealClientsSend(contentType: String, expected: String) {
        #expect(Multipart.boundary(contentType: contentType) == expected)
    }

    @Test(arguments: [
        "application/json", "multipart/form-data", "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\(String(repeating: "x", count: 71))", "multipart/form-data; boundary=a\u{1}b",
        "multipart/form-data; boundary=\"ends with space \"", "multipart/mixed; boundary=abc",
    ])
    func malformedContentTypesHaveNoBoundary(contentType: String) {
        #expect(Multipart.boundary(contentType: contentType) == nil)
    }

    /// What the generated Dependency-Track client sends: boundary `+++`, text parts without
    /// filename but with their own Content-Type, the BOM as a file part.
    @Test func dependencyTrackClientBody() throws {
        let parts = try Multipart.parse(
            Self.body(
                """
                --+++
                Content-Disposition: form-data; name="autoCreate"
                Content-Type: text/plain

                True
                --+++
                Content-Disposition: form-data; name="bom"; filename="bom.json"
                Content-Type: application/json

                {"bomFormat":"CycloneDX"}
                --+++
                Content-Disposition: form-data; name=projectName

                acme
                --+++--

                """), boundary: "+++")
        #expect(parts.map(\.name) == ["autoCreate", "bom", "projectName"])
        #expect(parts[0].contentType == "text/plain")
        #expect(parts[0].body == Array("True".utf8))
        #expect(parts[1].filename == "bom.json")
        #expect(parts[1].body == Array(#"{"bomFormat":"CycloneDX"}"#.utf8))
        #expect(parts[2].filename == nil && parts[2].contentType == nil)
    }

    @Test func preambleEpilogueTransportPaddingAndEscapes() throws {
        let parts = try Multipart.parse(
            Self.body(
                """
                This is the preamble.
                --b \t
                content-disposition: form-data; name="f"; filename="a \\"quoted\\" \\\\ name"

                line one
                line two
                --b--
                epilogue
                """), boundary: "b")
        #expect(parts.count == 1)
        #expect(parts[0].filename == #"a "quoted" \ name"#)
        #expect(parts[0].body == Self.body("line one\nline two"))
    }

    @Test func emptyBodyPartAndNoParts() throws {
        #expect(try Multipart.parse(Self.body("--b--\n"), boundary: "b").isEmpty)
        let parts = try Multipart.parse(
            Self.body("--b\nContent-Disposition: form-data; name=\"empty\"\n\n\n--b--"), boundary: "b")
        #expect(parts == [Multipart.Part(name: "empty", body: [])])
    }

    @Test(arguments: [
        ("no boundary at all", "just text", "does not contain its boundary"),
        (
            "truncated inside a part", "--b\nContent-Disposition: form-data; name=\"bom\"\n\n{\"bomFormat\":",
            "truncated"
        ),
        ("truncated in headers", "--b\nContent-Disposition: form-data; name=\"bom\"", "truncated"),
        ("no closing delimiter", "--b\nContent-Disposition: form-data; name=\"a\"\n\nx\n--b", "truncated"),
        ("no Content-Disposition", "--b\nContent-Type: text/plain\n\nx\n--b--", "no Content-Disposition"),
        ("no name", "--b\nContent-Disposition: form-data; filename=\"x\"\n\nx\n--b--", "has no name"),
        ("not form-data", "--b\nContent-Disposition: attachment; name=\"x\"\n\nx\n--b--", "must be form-data"),
        ("unclosed quote", "--b\nContent-Disposition: form-data; name=\"x\n\nx\n--b--", "unclosed quote"),
        (
            "two dispositions",
            "--b\nContent-Disposition: form-data; name=a\nContent-Disposition: form-data; name=b\n\nx\n--b--",
            "two Content-Disposition"
        ),
        ("header without colon", "--b\nContent-Disposition form-data\n\nx\n--b--", "malformed header"),
        ("junk after boundary", "--bX\nContent-Disposition: form-data; name=a\n\nx\n--b--", "must end with CRLF"),
    ])
    func malformedBodiesAreRefused(_ what: String, text: String, message: String) {
        #expect {
            _ = try Multipart.parse(Self.body(text), boundary: "b")
        } throws: { error in
            (error as? Multipart.Failure)?.description.contains(message) == true
        }
    }

    @Test func bareLineFeedsInPartHeadersAreRefused() {
        let body = Array("--b\r\nContent-Disposition: form-data; name=a\n\r\nx\r\n--b--".utf8)
        #expect(throws: Multipart.Failure.self) { _ = try Multipart.parse(body, boundary: "b") }
    }

    @Test func limitsArePartsHeaderBytesAndFields() throws {
        var limits = Multipart.Limits()
        limits.parts = 2
        let three = Multipart.serialize(
            (0..<3).map { Multipart.Part(name: "f\($0)", body: [0x41]) }, boundary: "b")
        #expect(throws: Multipart.Failure("The multipart body has more than 2 parts")) {
            _ = try Multipart.parse(three, boundary: "b", limits: limits)
        }
        limits = Multipart.Limits()
        let longHeader = Multipart.serialize(
            [Multipart.Part(name: String(repeating: "n", count: 9000), body: [])], boundary: "b")
        #expect(throws: Multipart.Failure.self) { _ = try Multipart.parse(longHeader, boundary: "b", limits: limits) }
        var manyFields = "--b\r\nContent-Disposition: form-data; name=a\r\n"
        for index in 0..<20 { manyFields += "X-\(index): y\r\n" }
        manyFields += "\r\nx\r\n--b--"
        #expect(throws: Multipart.Failure("A multipart part has more than 16 header fields")) {
            _ = try Multipart.parse(Array(manyFields.utf8), boundary: "b")
        }
    }

    /// Found by the fuzz target: a space followed by a combining mark is one Character, so a
    /// Character-wise trim kept the space and the round trip changed the value.
    @Test func headerValuesAreTrimmedAsBytes() throws {
        let parts = try Multipart.parse(
            Array("--b\r\nContent-Disposition: form-data; name=a\r\nContent-Type:  \u{065D}x \r\n\r\ny\r\n--b--".utf8),
            boundary: "b")
        #expect(parts[0].contentType == "\u{065D}x")
        #expect(try Multipart.parse(Multipart.serialize(parts, boundary: "b"), boundary: "b") == parts)
    }

    @Test func serializeRoundTrips() throws {
        let parts = [
            Multipart.Part(
                name: "bom", filename: "b\\o\"m.xml", contentType: "application/xml", body: Array("<bom/>".utf8)),
            Multipart.Part(name: "isLatest", body: Array("false".utf8)),
        ]
        #expect(try Multipart.parse(Multipart.serialize(parts, boundary: "+++"), boundary: "+++") == parts)
    }
}

/// Body limits per route (BOM uploads may be larger than every other body).
struct RouteBodyLimitTests {
    @Test func aRouteLimitAppliesToItsMethodAndPathOnly() {
        var limits = HTTPLimits()
        limits.bodyBytes = 100
        limits.bodyLimits = [RouteBodyLimit(method: .put, path: "/api/v1/bom", bytes: 1000)]
        func outcome(_ method: String, _ target: String, length: Int) -> Int? {
            var parser = RequestParser(limits: limits)
            parser.append(Array("\(method) \(target) HTTP/1.1\r\nHost: x\r\nContent-Length: \(length)\r\n\r\n".utf8))
            parser.append([UInt8](repeating: 0x41, count: length))
            while true {
                switch parser.next() {
                case .head: continue  // the head of a request with a body comes first
                case .request: return 200
                case .failed(let error): return error.status.code
                case .needMoreBytes: return nil
                }
            }
        }
        #expect(outcome("PUT", "/api/v1/bom", length: 1000) == 200)
        #expect(outcome("PUT", "/api/v1/bom?x=1", length: 1000) == 200)
        #expect(outcome("PUT", "/api/v1/bom", length: 1001) == 413)
        #expect(outcome("POST", "/api/v1/bom", length: 101) == 413)
        #expect(outcome("PUT", "/api/v1/bomx", length: 101) == 413)
        #expect(outcome("PUT", "/api/v1/workflow", length: 100) == 200)
    }
}
