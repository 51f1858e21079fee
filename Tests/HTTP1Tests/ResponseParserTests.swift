import Testing

@testable import HTTP1

/// The client side's response parser: bounded, incremental, chunked.
struct ResponseParserTests {
    func parse(_ text: String, split: Int? = nil, limits: ResponseLimits = ResponseLimits()) throws -> ClientResponse? {
        var parser = ResponseParser(limits: limits)
        let bytes = Array(text.utf8)
        guard let split else { return try parser.consume(bytes) }
        var result: ClientResponse?
        var index = 0
        while index < bytes.count {
            let end = min(index + split, bytes.count)
            if let response = try parser.consume(bytes[index..<end]) { result = response }
            index = end
        }
        return result
    }

    @Test(arguments: [nil, 1, 3, 7])
    func contentLength(split: Int?) throws {
        let response = try #require(
            try parse(
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", split: split))
        #expect(response.status == 201)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.body == Array("{}".utf8))
        #expect(!response.closesConnection)
    }

    @Test(arguments: [nil, 1, 2, 5])
    func chunked(split: Int?) throws {
        let text =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n"
        let response = try #require(try parse(text, split: split))
        #expect(String(decoding: response.body, as: UTF8.self) == "Wikipedia in\r\n\r\nchunks.")
        #expect(response.closesConnection)
    }

    @Test func incompleteIsNil() throws {
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc") == nil)
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Le") == nil)
    }

    @Test func noBodyForNoContent() throws {
        let response = try #require(try parse("HTTP/1.1 204 No Content\r\n\r\n"))
        #expect(response.status == 204 && response.body.isEmpty)
    }

    @Test(arguments: [
        "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 0\r\n\r\n",
    ])
    func malformedIsRefused(text: String) {
        #expect(throws: ResponseParseError.self) { try parse(text) }
    }

    @Test func limitsHold() {
        var small = ResponseLimits()
        small.headerBytes = 64
        small.bodyBytes = 8
        small.chunkLineBytes = 8
        let longHeader = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 100) + "\r\nContent-Length: 0\r\n\r\n"
        #expect(throws: ResponseParseError.self) { try parse(longHeader, limits: small) }
        #expect(throws: ResponseParseError.self) {
            try parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", limits: small)
        }
        #expect(throws: ResponseParseError.self) {
            try parse(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n5\r\nabcde\r\n0\r\n\r\n",
                limits: small)
        }
        #expect(throws: ResponseParseError.self) {
            try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;aaaaaaaaaaaa", limits: small)
        }
        // A head that never ends is refused once it passes its bound (status line + header
        // section), not buffered forever.
        var parser = ResponseParser(limits: small)
        #expect(throws: ResponseParseError.self) {
            for _ in 0..<1000 { _ = try parser.consume(Array("X-Long: aaaaaaaaaaaaaaa\r\n".utf8)) }
        }
    }
}

struct RequestSerializerTests {
    @Test func writesAHead() throws {
        let head = try RequestSerializer.head(
            method: "POST", target: "/a?b=c", host: "127.0.0.1:8", headers: [("X-Api-Key", "k")], bodyLength: 2)
        #expect(
            String(decoding: head, as: UTF8.self)
                == "POST /a?b=c HTTP/1.1\r\nHost: 127.0.0.1:8\r\nX-Api-Key: k\r\nContent-Length: 2\r\n\r\n")
    }

    @Test(arguments: [
        ("GET", "/a\r\nX: y", "X", "v"), ("GET", "/a b", "X", "v"), ("G T", "/", "X", "v"),
        ("GET", "/", "X\r\nY", "v"), ("GET", "/", "X", "v\r\nEvil: 1"), ("GET", "/", "X", "v\nEvil: 1"),
        ("GET", "/", "X", "v\u{0}"), ("GET", "", "X", "v"),
    ])
    func refusesSmuggling(method: String, target: String, name: String, value: String) {
        #expect(throws: RequestHeadError.self) {
            try RequestSerializer.head(
                method: method, target: target, host: "h", headers: [(name, value)], bodyLength: 0)
        }
    }
}
