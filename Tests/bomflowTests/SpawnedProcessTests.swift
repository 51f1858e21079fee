import Foundation
import TestSupport
import Testing

/// The tests' own child processes (TestSupport's SpawnedProcess, which replaced Foundation's
/// `Process` after it crashed the test process while the long-poll test held 2,000 sockets).
@Suite(.timeLimit(.minutes(2)))
struct SpawnedProcessTests {
    func shell(_ script: String, output: Pipe? = nil) throws -> SpawnedProcess {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        if let output { process.standardOutput = output }
        try process.run()
        return process
    }

    @Test func manyOpenDescriptorsStayInTheParent() throws {
        // More descriptors than glibc's /proc/self/fd buffer holds at once (~1,360).
        var sockets: [Int32] = []
        defer { for fd in sockets { close(fd) } }
        for _ in 0..<2_000 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try #require(fd >= 0)
            sockets.append(fd)
        }
        for _ in 0..<20 {
            let output = Pipe()
            // The child's own descriptors: 0, 1, 2, and the one `ls` reads the directory with.
            let process = try shell("ls /proc/self/fd", output: output)
            let listed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            let descriptors = listed.split(separator: "\n").compactMap { Int($0) }
            #expect(descriptors.count <= 4 && descriptors.allSatisfy { $0 <= 3 }, "inherited: \(descriptors)")
        }
    }

    @Test func exitCodesAndSignalsAreReported() throws {
        let exits = try shell("exit 3")
        exits.waitUntilExit()
        #expect(!exits.isRunning)
        #expect(exits.terminationStatus == 3 && exits.terminationReason == .exit)

        let sleeper = try shell("exec sleep 30")
        #expect(sleeper.isRunning && sleeper.processIdentifier > 0)
        sleeper.send(SIGKILL)
        sleeper.waitUntilExit()
        #expect(sleeper.terminationStatus == SIGKILL && sleeper.terminationReason == .uncaughtSignal)
    }

    @Test func aMissingProgramIsAnError() {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/nonexistent/program")
        #expect(throws: SpawnError.self) { try process.run() }
        #expect(!process.isRunning)
    }

    @Test func theEnvironmentIsExactlyTheOneGiven() throws {
        let output = Pipe()
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.environment = ["ONLY": "this"]
        process.standardOutput = output
        try process.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(printed == "ONLY=this\n")
    }
}

/// TestSupport's ProgramRun: the streams as asked, the exit status, and the time limit.
@Suite(.timeLimit(.minutes(1)))
struct ProgramRunTests {
    let shell = URL(fileURLWithPath: "/bin/sh")

    @Test func mergedAndCapturedStreams() throws {
        let script = "echo out; echo err >&2; echo more; exit 3"
        let merged = try ProgramRun.run(shell, ["-c", script])
        #expect(merged.status == 3)
        #expect(!merged.signalled && !merged.timedOut)
        #expect(merged.output.split(separator: "\n").sorted() == ["err", "more", "out"])
        #expect(merged.errorOutput.isEmpty)
        let apart = try ProgramRun.run(shell, ["-c", script], standardError: .captured)
        #expect(apart.output == "out\nmore\n")
        #expect(apart.errorOutput == "err\n")
        let quiet = try ProgramRun.run(shell, ["-c", script], standardError: .discarded)
        #expect(quiet.output == "out\nmore\n")
    }

    @Test func muchOutputOnBothStreamsDoesNotBlock() throws {
        // 1 MiB on each stream: far over a pipe's 64 KiB, so each must be read as it comes.
        let script = "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2"
        let run = try ProgramRun.run(shell, ["-c", script], standardError: .captured, seconds: 30)
        #expect(!run.timedOut)
        #expect(run.output.utf8.count == 1_048_576)
        #expect(run.errorOutput.utf8.count == 1_048_576)
    }

    @Test func aProgramOverItsTimeIsTerminated() throws {
        let started = Date()
        let run = try ProgramRun.run(shell, ["-c", "echo started; exec sleep 30"], seconds: 0.5)
        #expect(run.timedOut)
        #expect(run.signalled)
        #expect(run.status == SIGTERM)
        #expect(run.output == "started\n")
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test func theEnvironmentIsAddedToThisProcesss() throws {
        let run = try ProgramRun.run(
            shell, ["-c", "echo \"$PROGRAM_RUN_TEST:$PATH\""], environment: ["PROGRAM_RUN_TEST": "x"])
        #expect(run.output.hasPrefix("x:"))
        #expect(run.output.count > "x:\n".count, "PATH is inherited")
    }
}
