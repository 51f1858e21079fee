#if PostgreSQL
    import Foundation
    import TestSupport
    import Testing

    /// `bomflow serve` on PostgreSQL while the database stops answering: every PostgreSQL process
    /// serving bomflow's database is stopped with SIGSTOP (as a database stuck on I/O or a
    /// network that drops packets looks from outside). Requests that need the database wait on
    /// the request threads; the HTTP loops keep answering everything that does not.
    @Suite(.serialized, .timeLimit(.minutes(2)))
    struct SlowDatabaseTests {
        @Test func theLoopsKeepAnsweringWhileTheDatabaseHangs() throws {
            let postgres = try PostgresTestServer.shared()
            let url = try postgres.makeDatabase()
            defer { postgres.dropDatabase(url) }
            let database = String(try #require(URLComponents(string: url)?.path.dropFirst()))
            let directory = try TemporaryDirectory("slow-db")
            defer { directory.remove() }
            let server = try ChildProcess(
                executable: RepositoryPaths.products.appendingPathComponent("bomflow"),
                [
                    "serve", "--data-dir", directory.appending("data"), "--store", url, "--store-pool", "2", "--port",
                    "0", "--insecure-no-auth", "--loops", "1",
                ], quiet: true)
            defer { server.kill() }
            let deadline = Date().addingTimeInterval(30)
            while server.outputLines.isEmpty && Date() < deadline && server.process.isRunning {
                Thread.sleep(forTimeInterval: 0.01)
            }
            let port = try #require(server.outputLines.first.flatMap { Int($0) })
            func request(_ method: String, _ path: String, _ body: String = "", timeout: Double = 5) throws
                -> TCPClient.Response?
            {
                let client = try TCPClient(port: port)
                let head =
                    "\(method) \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                client.send(head + body)
                return client.readResponse(timeout: timeout)
            }
            let token = UUID().uuidString.lowercased()
            #expect(
                try request("POST", "/api/v1/workflow", #"{"token":"\#(token)","template":"BOM_UPLOAD"}"#)?.status
                    == 201)
            #expect(try request("GET", "/api/v1/event/token/\(token)")?.status == 200)

            // Stop every backend of bomflow's database (the pool's, the listener's, the prober's).
            let pids = try postgres.psql("SELECT pid FROM pg_stat_activity WHERE datname = '\(database)'")
                .split(separator: "\n").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
            #expect(pids.count >= 2)
            for pid in pids { #expect(kill(pid, SIGSTOP) == 0) }
            var resumed = false
            func resume() {
                guard !resumed else { return }
                resumed = true
                for pid in pids { kill(pid, SIGCONT) }
            }
            defer { resume() }

            // Requests that need the database, more than there are request threads (8): each
            // waits, on a thread or in the queue for one.
            let waiting = (0..<12).map { index in
                let client = try? TCPClient(port: port)
                let body = index % 2 == 0 ? "" : #"{"started":true}"#
                let head =
                    index % 2 == 0
                    ? "GET /api/v1/event/token/\(token) HTTP/1.1\r\nHost: t\r\n\r\n"
                    : "PATCH /api/v1/workflow/token/\(token)/step/BOM_CONSUMPTION HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                client?.send(head + body)
                return client
            }
            Thread.sleep(forTimeInterval: 0.5)
            // Meanwhile the loops answer what needs no database, again and again.
            for _ in 0..<5 {
                #expect(try request("GET", "/health/live", timeout: 3)?.status == 200)
                #expect(try request("GET", "/api/version", timeout: 3)?.status == 200)
                #expect(try request("GET", "/nope", timeout: 3)?.status == 404)
            }

            // The database answers again: every waiting request gets an answer (a write that could
            // not be confirmed is a 503, never a silent loss), and new requests succeed.
            resume()
            for client in waiting {
                let answer = client?.readResponse(timeout: 30)
                #expect(answer.map { [200, 503].contains($0.status) } == true)
            }
            var polled: Int?
            let retryUntil = Date().addingTimeInterval(20)
            while Date() < retryUntil {
                polled = try request("GET", "/api/v1/event/token/\(token)")?.status
                if polled == 200 { break }
                Thread.sleep(forTimeInterval: 0.2)
            }
            #expect(polled == 200)
            kill(server.process.processIdentifier, SIGTERM)
            #expect(server.wait() == 0)
        }
    }
#endif
