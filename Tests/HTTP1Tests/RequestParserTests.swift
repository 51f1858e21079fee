import HTTP1
import Testing

struct RequestParserTests {
    func parse(_ text: String, limits: HTTPLimits = HTTPLimits()) -> [RequestParser.Event] {
        var parser = RequestParser(limits: limits)
        parser.append(Array(text.utf8))
        var events: [RequestParser.Event] = []
        while true {
            let event = parser.next()
            if case .needMoreBytes = event { return events }
            if case .head = event { continue }
            events.append(event)
            if case .failed = event { return events }
        }
    }

    func request(_ text: String) throws -> HTTPRequest {
        let events = parse(text)
        guard case .request(let request)? = events.first else {
            Issue.record("expected a request, got \(events)")
            throw ParseError.badRequest("test")
        }
        return request
    }

    @Test func fieldsOfAParsedRequest() throws {
        let request = try request(
            "POST /api/v1/x%20y?a=1&b=2 HTTP/1.1\r\nHost: h\r\nX-Api-Key:  k  \r\nContent-Length: 3\r\n\r\nabc")
        #expect(request.method == .post)
        #expect(request.target == "/api/v1/x%20y?a=1&b=2")
        #expect(request.path == "/api/v1/x%20y")
        #expect(request.query == "a=1&b=2")
        #expect(request.version == .http11)
        #expect(request.headers["x-api-key"] == "k", "values are trimmed; names are case-insensitive")
        #expect(request.body == Array("abc".utf8))
        #expect(request.keepAlive)
    }

    /// Target, path and query are kept as the parser's bytes (in the header fields' buffer,
    /// before the fields); as strings and as bytes they say the same, and a setter changes only
    /// its own part.
    @Test func targetPathAndQueryAreTheParsersBytes() throws {
        let fields = (0..<40).map { "X-F\($0): \(String(repeating: "v", count: $0))\r\n" }.joined()
        var request = try request("GET /a/b%20c?x=1&y=%41 HTTP/1.1\r\nHost: h\r\n\(fields)\r\n")
        #expect(request.target == "/a/b%20c?x=1&y=%41" && request.path == "/a/b%20c" && request.query == "x=1&y=%41")
        #expect(request.pathBytes.string == "/a/b%20c" && request.pathBytes.count == 8)
        #expect(
            request.pathBytes.withSpan { $0.count == 8 && $0[0] == UInt8(ascii: "/") && $0[7] == UInt8(ascii: "c") })
        #expect(request.headers.count == 41 && request.headers["X-F39"] == String(repeating: "v", count: 39))
        #expect(request.headers.fields.first?.name == "Host", "the target is no field")
        request.path = "/z"
        #expect(request.path == "/z" && request.pathBytes.string == "/z" && request.target == "/a/b%20c?x=1&y=%41")
        request.query = nil
        #expect(request.query == nil && request.headers.count == 41)
        let bare = try self.request("GET /p HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(bare.target == "/p" && bare.path == "/p" && bare.query == nil && bare.headers.count == 1)
        let empty = try self.request("GET /p? HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(empty.path == "/p" && empty.query == "")
        let absolute = try self.request("GET http://h/q?r HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(absolute.target == "http://h/q?r" && absolute.pathBytes.string == "/q" && absolute.query == "r")
        #expect(absolute.headers.count == 1 && absolute.headers["Host"] == "h")
    }

    @Test func slicesOfAReadBufferParseAsOneAppend() throws {
        // The server appends `readBuffer[0..<count]`; slices that start anywhere must give the
        // same requests, across the buffer's compaction of consumed bytes.
        let one = "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Api-Key: k\r\n\r\n"
        let two = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        let bytes = Array((String(repeating: one, count: 3) + two + one).utf8)
        for step in [1, 7, 64, bytes.count] {
            var parser = RequestParser()
            var targets: [String] = []
            var bodies: [[UInt8]] = []
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + step, bytes.count)
                parser.append(bytes[offset..<end])
                offset = end
                parsing: while true {
                    switch parser.next() {
                    case .request(let request):
                        targets.append(request.target)
                        bodies.append(request.body)
                    case .head: continue
                    case .needMoreBytes: break parsing
                    case .failed(let error):
                        Issue.record("step \(step): \(error)")
                        break parsing
                    }
                }
            }
            #expect(targets == ["/a?x=1", "/a?x=1", "/a?x=1", "/b", "/a?x=1"], "step \(step)")
            #expect(bodies[3] == Array("hello".utf8))
            #expect(parser.isIdle)
        }
    }

    @Test func absoluteFormUsesItsPath() throws {
        let request = try request("GET http://example.com:8080/a?b HTTP/1.1\r\nHost: other\r\n\r\n")
        #expect(request.path == "/a")
        #expect(request.query == "b")
    }

