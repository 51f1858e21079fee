// bomflow-store-driver: drives a WorkflowStore from its own process, for the multi-process
// tests, scripts/crash-test and scripts/bench. Not shipped; every command prints one JSON line
// (or ACK lines) on stdout.
import Foundation
import WorkflowModel
import WorkflowStore

struct Arguments {
    let command: String
    let values: [String: String]
    let flags: Set<String>

    init(_ argv: [String]) {
        command = argv.dropFirst().first ?? "help"
        var values: [String: String] = [:]
        var flags: Set<String> = []
        var index = 2
        while index < argv.count {
            let word = argv[index]
            if word.hasPrefix("--"), index + 1 < argv.count, !argv[index + 1].hasPrefix("--") {
                values[String(word.dropFirst(2))] = argv[index + 1]
                index += 2
            } else {
                flags.insert(String(word.dropFirst(2)))
                index += 1
            }
        }
        self.values = values
        self.flags = flags
    }

    func string(_ key: String, _ fallback: String? = nil) -> String {
        guard let value = values[key] ?? fallback else { fail("missing --\(key)") }
        return value
    }

    func int(_ key: String, _ fallback: Int? = nil) -> Int {
        guard let value = values[key].flatMap(Int.init) ?? fallback else { fail("missing or invalid --\(key)") }
        return value
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bomflow-store-driver: \(message)\n".utf8))
    exit(2)
}

func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func json(_ object: [String: Any]) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}

func openStore(_ arguments: Arguments) -> WorkflowStore {
    var options = StoreOptions()
    options.mapSize = arguments.int("map-size", 64 << 30)
    options.durability = StoreOptions.Durability(rawValue: arguments.string("sync", "full")) ?? .full
    do { return try WorkflowStore(path: arguments.string("dir"), options: options) } catch {
        fail("cannot open store: \(error)")
    }
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
func crashItemProblem(_ store: WorkflowStore, _ index: Int) throws -> String? {
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

let arguments = Arguments(CommandLine.arguments)
switch arguments.command {
case "writer":
    // Crash-test writer: items start, start+1, … in groups; "ACK i" after the commit returned
    // (or, with --ack-early, the negative control, before the commit).
    let store = openStore(arguments)
    let group = arguments.int("group", 1)
    let ackEarly = arguments.flags.contains("ack-early")
    var index = arguments.int("start", 0)
    let stop = arguments.int("count", Int.max)
    while index < stop {
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

case "verify-crash":
    // Reads the acknowledged items (one integer a line) and checks each, plus ordering: an item
    // present implies every earlier item present.
    let store = openStore(arguments)
    let acked =
        (try? String(contentsOfFile: arguments.string("acked"), encoding: .utf8))?
        .split(separator: "\n").compactMap { Int($0) } ?? []
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
    emit(
        json([
            "acked": acked.count, "maxAcked": acked.max() ?? -1, "stored": stored, "lost": lost.count,
            "mismatched": mismatched.count, "gaps": gaps, "integrity": integrity.count,
            "listed": page?.workflows.count ?? -1,
            "details": Array((lost.map(String.init) + mismatched + integrity).prefix(10)),
        ]))
    exit(lost.isEmpty && mismatched.isEmpty && gaps == 0 && integrity.isEmpty ? 0 : 1)

case "hammer":
    // One of several processes writing its own workflows and adding steps to shared ones,
    // while reading everyone's.
    let store = openStore(arguments)
    let process = arguments.int("process")
    let count = arguments.int("count")
    let shared = arguments.int("shared", 0)
    let pad = String(repeating: "p", count: arguments.int("pad", 0))
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
                    ? .setStatus(.failed, failureReason: "fail \(index)") : .setStatus(.completed, failureReason: nil)),
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
                for result in try store.perform(operations) { if case .failure(let refusal) = result { throw refusal } }
            }
        } catch {
            errors.append("\(index): \(error)")
        }
        // Read someone else's workflow and list.
        let other = processToken((process + 1) % max(arguments.int("processes", 1), 1), index)
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
    emit(
        json([
            "process": process, "written": count, "reads": reads, "errors": errors.count,
            "firstErrors": Array(errors.prefix(5)), "mapResizes": store.mapResizeCount,
        ]))
    exit(errors.isEmpty ? 0 : 1)

case "hold-read":
    // Opens a read transaction and never ends it (killed by the test): a stale reader.
    let store = openStore(arguments)
    store.holdReadTransactionForever { emit("READING") }

case "hold-write":
    // Opens a write transaction and never commits (killed by the test).
    let store = openStore(arguments)
    store.holdWriteTransactionForever { emit("WRITING") }

case "churn":
    // Overwrites the same 50 workflows again and again (restart cycles); prints the file size.
    let store = openStore(arguments)
    let rounds = arguments.int("rounds")
    let labels = try! Labels(["payload": String(repeating: "p", count: 250)])
    for index in 0..<50 {
        _ = try? store.perform(
            .create(
                token: processToken(7, index), definition: WorkflowDefinition(template: .projectClone), labels: labels,
                createdBy: nil))
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
    let size =
        (try? FileManager.default.attributesOfItem(atPath: arguments.string("dir") + "/data.mdb")[.size] as? Int) ?? -1
    emit(
        json([
            "dataBytes": size, "errors": errors,
            "staleReadersCleared": (try? store.statistics().staleReadersCleared) ?? -1,
        ]))

case "bench":
    // Store-level operations per second on a store of --workflows BOM_UPLOAD workflows
    // (loaded on first use), for scripts/bench; raw-lmdb.c measures the same shapes.
    let store = openStore(arguments)
    let workflows = arguments.int("workflows")
    let ops = arguments.int("ops", 200_000)
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
                    token: token(Int.random(in: 0..<workflows, using: &random)), step: .bomConsumption, command: .start)
            )
        }
    }
    let grouped = try rate(writes * 64) {
        for _ in 0..<writes {
            let batch = (0..<64).map { _ in
                WriteOperation.update(
                    token: token(Int.random(in: 0..<workflows, using: &random)), step: .bomConsumption, command: .start)
            }
            for result in try store.perform(batch) { _ = try result.get() }
        }
    }
    emit(
        json([
            "impl": "bomflow-store", "workflows": workflows, "loadSeconds": (loadSeconds * 10).rounded() / 10,
            "isProcessing": Int(poll), "getWorkflow": Int(get), "durableUpdate": Int(single),
            "groupedUpdate64": Int(grouped), "hits": hits,
            "dataBytes":
                (try? FileManager.default.attributesOfItem(atPath: arguments.string("dir") + "/data.mdb")[.size] as? Int)
                ?? -1,
            "mapUsedBytes": (try? store.mapUsage().used) ?? -1,
        ]))

case "stats":
    let store = openStore(arguments)
    let stats = try! store.statistics()
    emit(
        json([
            "workflows": stats.workflows, "readers": stats.readers.count,
            "readerPIDs": stats.readers.map { Int($0.pid) }, "staleReadersCleared": stats.staleReadersCleared,
            "mapSize": stats.mapSize,
        ]))

default:
    fail(
        "unknown command \(arguments.command); commands: writer, verify-crash, hammer, hold-read, hold-write, churn, bench, stats"
    )
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
