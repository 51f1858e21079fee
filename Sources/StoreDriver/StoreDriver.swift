// bomflow-store-driver: drives an LMDBStore from its own process, for the multi-process tests,
// scripts/crash-test and scripts/bench. Not shipped; every command prints one JSON line (or ACK
// lines) on stdout.
import ArgumentParser
import Foundation
import JSON
import LMDBStore
import Storage
import WorkflowModel

@main
struct StoreDriver: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bomflow-store-driver",
        abstract: "Drives an LMDB store from its own process (tests and benchmarks; not shipped).",
        subcommands: [
            Writer.self, VerifyCrash.self, Hammer.self, HoldRead.self, HoldWrite.self, Churn.self, Bench.self,
            Stats.self,
        ])
}

/// The store every command opens.
struct StoreOptionsArguments: ParsableArguments {
    @Option(help: "The data directory.") var dir: String
    @Option(help: "The map size in bytes.") var mapSize: Int = 64 << 30
    @Option(help: "full or none.") var sync: String = "full"

    func open() -> LMDBStore {
        var options = StoreOptions()
        options.mapSize = mapSize
        options.durability = StoreOptions.Durability(rawValue: sync) ?? .full
        do { return try LMDBStore(path: dir, options: options) } catch { fail("cannot open store: \(error)") }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bomflow-store-driver: \(message)\n".utf8))
    exit(2)
}

func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// One JSON object line, members in name order.
func emit(_ members: [String: JSONValue]) {
    var json = JSONWriter()
    json.value(.object(members))
    emit(json.text)
}

extension JSONValue {
    static func int(_ value: Int) -> JSONValue { .integer(Int64(value)) }
    static func strings(_ values: [String]) -> JSONValue { .array(values.map(JSONValue.string)) }
}

/// Token of workflow `index` written by process `process` (deterministic, so a checker can
/// recompute what each process wrote).
func processToken(_ process: Int, _ index: Int) -> Token {
    Token(high: UInt64(process) << 32 | 0x4000, low: 0x8000_0000_0000_0000 | UInt64(index))
}

/// The two operations of crash-test item `index`: a create with a payload label, then a step
/// update whose outcome depends on `index`.
func crashOperations(_ index: Int) -> [WriteOperation] {
    let token = processToken(0, index)
    let labels = try! Labels([
        "seq": String(index), "payload": String(repeating: String(index % 10), count: 1 + index % 97),
    ])
    let update: StepCommand =
        index % 2 == 0 ? .setStatus(.failed, failureReason: "r-\(index)") : .setStatus(.completed, failureReason: nil)
    return [
        .create(token: token, definition: WorkflowDefinition(template: .bomUpload), labels: labels, createdBy: "crash"),
        .update(token: token, step: .bomConsumption, command: update),
    ]
}

/// Checks that crash-test item `index` is stored exactly as its operations leave it.
func crashItemProblem(_ store: LMDBStore, _ index: Int) throws -> String? {
    guard let workflow = try store.workflow(processToken(0, index)) else { return "missing" }
    guard workflow.labels["seq"] == String(index),
        workflow.labels["payload"] == String(repeating: String(index % 10), count: 1 + index % 97)
    else { return "labels differ" }
    let first = workflow.step(.bomConsumption)
    if index % 2 == 0 {
        guard first?.status == .failed, first?.failureReason == "r-\(index)",
            workflow.steps.dropFirst().allSatisfy({ $0.status == .cancelled })
        else { return "expected failed+cancelled" }
    } else {
        guard first?.status == .completed, workflow.step(.bomProcessing)?.status == .pending else {
            return "expected completed"
        }
    }
    return nil
}

/// Crash-test writer: items start, start+1, … in groups; "ACK i" after the commit returned (or,
/// with --ack-early, the negative control, before the commit).
struct Writer: ParsableCommand {
    @OptionGroup var store: StoreOptionsArguments
    @Option var group = 1
    @Option var start = 0
    @Option var count = Int.max
    @Flag var ackEarly = false

    func run() {
        let store = self.store.open()
        var index = start
        while index < count {
            let items = Array(index..<index + group)
            if ackEarly { emit(items.map { "ACK \($0)" }.joined(separator: "\n")) }
            do {
                let results = try store.perform(items.flatMap(crashOperations))
                for result in results { if case .failure(let refusal) = result { fail("refused: \(refusal)") } }
            } catch {
                fail("write failed: \(error)")
            }
            if !ackEarly { emit(items.map { "ACK \($0)" }.joined(separator: "\n")) }
            index += group
        }
    }
}

/// Reads the acknowledged items (one integer a line) and checks each, plus ordering: an item
/// present implies every earlier item present.
struct VerifyCrash: ParsableCommand {
    @OptionGroup var store: StoreOptionsArguments
    @Option var acked: String

