import Foundation
import HTTP1
import HTTPServer
import TestSupport
import Testing

@testable import HTTPFixture

@Suite(.timeLimit(.minutes(2)))
struct ServerTests {
    @Test func answersWithDateAndContentLength() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send(get("/fixed"))
        let response = try #require(client.readResponse())
        #expect(response.status == 200)
        #expect(response.text == #"{"processing":false}"#)
        #expect(response.header("Content-Length") == "20")
        #expect(response.header("Date")?.hasSuffix(" GMT") == true)
        #expect(response.header("Connection") == nil)
    }

    /// The benchmark's control (`--poll-cpu-ns`): a poll keeps its loop's thread busy for the
    /// given time before it is answered, so another connection of that loop waits as long.
    @Test func pollWorkKeepsTheLoopBusyBeforeTheAnswer() throws {
        let fixture = try ServerFixture(handler: FixtureHandler(pollWork: .milliseconds(300))) { $0.loops = 1 }
        let polling = try fixture.client()
        let other = try fixture.client()
        let sent = ContinuousClock.now
        polling.send(get("/api/v1/event/token/7a3b2c1d-0000-4000-8000-000000000001"))
        Thread.sleep(forTimeInterval: 0.05)
        let otherSent = ContinuousClock.now
        other.send(get("/fixed"))
        let otherAnswer = try #require(other.readResponse())
        let otherWaited = ContinuousClock.now - otherSent
        let answer = try #require(polling.readResponse())
        #expect(answer.text == #"{"processing":false}"#)
        #expect(otherAnswer.status == 200)
        #expect(ContinuousClock.now - sent >= .milliseconds(300))
        #expect(otherWaited >= .milliseconds(200), "the one loop was busy with the poll: \(otherWaited)")
    }

    @Test func keepAliveServesManyRequestsOnOneConnection() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        for index in 0..<20 {
            client.send(get("/n\(index)"))
            #expect(client.readResponse()?.text == "/n\(index)")
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrderEvenWhenHandledLate() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send(get("/delay?ms=80") + get("/first") + get("/delay?ms=10") + get("/last"))
        #expect(client.readResponse()?.text == "/delay?ms=80")
        #expect(client.readResponse()?.text == "/first")
        #expect(client.readResponse()?.text == "/delay?ms=10")
        #expect(client.readResponse()?.text == "/last")
    }

    /// H34: the first request is answered, the bad second gets 400 and the connection closes;
    /// the third is never processed.
    @Test func aBadPipelinedRequestEndsTheConnection() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send(get("/one") + "GET /two HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n" + get("/three"))
        #expect(client.readResponse()?.text == "/one")
        let bad = try #require(client.readResponse())
        #expect(bad.status == 400)
        #expect(bad.header("Connection") == "close")
        let rest = client.readUntilClosed(timeout: 3)
        #expect(rest.closed)
        #expect(rest.bytes.isEmpty, "the third request must not be answered")
        #expect(fixture.server.statistics.requestsHandled == 1)
    }

    /// Each loop counts its own requests and parse errors (no cache line shared per request);
    /// the statistics are their sum. 16 connections over the fixture's two loops (the kernel
    /// spreads them between the two listeners; all on one would be a 1-in-32,768 chance).
    @Test func statisticsSumEveryLoopsCounts() throws {
        let fixture = try ServerFixture()
        let clients = try (0..<16).map { _ in try fixture.client() }
        for (index, client) in clients.enumerated() {
            client.send(get("/a") + get("/b") + get("/c"))
            for _ in 0..<3 { #expect(client.readResponse()?.status == 200) }
            if index % 4 == 0 {
                client.send("GET /bad HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n")
                #expect(client.readResponse()?.status == 400)
            }
        }
        let statistics = fixture.server.statistics
        #expect(statistics.requestsHandled == 48)
        #expect(statistics.parseErrors == 4)
    }

    /// H2: a request smuggled behind CL+TE is never answered.
    @Test func smuggledRequestIsNeverAnswered() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                + get("/admin"))
        #expect(client.readResponse()?.status == 400)
        let rest = client.readUntilClosed(timeout: 3)
        #expect(rest.closed && rest.bytes.isEmpty)
        #expect(fixture.server.statistics.requestsHandled == 0)
    }

    @Test func connectionCloseIsHonouredBothWays() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send(get("/a", "Connection: close\r\n") + get("/b"))
        let response = try #require(client.readResponse())
        #expect(response.header("Connection") == "close")
        let rest = client.readUntilClosed(timeout: 3)
        #expect(rest.closed && rest.bytes.isEmpty, "nothing after Connection: close is processed")
    }

    @Test func http10ClosesUnlessKeepAlive() throws {
        let fixture = try ServerFixture()
        let plain = try fixture.client()
        plain.send("GET /x HTTP/1.0\r\nHost: t\r\n\r\n")
        let response = try #require(plain.readResponse())
        #expect(response.header("Connection") == "close")
        #expect(plain.isClosed(within: 3))
        let kept = try fixture.client()
        kept.send("GET /x HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n")
        #expect(kept.readResponse()?.header("Connection") == "keep-alive")
        kept.send("GET /y HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n")
        #expect(kept.readResponse()?.text == "/y")
    }

    /// H38: HEAD has GET's headers, including its Content-Length, and no body.
    @Test func headHasHeadersButNoBody() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send("HEAD /fixed HTTP/1.1\r\nHost: t\r\n\r\n" + get("/after"))
        let head = try #require(client.readResponse(noBody: true))
        #expect(head.header("Content-Length") == "20")
        #expect(head.body.isEmpty)
        #expect(client.readResponse()?.text == "/after", "the next response starts right after HEAD's headers")
    }

    /// H39/H40: 100 Continue before the body; a refusal (too large, unauthorised) without it.
    @Test func expectContinue() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = try #require(client.readResponse())
        #expect(interim.status == 100)
        client.send("hello")
        #expect(client.readResponse()?.text == "hello")

        let large = try fixture.client()
        large.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n")
        #expect(large.readResponse()?.status == 413)
        #expect(large.isClosed(within: 3))

        let refused = try fixture.client()
        refused.send("POST /private HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let answer = try #require(refused.readResponse())
        #expect(answer.status == 401)
        #expect(answer.header("Connection") == "close")
        #expect(refused.isClosed(within: 3))
        #expect(fixture.server.statistics.requestsHandled == 1)
    }

    @Test(arguments: [
        ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        ("GET / HTTP/1.1\r\nHost: t\r\nX: " + String(repeating: "v", count: 9000) + "\r\n\r\n", 431),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n", 413),
        ("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", 413),
        ("FOO / HTTP/1.1\r\nHost: t\r\n\r\n", 501),
        ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ("GET / HTTP/1.1\r\n\r\n", 400),
    ])
    func limitsAndErrorsAnswerOnceThenClose(request: String, status: Int) throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send(request)
        let response = try #require(client.readResponse())
        #expect(response.status == status)
        #expect(response.header("Connection") == "close")
        #expect(response.header("Content-Type") == "application/problem+json", "the layer's errors read like the API's")
        let problem = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        #expect(problem["status"] as? Int == status)
        #expect((problem["type"] as? String)?.hasPrefix("https://bomflow.dev/problems/") == true)
        #expect(client.isClosed(within: 3))
    }

    @Test func chunkedBodiesArrive() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send(
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n"
        )
        #expect(client.readResponse()?.text == "abcdefg")
    }

    /// H36: a client that half-closes after its request still gets the response.
    @Test func halfClosedClientStillGetsItsResponse() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send(get("/delay?ms=50"))
        client.shutdownWrite()
        #expect(client.readResponse()?.text == "/delay?ms=50")
        #expect(client.isClosed(within: 3))
        #expect(fixture.waitForOpenConnections(0))
    }

    /// H44: a client that resets mid-response costs the server nothing but that connection.
    @Test func resetClientsDoNotHurtTheServer() throws {
        let fixture = try ServerFixture()
        for _ in 0..<20 {
            let client = try fixture.client()
            client.send(get("/big?bytes=4000000"))
            client.reset()
        }
        let survivor = try fixture.client()
        survivor.send(get("/fixed"))
        #expect(survivor.readResponse()?.status == 200)
        #expect(fixture.waitForOpenConnections(1))
    }

    /// A client that pipelines many requests and reads nothing does not make the server
    /// produce (and buffer) every response: processing waits for the client to read.
    @Test func pendingOutputIsBounded() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send(String(repeating: get("/big?bytes=100000"), count: 200))
        Thread.sleep(forTimeInterval: 0.5)
        let handled = fixture.server.statistics.requestsHandled
        #expect(handled < 200, "handled \(handled) of 200 pipelined requests while the client read nothing")
        var received = 0
        while received < 200, client.readResponse(timeout: 5)?.status == 200 { received += 1 }
        #expect(received == 200, "all are answered once the client reads")
    }

    /// H42: over the connection cap a client gets 503 and a close; the others keep working.
    @Test func connectionsOverTheCapGet503() throws {
        let fixture = try ServerFixture { $0.maxConnections = 4 }
        let clients = try (0..<4).map { _ in try fixture.client() }
        for client in clients {
            client.send(get("/x"))
            #expect(client.readResponse()?.status == 200)
        }
        let extra = try fixture.client()
        let refused = try #require(extra.readResponse())
        #expect(refused.status == 503)
        #expect(extra.isClosed(within: 3))
        clients[0].send(get("/still"))
        #expect(clients[0].readResponse()?.text == "/still")
        #expect(fixture.server.statistics.connectionsRefused == 1)
    }
}

extension ServerTests {
    @Test func aResponseFromAnotherThreadArrives() throws {
        let fixture = try ServerFixture()
        let client = try fixture.client()
        client.send(get("/delay?ms=20"))
        #expect(client.readResponse()?.text == "/delay?ms=20")
    }
}
