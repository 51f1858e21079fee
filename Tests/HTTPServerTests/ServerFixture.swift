import Foundation
import HTTP1
import HTTPServer
import TestSupport
import Testing

@testable import HTTPFixture

/// A started server on 127.0.0.1 and a free port, stopped at deinit.
final class ServerFixture {
    let server: HTTPServer
    let port: Int

    init(
        handler: FixtureHandler = FixtureHandler(), _ configure: (inout HTTPServerConfiguration) -> Void = { _ in }
    ) throws {
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        configuration.loops = 2
        configure(&configuration)
        server = HTTPServer(configuration: configuration, handler: handler)
        port = try server.start()
    }

    func client() throws -> TCPClient { try TCPClient(port: port) }

    deinit {
        server.shutdown()
        server.waitUntilStopped()
    }

    /// Waits until the server's open-connection count is `count` (bounded, polling).
    func waitForOpenConnections(_ count: Int, seconds: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if server.statistics.openConnections == count { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return server.statistics.openConnections == count
    }
}

func get(_ path: String, _ extra: String = "") -> String { "GET \(path) HTTP/1.1\r\nHost: t\r\n\(extra)\r\n" }
