import BomflowClient
import Foundation
import HTTP1
import HTTPServer
import Testing

/// The worker's small HTTP client against the real server on loopback.
struct HTTPClientTests {
    @Test(arguments: [
        ("http://127.0.0.1:8080", "127.0.0.1", 8080), ("http://localhost:9/", "127.0.0.1", 9),
        ("http://[::1]:443", "::1", 443),
    ])
    func endpoints(url: String, host: String, port: Int) throws {
        let endpoint = try #require(HTTPClient.endpoint(url))
        #expect(endpoint.host == host && endpoint.port == port)
    }

    @Test(arguments: [
        "https://127.0.0.1:1", "http://127.0.0.1", "http://:80", "http://h:0", "http://h:70000", "ftp://x:1",
    ])
    func badEndpoints(url: String) {
        #expect(HTTPClient.endpoint(url) == nil)
    }

    @Test func keepAliveRequestsAndBodies() throws {
        let fixture = try ServerFixture()
        let client = HTTPClient(host: "127.0.0.1", port: fixture.port)
        let fixed = try client.request("GET", "/fixed")
        #expect(fixed.status == 200)
        #expect(String(decoding: fixed.body, as: UTF8.self) == #"{"processing":false}"#)
        // The benchmark sends the API's poll request to the fixture: the same answer.
        let poll = try client.request(
            "GET", "/api/v1/event/token/00000001-0000-4000-8000-000000000001", headers: [("X-Api-Key", "k")])
        #expect(poll.status == 200 && poll.body == fixed.body)
        let echo = try client.request("POST", "/echo", body: Array("hello".utf8))
        #expect(String(decoding: echo.body, as: UTF8.self) == "hello")
        #expect(fixture.waitForOpenConnections(1), "one kept-alive connection for both")
        let big = try client.request("GET", "/big?100000")
        #expect(big.body.count > 16_384, "bodies larger than one read")
    }

    @Test func failuresAreErrorsNotHangs() throws {
        let fixture = try ServerFixture()
        let port = fixture.port
        let closed = HTTPClient(host: "127.0.0.1", port: 1)
        #expect(throws: HTTPClient.Failure.self) { try closed.request("GET", "/", timeout: 1) }
        let slow = HTTPClient(host: "127.0.0.1", port: port)
        #expect(throws: HTTPClient.Failure.self) { try slow.request("GET", "/delay?2000", timeout: 0.1) }
    }
}
