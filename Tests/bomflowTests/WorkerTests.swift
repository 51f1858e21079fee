import Foundation
import TestSupport
import Testing

/// `bomflow worker` running shell commands as step workers against a real server: a DT-style
/// pipeline on one host, failures with their reasons, a worker killed mid-step.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct WorkerTests {
    func serve(_ data: String) throws -> (ChildProcess, Int) {
        let child = try ChildProcess(
            "bomflow",
            [
                "serve", "--data-dir", data, "--port", "0", "--insecure-no-auth", "--sync", "none", "--log-level",
                "warning",
                "--maintenance-interval", "200ms",
            ], quiet: true)
        let deadline = Date().addingTimeInterval(20)
        while child.outputLines.isEmpty && Date() < deadline && child.process.isRunning {
            Thread.sleep(forTimeInterval: 0.01)
        }
        return (child, try #require(child.outputLines.first.flatMap { Int($0) }))
    }

    func worker(_ port: Int, steps: [String], command: String, extra: [String] = []) throws -> ChildProcess {
        try ChildProcess(
            "bomflow",
            [
                "worker", "--url", "http://127.0.0.1:\(port)", "--wait", "1s", "--exec", command, "--log-level",
                "warning",
            ]
                + steps.flatMap { ["--step", $0] } + extra, quiet: true)
    }

    func call(_ port: Int, _ method: String, _ path: String, _ body: String = "") -> [String: Any] {
        guard let client = try? TCPClient(port: port) else { return [:] }
        client.send(
            "\(method) \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        )
        guard let response = client.readResponse() else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    func token(_ number: Int) -> String { String(format: "77770000-0000-4000-8000-%012x", number) }

    func waitUntil(seconds: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }

    /// Shell scripts as the five BOM_UPLOAD workers: every upload completes, one whose BOM is
    /// "invalid" fails at consumption with the script's last stderr line and the rest cancels;
    /// SIGTERM stops the workers cleanly.
    @Test func shellScriptsRunAWholePipeline() throws {
        let directory = try TemporaryDirectory("worker-pipeline")
        defer { directory.remove() }
        let (server, port) = try serve(directory.appending("data"))
        defer { server.kill() }
        let log = directory.appending("steps.log")
        for number in 0..<20 {
            let labels = number == 7 ? #"{"bom":"invalid"}"# : #"{"project":"p\#(number)"}"#
            _ = call(
                port, "POST", "/api/v1/workflow",
                #"{"token":"\#(token(number))","template":"BOM_UPLOAD","labels":\#(labels)}"#)
        }
        let script = """
            echo "$BOMFLOW_STEP $BOMFLOW_TOKEN $BOMFLOW_ATTEMPT $BOMFLOW_LABEL_PROJECT" >> '\(log)'
            if [ "$BOMFLOW_LABEL_BOM" = invalid ]; then echo "starting" >&2; echo "BOM is not CycloneDX: no bomFormat" >&2; exit 2; fi
            """
        let ingest = try worker(port, steps: ["BOM_CONSUMPTION", "BOM_PROCESSING"], command: script)
        defer { ingest.kill() }
        let analyse = try worker(
            port, steps: ["VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE"], command: script)
        defer { analyse.kill() }
        let finished = waitUntil {
            (0..<20).allSatisfy {
                call(port, "GET", "/api/v1/event/token/\(token($0))")["processing"] as? Bool == false
            }
        }
        #expect(finished, "every workflow finished")
        let good = call(port, "GET", "/api/v1/workflow/token/\(token(3))")
        let goodSteps = good["steps"] as? [[String: Any]] ?? []
        #expect(goodSteps.count == 5 && goodSteps.allSatisfy { $0["status"] as? String == "COMPLETED" })
        #expect(goodSteps.allSatisfy { $0["attempts"] as? Int == 1 })
        let bad = call(port, "GET", "/api/v1/workflow/token/\(token(7))")["steps"] as? [[String: Any]] ?? []
        #expect(bad.first?["status"] as? String == "FAILED")
        #expect(bad.first?["failureReason"] as? String == "BOM is not CycloneDX: no bomFormat")
        #expect(bad.dropFirst().allSatisfy { $0["status"] as? String == "CANCELLED" })
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 19 * 5 + 1, "each step ran once")
        #expect(lines.contains("BOM_CONSUMPTION \(token(3)) 1 p3"))
        kill(ingest.process.processIdentifier, SIGTERM)
        kill(analyse.process.processIdentifier, SIGTERM)
        #expect(ingest.wait() == 0)
        #expect(analyse.wait() == 0)
    }

    /// The worker stops on SIGTERM when started with an empty signal mask, as a shell or systemd
    /// starts it (with 85618a4's dispatch signal source it ran on: the SIGTERM was dropped), and
    /// its step commands start with no signal blocked and SIGTERM/SIGINT not ignored, although the
    /// worker's own threads block them for its signal thread.
    @Test func stepCommandsCanBeStoppedBySignals() throws {
        let directory = try TemporaryDirectory("worker-signals")
        defer { directory.remove() }
        let (server, port) = try serve(directory.appending("data"))
        defer { server.kill() }
        let status = directory.appending("status")
        _ = call(port, "POST", "/api/v1/workflow", #"{"token":"\#(token(900))","template":"PROJECT_CLONE"}"#)
        let child = try worker(
            port, steps: ["PROJECT_CLONE"], command: "grep -E '^Sig(Blk|Ign)' /proc/self/status > '\(status)'")
        defer { child.kill() }
        #expect(
            waitUntil {
                FileManager.default.fileExists(atPath: status)
                    && ((try? String(contentsOfFile: status, encoding: .utf8)) ?? "").contains("SigIgn")
            })
        let fields = Dictionary(
            uniqueKeysWithValues: try String(contentsOfFile: status, encoding: .utf8).split(separator: "\n").compactMap
            {
                line -> (String, UInt64)? in
                let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, let mask = UInt64(parts[1], radix: 16) else { return nil }
                return (parts[0], mask)
            })
        let terminateAndInterrupt: UInt64 = 1 << (UInt64(SIGTERM) - 1) | 1 << (UInt64(SIGINT) - 1)
        #expect(fields["SigBlk"] == 0, "blocked in the step command: \(fields)")
        #expect(fields["SigIgn"].map { $0 & terminateAndInterrupt } == 0, "ignored in the step command: \(fields)")
        kill(child.process.processIdentifier, SIGTERM)
        #expect(child.wait() == 0)
    }

    /// A worker killed with SIGKILL in the middle of a step stops heartbeating; when its lease
    /// ends the step goes back into the ready queue and another worker finishes it (attempt 2).
    @Test func aKilledWorkersStepComesBackAfterItsLease() throws {
        let directory = try TemporaryDirectory("worker-killed")
        defer { directory.remove() }
        let (server, port) = try serve(directory.appending("data"))
        defer { server.kill() }
        _ = call(port, "POST", "/api/v1/workflow", #"{"token":"\#(token(1))","template":"PROJECT_CLONE"}"#)
        let stuck = try worker(
            port, steps: ["PROJECT_CLONE"], command: "sleep 6", extra: ["--lease", "2s", "--name", "stuck"])
        defer { stuck.kill() }
        let path = "/api/v1/workflow/token/\(token(1))"
        func step() -> [String: Any] { (call(port, "GET", path)["steps"] as? [[String: Any]])?.first ?? [:] }
        #expect(waitUntil { (step()["claim"] as? [String: Any])?["worker"] as? String == "stuck" })
        stuck.kill()
        let rescuer = try worker(port, steps: ["PROJECT_CLONE"], command: "true", extra: ["--name", "rescuer"])
        defer { rescuer.kill() }
        #expect(waitUntil { step()["status"] as? String == "COMPLETED" })
        #expect(step()["attempts"] as? Int == 2)
        kill(rescuer.process.processIdentifier, SIGTERM)
        #expect(rescuer.wait() == 0)
    }
}
