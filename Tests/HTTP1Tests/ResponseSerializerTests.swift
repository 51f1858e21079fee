import HTTP1
import Testing

struct ResponseSerializerTests {
    let date = Array("Sun, 06 Nov 1994 08:49:37 GMT".utf8)

    func text(_ response: HTTPResponse, isHead: Bool = false, keepAlive: Bool = true, version: HTTPVersion = .http11)
        -> String
    {
        var output: [UInt8] = []
        ResponseSerializer.serialize(
            response, isHead: isHead, keepAlive: keepAlive, version: version, date: date, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    @Test func framesWithDateAndContentLength() {
        let response = HTTPResponse(
            status: .ok, headers: HTTPHeaders([("Content-Type", "application/json")]),
            body: Array(#"{"processing":true}"#.utf8))
        #expect(
            text(response)
                == "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 19\r\nContent-Type: application/json\r\n\r\n{\"processing\":true}"
        )
    }

    @Test func headKeepsTheLengthAndDropsTheBody() {
        let output = text(HTTPResponse(status: .ok, body: Array("hello".utf8)), isHead: true)
        #expect(output.hasSuffix("Content-Length: 5\r\n\r\n"))
    }

    @Test func connectionHeaders() {
        #expect(text(HTTPResponse(status: .ok), keepAlive: false).contains("Connection: close\r\n"))
        #expect(text(HTTPResponse(status: .ok), version: .http10).contains("Connection: keep-alive\r\n"))
        #expect(!text(HTTPResponse(status: .ok)).contains("Connection:"))
    }

    @Test func noContentCarriesNoLengthAndNoBody() {
        #expect(
            text(HTTPResponse(status: .noContent, body: [1, 2]))
                == "HTTP/1.1 204 No Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n")
    }

    @Test func unsafeOrReservedHandlerHeadersAreDropped() {
        let headers = HTTPHeaders([
            ("X-Split", "a\r\nSet-Cookie: evil"), ("Content-Length", "999"), ("Transfer-Encoding", "chunked"),
            ("Bad Name", "x"), ("X-Ok", "fine"),
        ])
        let output = text(HTTPResponse(status: .ok, headers: headers))
        #expect(!output.contains("evil"))
        #expect(!output.contains("999"))
        #expect(!output.contains("chunked"))
        #expect(!output.contains("Bad Name"))
        #expect(output.contains("X-Ok: fine\r\n"))
    }

    @Test(arguments: [0, 7, 9, 10, 99, 100, 12_345, 1_000_000])
    func contentLengthDigits(length: Int) {
        let output = text(HTTPResponse(status: .ok, body: [UInt8](repeating: 0x61, count: length)), isHead: true)
        #expect(output.hasSuffix("\r\nContent-Length: \(length)\r\n\r\n"))
    }

    @Test func preparedFieldsAreWrittenAsTheFieldsWouldBe() {
        let headers = HTTPHeaders([("Content-Type", "application/json"), ("X-Split", "a\r\nb"), ("X-Ok", "fine")])
        let response = HTTPResponse(status: .created, headers: headers, body: Array("{}".utf8))
        #expect(text(response.prepared()) == text(response))
        #expect(
            text(response.prepared(), isHead: true, keepAlive: false) == text(response, isHead: true, keepAlive: false))
    }

    @Test(arguments: [HTTPStatus.ok, .created, .noContent, .notModified, HTTPStatus(code: 299, reason: "Odd")])
    func aPreparedAnswerIsWrittenAsTheResponseWouldBe(status: HTTPStatus) {
        let response = HTTPResponse(
            status: status, headers: HTTPHeaders([("Content-Type", "application/json"), ("X-Ok", "fine")]),
            body: Array(#"{"processing":false}"#.utf8))
        for isHead in [false, true] {
            for keepAlive in [false, true] {
                for version in [HTTPVersion.http10, .http11] {
                    #expect(
                        text(response.prepared(), isHead: isHead, keepAlive: keepAlive, version: version)
                            == text(response, isHead: isHead, keepAlive: keepAlive, version: version))
                }
            }
        }
    }

    @Test func changingAPreparedAnswersStatusOrBodyDropsIt() {
        var response = HTTPResponse(status: .ok, body: Array("one".utf8)).prepared()
        response.body = Array("three".utf8)
        #expect(text(response).hasSuffix("Content-Length: 5\r\n\r\nthree"))
        response = response.prepared()
        response.body.append(UInt8(ascii: "!"))
        #expect(text(response).hasSuffix("Content-Length: 6\r\n\r\nthree!"))
        response = response.prepared()
        response.status = .created
        #expect(text(response).hasPrefix("HTTP/1.1 201 Created\r\n"))
    }

    @Test func changingThePreparedFieldsDropsTheBlock() {
        var response = HTTPResponse(status: .ok, headers: HTTPHeaders([("X-One", "1")])).prepared()
        response.headers.add("X-Two", "2")
        let output = text(response)
        #expect(output.contains("X-One: 1\r\nX-Two: 2\r\n\r\n"))
        response.headers = HTTPHeaders()
        #expect(!text(response).contains("X-One"))
    }

    @Test(arguments: [
        (Int64(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT"), (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"), (1_798_502_400, "Tue, 29 Dec 2026 00:00:00 GMT"),
    ])
    func imfFixdate(seconds: Int64, text: String) {
        #expect(HTTPDate.format(epochSeconds: seconds) == text)
    }
}