    func run() throws {
        let store = self.store.open()
        let acked =
            (try? String(contentsOfFile: acked, encoding: .utf8))?.split(separator: "\n").compactMap { Int($0) } ?? []
        var lost: [Int] = []
        var mismatched: [String] = []
        for index in acked {
            do {
                if let problem = try crashItemProblem(store, index) {
                    if problem == "missing" { lost.append(index) } else { mismatched.append("\(index): \(problem)") }
                }
            } catch { fail("read failed: \(error)") }
        }
        // Ordering: count stored items; they must be exactly 0..<stored.
        var stored = 0
        while (try? store.workflow(processToken(0, stored))) != nil { stored += 1 }
        let page = try? store.list(WorkflowQuery(limit: 1000))
        let total = (try? store.statistics().workflows) ?? -1
        let gaps = total - stored
        let integrity = (try? store.verifyIntegrity()) ?? ["verify failed"]
        emit([
            "acked": .int(acked.count), "maxAcked": .int(acked.max() ?? -1), "stored": .int(stored),
            "lost": .int(lost.count), "mismatched": .int(mismatched.count), "gaps": .int(gaps),
            "integrity": .int(integrity.count), "listed": .int(page?.workflows.count ?? -1),
            "details": .strings(Array((lost.map(String.init) + mismatched + integrity).prefix(10))),
        ])
        throw ExitCode(lost.isEmpty && mismatched.isEmpty && gaps == 0 && integrity.isEmpty ? 0 : 1)
    }
}

/// One of several processes writing its own workflows and adding steps to shared ones, while
/// reading everyone's.
struct Hammer: ParsableCommand {
    @OptionGroup var store: StoreOptionsArguments
    @Option var process: Int
    @Option var count: Int
    @Option var shared = 0
    @Option var pad = 0
    @Option var processes = 1

    func run() throws {
        let store = self.store.open()
        let pad = String(repeating: "p", count: self.pad)
        var errors: [String] = []
        var reads = 0
        for index in 0..<count {
            let token = processToken(process, index)
            var operations: [WriteOperation] = [
                .create(
                    token: token, definition: WorkflowDefinition(template: .bomUpload),
                    labels: try! Labels(["process": String(process), "pad": pad]), createdBy: nil),
                .update(token: token, step: .bomConsumption, command: .setStatus(.completed, failureReason: nil)),
                .update(
                    token: token, step: .bomProcessing,
                    command: index % 3 == 0
                        ? .setStatus(.failed, failureReason: "fail \(index)")
                        : .setStatus(.completed, failureReason: nil)),
            ]
            if shared > 0 {
                operations.append(
                    .addSteps(
                        token: processToken(999, index % shared),
                        steps: [StepSpec(StepName("P\(process)_\(index)")!, parent: .bomConsumption)]))
            }
            // Alternate single-operation transactions and grouped ones.
            do {
                if index % 2 == 0 {
                    for operation in operations { _ = try store.perform(operation) }
                } else {
                    for result in try store.perform(operations) {
                        if case .failure(let refusal) = result { throw refusal }
                    }
                }
            } catch {
                errors.append("\(index): \(error)")
            }
            // Read someone else's workflow and list.
            let other = processToken((process + 1) % max(processes, 1), index)
            do {
                _ = try store.isProcessing(other)
                _ = try store.workflow(other)
                if index % 50 == 0 {
                    _ = try store.list(WorkflowQuery(label: .init(key: "process", value: String(process)), limit: 20))
                }
                reads += 3
            } catch {
                errors.append("read \(index): \(error)")
            }
            if index % 100 == 0 { _ = try? store.clearStaleReaders() }
        }
        emit([
            "process": .int(process), "written": .int(count), "reads": .int(reads), "errors": .int(errors.count),
            "firstErrors": .strings(Array(errors.prefix(5))), "mapResizes": .int(store.mapResizeCount),
        ])
        throw ExitCode(errors.isEmpty ? 0 : 1)
    }
}

/// Opens a read transaction and never ends it (killed by the test): a stale reader.
struct HoldRead: ParsableCommand {
    @OptionGroup var store: StoreOptionsArguments
    func run() { store.open().holdReadTransactionForever { emit("READING") } }
}

/// Opens a write transaction and never commits (killed by the test).
struct HoldWrite: ParsableCommand {
    @OptionGroup var store: StoreOptionsArguments
    func run() { store.open().holdWriteTransactionForever { emit("WRITING") } }
}

/// Overwrites the same 50 workflows again and again (restart cycles); prints the file size.
struct Churn: ParsableCommand {
    @OptionGroup var store: StoreOptionsArguments
    @Option var rounds: Int

