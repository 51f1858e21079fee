// bomflow-http-fixture: the HTTP layer alone, serving FixtureHandler, for tests of the real
// process (signals, descriptors, memory) and for scripts/bench. Not shipped.
// Usage: bomflow-http-fixture [--port N] [--loops N] [--max-connections N] [--timeouts-ms N]
//                             [--poll-cpu-ns N]
// Prints the bound port on the first line of stdout, then serves until SIGTERM/SIGINT.
import Foundation
import HTTPServer

var configuration = HTTPServerConfiguration()
var handler = FixtureHandler()
configuration.port = 0
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    guard let value = arguments.next().flatMap(Int.init) else {
        FileHandle.standardError.write(Data("bomflow-http-fixture: \(flag) needs a number\n".utf8))
        exit(64)
    }
    switch flag {
    case "--port": configuration.port = value
    case "--loops": configuration.loops = value
    case "--max-connections": configuration.maxConnections = value
    case "--timeouts-ms":
        configuration.headerTimeout = .milliseconds(value)
        configuration.bodyTimeout = .milliseconds(value)
        configuration.keepAliveTimeout = .milliseconds(value)
        configuration.sendTimeout = .milliseconds(value)
    case "--poll-cpu-ns":
        guard value >= 0 else {
            FileHandle.standardError.write(Data("bomflow-http-fixture: --poll-cpu-ns cannot be negative\n".utf8))
            exit(64)
        }
        handler.pollWork = .nanoseconds(value)
    default:
        FileHandle.standardError.write(Data("bomflow-http-fixture: unknown flag \(flag)\n".utf8))
        exit(64)
    }
}
let server = HTTPServer(configuration: configuration, handler: handler)
// Before the port is announced: a test may signal as soon as it has an answer, and a signal that
// arrived before the handler was installed was lost (or killed the process), as in `serve`.
server.shutdownOnSignals()
do {
    let port = try server.start()
    FileHandle.standardOutput.write(Data("\(port)\n".utf8))
} catch {
    FileHandle.standardError.write(Data("bomflow-http-fixture: \(error)\n".utf8))
    exit(1)
}
server.waitUntilSignalled()
FileHandle.standardOutput.write(Data("stopped\n".utf8))
exit(0)
