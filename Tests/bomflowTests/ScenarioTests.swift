import Foundation
import TestSupport
import Testing

/// fixtures/scenarios/*.json replayed against the real `bomflow serve`: one process, then two
/// processes on one data directory with the calls alternating between them.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ScenarioTests {
    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let json: [String: any Sendable]
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = {
        let directory = RepositoryPaths.fixtures.appendingPathComponent("scenarios")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: any Sendable]
            else { return nil }
            return Scenario(name: name, json: object)
        }
    }()

    @Test func scenariosArePresent() { #expect(Self.scenarios.count >= 7) }

    @Test(arguments: scenarios)
    func oneProcess(scenario: Scenario) throws {
        try replay(scenario, processes: 1)
    }

    @Test(arguments: scenarios)
    func twoProcessesAlternating(scenario: Scenario) throws {
        try replay(scenario, processes: 2)
    }

    func replay(_ scenario: Scenario, processes: Int) throws {
        let directory = try TemporaryDirectory("scenario")
        defer { directory.remove() }
        let flags = scenario.json["serve"] as? [String] ?? []
        var servers: [(ChildProcess, Int)] = []
        defer { for (child, _) in servers { child.kill() } }
        for _ in 0..<processes {
            let child = try ChildProcess(
                "bomflow",
                [
                    "serve", "--data-dir", directory.appending("data"), "--port", "0", "--insecure-no-auth", "--sync",
                    "none", "--loops", "1",
                ] + flags, quiet: true)
            let deadline = Date().addingTimeInterval(20)
            while child.outputLines.isEmpty && Date() < deadline && child.process.isRunning {
                Thread.sleep(forTimeInterval: 0.01)
            }
            servers.append((child, try #require(child.outputLines.first.flatMap { Int($0) })))
        }
        let calls = try #require(scenario.json["calls"] as? [[String: Any]])
        for (index, call) in calls.enumerated() {
            let port = servers[index % servers.count].1
            let method = try #require(call["method"] as? String)
            let path = try #require(call["path"] as? String)
            let body =
                try call["body"].map {
                    String(
                        decoding: try JSONSerialization.data(withJSONObject: $0, options: [.fragmentsAllowed]),
                        as: UTF8.self)
                } ?? ""
            let deadline = Date().addingTimeInterval(Double(call["eventuallyWithinMs"] as? Int ?? 0) / 1000)
            var problem: String?
            repeat {
                problem = try check(call, response: send(port, method, path, body))
                if problem != nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            } while problem != nil && Date() < deadline
            #expect(problem == nil, "\(scenario.name) call \(index) \(method) \(path): \(problem ?? "")")
            if problem != nil { return }
        }
    }

    func send(_ port: Int, _ method: String, _ path: String, _ body: String) throws -> TCPClient.Response? {
        let client = try TCPClient(port: port)
        client.send("\(method) \(path) HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        return client.readResponse()
    }

    /// Why the response does not match the call's expectations, or nil when it does.
    func check(_ call: [String: Any], response: TCPClient.Response?) throws -> String? {
        guard let response else { return "no response" }
        if let status = call["status"] as? Int, response.status != status {
            return "status \(response.status), expected \(status): \(response.text)"
        }
        if let text = call["text"] as? String, response.text != text {
            return "body \(response.text), expected \(text)"
        }
        if let expected = call["expect"] {
            let actual = try? JSONSerialization.jsonObject(with: Data(response.body), options: [.fragmentsAllowed])
            if let mismatch = Self.mismatch(expected, actual, at: "$") { return "\(mismatch) in \(response.text)" }
        }
        return nil
    }

    /// Objects match as subsets, arrays element by element, `null` means absent.
    static func mismatch(_ expected: Any, _ actual: Any?, at path: String) -> String? {
        if expected is NSNull { return actual == nil || actual is NSNull ? nil : "\(path) should be absent" }
        guard let actual else { return "\(path) is missing" }
        switch expected {
        case let object as [String: Any]:
            guard let actualObject = actual as? [String: Any] else { return "\(path) is not an object" }
            for (key, value) in object {
                if let problem = mismatch(value, actualObject[key], at: "\(path).\(key)") { return problem }
            }
            return nil
        case let array as [Any]:
            guard let actualArray = actual as? [Any], actualArray.count == array.count else {
                return "\(path) has another length"
            }
            for (index, value) in array.enumerated() {
                if let problem = mismatch(value, actualArray[index], at: "\(path)[\(index)]") { return problem }
            }
            return nil
        default:
            return (expected as? NSObject)?.isEqual(actual) == true ? nil : "\(path) is \(actual), expected \(expected)"
        }
    }
}