    @Test(
        arguments: [
            ("OPTIONS * HTTP/1.1", "*", nil),
            ("GET http://example.com HTTP/1.1", "/", nil),
            ("GET http://example.com?q=1 HTTP/1.1", "/", nil),
            ("GET /a/b?x=%41&y=?z HTTP/1.1", "/a/b", "x=%41&y=?z"),
            ("GET /a? HTTP/1.1", "/a", ""),
        ] as [(String, String, String?)])
    func targetSplitsIntoPathAndQuery(line: String, path: String, query: String?) throws {
        let request = try request(line + "\r\nHost: x\r\n\r\n")
        #expect(request.path == path)
        #expect(request.query == query)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nHost: x\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", true),
    ])
    func keepAlive(text: String, expected: Bool) throws {
        #expect(try request(text).keepAlive == expected)
    }

    @Test func chunkedBodyIsReassembled() throws {
        let request = try request(
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nA;x=y\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n"
        )
        #expect(String(decoding: request.body, as: UTF8.self) == "abc0123456789")
        #expect(request.headers["X-T"] == nil, "trailers never become headers")
    }

    @Test func aFailureIsFinal() {
        var parser = RequestParser()
        parser.append(Array("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx".utf8))
        guard case .failed(let first) = parser.next() else { return #expect(Bool(false)) }
        parser.append(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        guard case .failed(let second) = parser.next() else { return #expect(Bool(false)) }
        #expect(first == second)
    }

    @Test func limitsAreConfigurable() {
        var limits = HTTPLimits()
        limits.bodyBytes = 4
        limits.requestLineBytes = 20
        let tooLarge = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", limits: limits)
        guard case .failed(.contentTooLarge)? = tooLarge.first else { return #expect(Bool(false), "\(tooLarge)") }
        let tooLong = parse("GET /abcdefghijk HTTP/1.1\r\nHost: x\r\n\r\n", limits: limits)
        guard case .failed(.uriTooLong)? = tooLong.first else { return #expect(Bool(false), "\(tooLong)") }
    }

    /// Whether `text` parses to a request, or the error it fails with; fed whole and byte by
    /// byte (the line scan takes eight bytes at a time, so a split must not change a verdict).
    func verdict(_ text: String, limits: HTTPLimits = HTTPLimits()) -> ParseError? {
        var verdicts: [ParseError?] = []
        for step in [text.utf8.count, 1, 3] {
            let bytes = Array(text.utf8)
            var parser = RequestParser(limits: limits)
            var offset = 0
            var outcome: ParseError?? = nil
            feeding: while offset < bytes.count {
                parser.append(bytes[offset..<min(offset + step, bytes.count)])
                offset += step
                while true {
                    switch parser.next() {
                    case .needMoreBytes: continue feeding
                    case .head: continue
                    case .request: outcome = .some(nil)
                    case .failed(let error): outcome = .some(error)
                    }
                    break feeding
                }
            }
            guard let outcome else {
                Issue.record("no verdict for \(text.debugDescription)")
                return nil
            }
            verdicts.append(outcome)
        }
        #expect(verdicts.dropFirst().allSatisfy { $0 == verdicts[0] }, "\(verdicts)")
        return verdicts[0]
    }

    @Test func lineLimitsHoldAtEveryLength() {
        // Around every length the word-wise scan can stop at: a line of exactly the limit is
        // read, one byte more is refused.
        for limit in 16...40 {
            var limits = HTTPLimits()
            limits.requestLineBytes = limit
            limits.headerLineBytes = limit
            let target = "/" + String(repeating: "a", count: limit - "GET  HTTP/1.1".utf8.count - 1)
            #expect(verdict("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n", limits: limits) == nil, "\(limit)")
            #expect(verdict("GET \(target)b HTTP/1.1\r\nHost: x\r\n\r\n", limits: limits) == .uriTooLong, "\(limit)")
            let value = String(repeating: "v", count: limit - "X-F: ".utf8.count)
            #expect(verdict("GET / HTTP/1.1\r\nHost: x\r\nX-F: \(value)\r\n\r\n", limits: limits) == nil, "\(limit)")
            guard
                case .headerFieldsTooLarge? = verdict(
                    "GET / HTTP/1.1\r\nHost: x\r\nX-F: \(value)v\r\n\r\n", limits: limits)
            else {
                Issue.record("a header line of \(limit + 1) bytes was not refused")
                continue
            }
        }
    }

    @Test func everyPositionOfAHeaderLineIsLookedAt() {
        // A 40-byte value with one byte changed at each position: controls and DEL are refused,
        // HTAB and obs-text (0x80 and up) are content, a lone LF or CR is a framing error.
        let value = Array(String(repeating: "abcdefgh", count: 5).utf8)
        func text(_ bytes: [UInt8]) -> String {
            "GET / HTTP/1.1\r\nHost: x\r\nX-F: " + String(decoding: bytes, as: UTF8.self) + "\r\n\r\n"
        }
        for position in 1..<(value.count - 1) {
            for byte: UInt8 in [0x00, 0x01, 0x0B, 0x0C, 0x1F, 0x7F] {
                var changed = value
                changed[position] = byte
                #expect(
                    verdict(text(changed)) == .badRequest("control character in a field value"),
                    "byte \(byte) at \(position)")
            }
            var tab = value
            tab[position] = 0x09
            #expect(verdict(text(tab)) == nil, "HTAB at \(position)")
            var lineFeed = value
            lineFeed[position] = 0x0A
            #expect(verdict(text(lineFeed)) == .badRequest("bare LF"), "LF at \(position)")
            var carriageReturn = value
            carriageReturn[position] = 0x0D
            #expect(verdict(text(carriageReturn)) == .badRequest("bare CR"), "CR at \(position)")
        }
        // obs-text is kept as received (as bytes: the value is no valid UTF-8 then).
        var parser = RequestParser()
        parser.append(Array("GET / HTTP/1.1\r\nHost: x\r\nX-F: ab".utf8) + [0x80, 0xFF] + Array("cd\r\n\r\n".utf8))
        guard case .request(let request) = parser.next() else {
            return #expect(Bool(false), "obs-text was refused")
        }
        // The field's bytes are kept as received; as a string the invalid UTF-8 is repaired.
        var bytes: [UInt8] = []
        request.headers.forEachField { name, value in
            if HTTPHeaders.equalsIgnoringCase(name, "x-f") {
                for index in value.indices { bytes.append(value[index]) }
            }
            return true
        }
        #expect(bytes == Array("ab".utf8) + [0x80, 0xFF] + Array("cd".utf8))
        #expect(request.headers["X-F"] == "ab\u{FFFD}\u{FFFD}cd")
        // Removing another field keeps this one's bytes.
        var headers = request.headers
        headers.remove("Host")
        var kept: [UInt8] = []
        headers.forEachField { _, value in
            for index in value.indices { kept.append(value[index]) }
            return true
        }
        #expect(kept == bytes && headers.count == 1)
    }

    @Test func bodyLargerThanTheLimitIsRefusedBeforeItArrives() {
        var parser = RequestParser()
        parser.append(Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n".utf8))
        guard case .failed(.contentTooLarge) = parser.next() else { return #expect(Bool(false)) }
    }

    @Test(arguments: [("0", 0), ("5", 5), ("1048576", 1_048_576)])
    func validContentLengths(text: String, value: Int) {
        var parser = RequestParser()
        parser.append(
            Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \(text)\r\n\r\n".utf8)
                + [UInt8](repeating: 0x61, count: value))
        var event = parser.next()
        if case .head(let head, expectContinue: false) = event {
            #expect(head.body.isEmpty, "the head event comes before the body is read")
            event = parser.next()
        }
        guard case .request(let request) = event else { return #expect(Bool(false)) }
        #expect(request.body.count == value)
    }
}

/// `HTTPHeaders` keeps its fields packed in one buffer; what it answers must be what a list of
/// name-value pairs would.
struct HTTPHeadersTests {
    @Test func lookupsAndChangesActAsOnAListOfPairs() {
        var headers = HTTPHeaders([("Host", "h"), ("X-Api-Key", "k1"), ("x-api-key", "k2"), ("Accept", "")])
        #expect(headers.count == 4)
        #expect(headers["X-API-KEY"] == "k1", "the first value, names case-insensitive")
        #expect(headers.values("x-Api-key") == ["k1", "k2"])
        #expect(headers["Accept"] == "", "an empty value is a value")
        #expect(headers["Missing"] == nil && headers.values("Missing").isEmpty)
        #expect(headers.fields.map(\.name) == ["Host", "X-Api-Key", "x-api-key", "Accept"], "in order, as given")
        headers.set("X-Api-Key", "k3")
        #expect(headers.values("X-Api-Key") == ["k3"] && headers.count == 3)
        #expect(headers.fields.last?.name == "X-Api-Key" && headers.fields.last?.value == "k3", "set appends")
        headers.remove("host")
        #expect(headers["Host"] == nil && headers.count == 2)
        #expect(Array(headers).map(\.value) == ["", "k3"])
    }

    @Test func equalityIsOrderAndSpelling() {
        #expect(HTTPHeaders([("A", "1"), ("B", "2")]) == HTTPHeaders([("A", "1"), ("B", "2")]))
        #expect(HTTPHeaders([("A", "1"), ("B", "2")]) != HTTPHeaders([("B", "2"), ("A", "1")]))
        #expect(HTTPHeaders([("A", "12")]) != HTTPHeaders([("A1", "2")]), "where the name ends counts")
        #expect(HTTPHeaders([("a", "1")]) != HTTPHeaders([("A", "1")]))
        var built = HTTPHeaders()
        built.add("A", "1")
        #expect(built == HTTPHeaders([("A", "1")]))
    }

    @Test func boundsLocateEveryField() {
        let long = String(repeating: "v", count: 70_000)
        let headers = HTTPHeaders([("N", long), ("", "empty name"), ("Ü", "ä")])
        var seen: [(String, String)] = []
        headers.forEachFieldBounds { bytes, field in
            seen.append(
                (HTTPHeaders.string(bytes.extracting(field.name)), HTTPHeaders.string(bytes.extracting(field.value))))
            return true
        }
        let values = headers.withBytes { bytes in
            var found: [String] = []
            headers.forEachFieldBounds { _, field in
                found.append(HTTPHeaders.string(bytes.extracting(field.value)))
                return true
            }
            return found
        }
        #expect(values == [long, "empty name", "ä"], "bounds are into the bytes withBytes lends too")
        #expect(seen.map(\.0) == ["N", "", "Ü"] && seen.map(\.1) == [long, "empty name", "ä"])
        var names: [String] = []
        headers.forEachField { name, _ in
            names.append(HTTPHeaders.string(name))
            return names.count < 2
        }
        #expect(names == ["N", ""], "the walk stops when the body says so")
    }

    /// A name compared eight bytes at a time agrees with the byte-wise rule, for names of every
    /// length up to 30 and received bytes that differ from them by case, by the bit that case
    /// flips (`@` and `` ` `` beside the letters, `[` and `{` after them), or by bytes from 0x80.
    @Test func fieldNamesMatchAsTheByteWiseRule() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcxyzABCXYZ-_09@[`{".utf8) + [0x80, 0xC1, 0xDA, 0xFF]
        func plain(_ name: [UInt8], _ bytes: [UInt8]) -> Bool {
            name.count == bytes.count && zip(name, bytes).allSatisfy { lower($0) == lower($1) }
        }
        func lower(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }
        for length in 0...30 {
            for _ in 0..<200 {
                let name = (0..<length).map { _ in Array("abcxyzABCXYZ-_09`^|~{".utf8).randomElement(using: &generator)!
                }
                let fieldName = HTTPFieldName(String(decoding: name, as: UTF8.self))
                var bytes = name.map { byte in Bool.random(using: &generator) ? lower(byte) : byte }
                if !bytes.isEmpty && Bool.random(using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = alphabet.randomElement(
                        using: &generator)!
                }
                if Int.random(in: 0..<10, using: &generator) == 0 { bytes.append(0x41) }
                let matches = fieldName.matches(bytes.span)
                #expect(matches == plain(name, bytes), "\(name) \(bytes)")
            }
        }
        let upper = HTTPFieldName("Content-Length").matches(Array("CONTENT-LENGTH".utf8).span)
        let delete = HTTPFieldName("Host").matches(Array("Hos\u{7F}".utf8).span)
        #expect(upper && !delete)
    }

    /// A parsed field keeps its line's colon and spaces between name and value; it still equals
    /// the same field built from strings, and is copied out as name and value.
    @Test func parsedFieldsEqualBuiltOnes() throws {
        let text = Array("GET / HTTP/1.1\r\nHost:   h  \r\nX-A:v\r\nX-B: \r\n\r\n".utf8)
        var parser = RequestParser()
        parser.append(text)
        guard case .request(let request) = parser.next() else { return #expect(Bool(false)) }
        #expect(request.headers == HTTPHeaders([("Host", "h"), ("X-A", "v"), ("X-B", "")]))
        // Byte by byte, the consumed request line is dropped before a field line arrives, which
        // then starts the buffer (the copy without the eight bytes before it).
        var byteWise = RequestParser()
        var last: HTTPRequest?
        for byte in text {
            byteWise.append([byte])
            if case .request(let parsed) = byteWise.next() { last = parsed }
        }
        #expect(last?.headers.fields == request.headers.fields && last?.headers.count == 3)
        #expect(request.headers != HTTPHeaders([("Host", "h"), ("X-A", "v"), ("X-B", " ")]))
        #expect(request.headers[HTTPFieldName("x-a")] == "v" && request.headers["X-B"] == "")
        var serialized: [UInt8] = []
        ResponseSerializer.serialize(
            HTTPResponse(status: .ok, headers: request.headers), isHead: false, keepAlive: true, version: .http11,
            date: [], into: &serialized)
        #expect(String(decoding: serialized, as: UTF8.self).contains("\r\nHost: h\r\nX-A: v\r\nX-B: \r\n"))
    }
}