    func run() {
        let store = self.store.open()
        let labels = try! Labels(["payload": String(repeating: "p", count: 250)])
        for index in 0..<50 {
            _ = try? store.perform(
                .create(
                    token: processToken(7, index), definition: WorkflowDefinition(template: .projectClone),
                    labels: labels, createdBy: nil))
        }
        var errors = 0
        for round in 0..<rounds {
            let token = processToken(7, round % 50)
            do {
                try store.perform(
                    .update(
                        token: token, step: .projectClone,
                        command: .setStatus(.failed, failureReason: String(repeating: "r", count: 3000))))
                try store.perform(.restart(token: token, step: .projectClone))
            } catch { errors += 1 }
        }
        emit([
            "dataBytes": .int(fileSize(self.store.dir + "/data.mdb")), "errors": .int(errors),
            "staleReadersCleared": .int((try? store.statistics().staleReadersCleared) ?? -1),
        ])
    }
}

func fileSize(_ path: String) -> Int {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
}

/// Store-level operations per second on a store of --workflows BOM_UPLOAD workflows (loaded on
/// first use), for scripts/bench; raw-lmdb.c measures the same shapes.
struct Bench: ParsableCommand {
    @OptionGroup var store: StoreOptionsArguments
    @Option var workflows: Int
    @Option var ops = 200_000

    func run() throws {
        let store = self.store.open()
        let clock = ContinuousClock()
        func token(_ index: Int) -> Token { processToken(1, index) }
        var have = (try? store.statistics().workflows) ?? 0
        let loadStart = clock.now
        while have < workflows {
            let batch = (have..<min(have + 1000, workflows)).map { index in
                WriteOperation.create(
                    token: token(index), definition: WorkflowDefinition(template: .bomUpload), labels: Labels(),
                    createdBy: nil)
            }
            do { _ = try store.perform(batch) } catch { fail("load failed: \(error)") }
            have += batch.count
        }
        let loadSeconds = (clock.now - loadStart).seconds
        var random = SystemRandomNumberGenerator()
        func rate(_ count: Int, _ body: () throws -> Void) rethrows -> Double {
            let start = clock.now
            try body()
            return Double(count) / (clock.now - start).seconds
        }
        let workflows = self.workflows
        let ops = self.ops
        var hits = 0
        let poll = try rate(ops) {
            for _ in 0..<ops where try store.isProcessing(token(Int.random(in: 0..<workflows, using: &random))) {
                hits += 1
            }
        }
        let get = try rate(ops) {
            for _ in 0..<ops where try store.workflow(token(Int.random(in: 0..<workflows, using: &random))) != nil {
                hits += 1
            }
        }
        let writes = min(max(ops / 50, 20), 200)
        let single = try rate(writes) {
            for _ in 0..<writes {
                try store.perform(
                    .update(
                        token: token(Int.random(in: 0..<workflows, using: &random)), step: .bomConsumption,
                        command: .start))
            }
        }
        let grouped = try rate(writes * 64) {
            for _ in 0..<writes {
                let batch = (0..<64).map { _ in
                    WriteOperation.update(
                        token: token(Int.random(in: 0..<workflows, using: &random)), step: .bomConsumption,
                        command: .start)
                }
                for result in try store.perform(batch) { _ = try result.get() }
            }
        }
        emit([
            "impl": .string("bomflow-store"), "workflows": .int(workflows),
            "loadSeconds": .number((loadSeconds * 10).rounded() / 10), "isProcessing": .int(Int(poll)),
            "getWorkflow": .int(Int(get)), "durableUpdate": .int(Int(single)), "groupedUpdate64": .int(Int(grouped)),
            "hits": .int(hits), "dataBytes": .int(fileSize(self.store.dir + "/data.mdb")),
            "mapUsedBytes": .int((try? store.mapUsage().used) ?? -1),
        ])
    }
}

/// Counts and the reader table.
struct Stats: ParsableCommand {
    @OptionGroup var store: StoreOptionsArguments

    func run() {
        let stats = try! store.open().statistics()
        emit([
            "workflows": .int(stats.workflows), "readers": .int(stats.readers.count),
            "readerPIDs": .array(stats.readers.map { .int(Int($0.pid)) }),
            "staleReadersCleared": .int(stats.staleReadersCleared), "mapSize": .int(stats.mapSize),
        ])
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
