internal import Dispatch
internal import FoundationEssentials
public import JSON
internal import Logging
internal import Sockets
internal import Storage
internal import WorkflowAPI
public import WorkflowModel

/// What `serve --simulate PROFILE` does with each kind of step: how long the simulated work
/// takes, and how often it fails or does not apply. Read from a JSON profile
/// (`fixtures/simulations/*.json`; ``builtIn`` when the profile is `default`):
///
/// ```json
/// {"steps": {"BOM_CONSUMPTION": {"delayMilliseconds": [50, 150]},
///            "VULN_ANALYSIS": {"delayMilliseconds": 300, "failureProbability": 0.1,
///                              "failureReason": "Analyzer unavailable", "notApplicableProbability": 0.05}},
///  "leaseSeconds": 60, "pollMilliseconds": 20}
/// ```
public struct SimulationProfile: Sendable, Equatable {
    /// One kind of step.
    public struct StepBehaviour: Sendable, Equatable {
        /// The simulated work takes a time drawn evenly from this range (milliseconds).
        public var delay: ClosedRange<Int>
        /// Chance that the step ends `FAILED` with ``failureReason``.
        public var failureProbability: Double
        public var failureReason: String
        /// Chance that the step ends `NOT_APPLICABLE` (drawn after the failure chance).
        public var notApplicableProbability: Double
    }

    /// The step kinds the simulator claims, and what it does with each.
    public var steps: [StepName: StepBehaviour]
    /// The lease the simulator claims with (it must outlast the longest delay).
    public var leaseSeconds: Int
    /// How often the simulator looks for ready steps while it has nothing to do.
    public var pollMilliseconds: Int

    /// The default profile: every built-in step succeeds after 20–80 ms (10–40 ms for the cheap
    /// ones), about a second from upload to `COMPLETED` for a `BOM_UPLOAD` workflow.
    public static let builtInJSON = """
        {
          "description": "Every built-in step succeeds after a short, varying delay.",
          "leaseSeconds": 60,
          "pollMilliseconds": 20,
          "steps": {
            "BOM_CONSUMPTION": {"delayMilliseconds": [50, 150]},
            "BOM_PROCESSING": {"delayMilliseconds": [100, 250]},
            "VULN_ANALYSIS": {"delayMilliseconds": [150, 400]},
            "REPO_META_ANALYSIS": {"delayMilliseconds": [50, 150]},
            "POLICY_EVALUATION": {"delayMilliseconds": [20, 80]},
            "METRICS_UPDATE": {"delayMilliseconds": [20, 80]},
            "POLICY_BUNDLE_SYNC": {"delayMilliseconds": [20, 80]},
            "PROJECT_CLONE": {"delayMilliseconds": [50, 150]}
          }
        }
        """

    /// ``builtInJSON`` parsed (a test checks that it parses and equals the fixture).
    public static let builtIn: SimulationProfile = {
        do { return try parse(Array(builtInJSON.utf8)) } catch {
            fatalError("the built-in simulation profile does not parse: \(error)")
        }
    }()

    /// Parses a profile strictly: unknown members, probabilities outside 0...1, negative or
    /// reversed delays, a lease shorter than the longest delay are refused with the member's path.
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> SimulationProfile {
        let root = try JSONObjectReader(try JSONValue.parse(bytes, what: "The simulation profile"), context: "profile")
        try root.allowOnly(["description", "steps", "leaseSeconds", "pollMilliseconds"])
        _ = try root.string("description")
        let lease = try root.integer("leaseSeconds") ?? 60
        let poll = try root.integer("pollMilliseconds") ?? 20
        guard (1...3600).contains(lease) else { throw .invalid("leaseSeconds", "leaseSeconds is 1 to 3600") }
        guard (1...10_000).contains(poll) else { throw .invalid("pollMilliseconds", "pollMilliseconds is 1 to 10000") }
        guard case .object(let members)? = root.value("steps"), !members.isEmpty else {
            throw .invalid("steps", "steps is an object naming at least one step kind")
        }
        var steps: [StepName: StepBehaviour] = [:]
        for (name, value) in members.sorted(by: { $0.key < $1.key }) {
            let path = "steps.\(name)"
            guard let step = StepName(name) else { throw .invalid(path, "'\(name)' is not a step name") }
            let item = try JSONObjectReader(value, context: path)
            try item.allowOnly(["delayMilliseconds", "failureProbability", "failureReason", "notApplicableProbability"])
            var delay = 0...0
            func milliseconds(_ value: JSONValue) -> Int? {
                guard case .integer(let number) = value, (0...3_600_000).contains(number) else { return nil }
                return Int(number)
            }
            switch item.value("delayMilliseconds") {
            case nil, .null?: break
            case .array(let pair)?:
                guard pair.count == 2, let low = milliseconds(pair[0]), let high = milliseconds(pair[1]), low <= high
                else {
                    throw .invalid(
                        path + ".delayMilliseconds", "a delay range is [min, max] in ms, 0 ≤ min ≤ max ≤ 3600000")
                }
                delay = low...high
            case let value?:
                guard let fixed = milliseconds(value) else {
                    throw .invalid(path + ".delayMilliseconds", "a delay is 0 to 3600000 ms, or [min, max]")
                }
                delay = fixed...fixed
            }
            let failure = try item.number("failureProbability") ?? 0
            let notApplicable = try item.number("notApplicableProbability") ?? 0
            for (member, chance) in [("failureProbability", failure), ("notApplicableProbability", notApplicable)] {
                guard (0...1).contains(chance) else { throw .invalid(path + "." + member, "\(member) is 0 to 1") }
            }
            let reason = try item.string("failureReason") ?? "Simulated failure"
            guard !reason.isEmpty, reason.utf8.count <= Limits.maxFailureReasonBytes else {
                throw .invalid(path + ".failureReason", "failureReason is 1 to \(Limits.maxFailureReasonBytes) bytes")
            }
            guard delay.upperBound < Int(lease) * 1000 else {
                throw .invalid(path + ".delayMilliseconds", "the longest delay must be shorter than leaseSeconds")
            }
            steps[step] = StepBehaviour(
                delay: delay, failureProbability: failure, failureReason: reason,
                notApplicableProbability: notApplicable)
        }
        return SimulationProfile(steps: steps, leaseSeconds: Int(lease), pollMilliseconds: Int(poll))
    }

    /// What the simulator does with the `ordinal`-th step named `step` it claims (0, 1, …): a
    /// pure function of the seed, the step name and the ordinal, so a harness that uploads one BOM
    /// after another gets the same outcomes from every run with the same `--simulate-seed`
    /// (the tokens, which the server makes, play no part).
    public func outcome(of step: StepName, ordinal: UInt64, seed: UInt64) -> (
        delay: Int, status: StepStatus, reason: String?
    )? {
        guard let behaviour = steps[step] else { return nil }
        var random = SplitMix64(seed: seed ^ fnv1a(step.rawValue) ^ (ordinal &* 0x9E37_79B9_7F4A_7C15))
        let span = UInt64(behaviour.delay.upperBound - behaviour.delay.lowerBound + 1)
        let delay = behaviour.delay.lowerBound + Int(random.next() % span)
        let draw = Double(random.next() >> 11) / Double(1 << 53)
        if draw < behaviour.failureProbability { return (delay, .failed, behaviour.failureReason) }
        let second = Double(random.next() >> 11) / Double(1 << 53)
        if second < behaviour.notApplicableProbability { return (delay, .notApplicable, nil) }
        return (delay, .completed, nil)
    }

    private func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

/// SplitMix64: a small, seedable generator (deterministic simulations).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The built-in workers of `serve --simulate`: one thread that claims ready steps of the
/// profile's kinds through the write queue (worker `simulator`, the same claims and leases as
/// real workers), waits out each step's simulated work, and reports its outcome.
final class Simulator: @unchecked Sendable {
    static let worker = "simulator"
    let logger = Logger(label: "bomflow.simulator")
    let store: any WorkflowStorage
    let writer: WriteQueue
    let profile: SimulationProfile
    let seed: UInt64
    private let stopped = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(store: any WorkflowStorage, writer: WriteQueue, profile: SimulationProfile, seed: UInt64) {
        self.store = store
        self.writer = writer
        self.profile = profile
        self.seed = seed
    }

    /// A step whose simulated work ends at `due`.
    private struct Work {
        let token: Token
        let step: StepName
        let due: ContinuousClock.Instant
        let status: StepStatus
        let reason: String?
    }

    func start() {
        PosixThread.start(name: "bomflow-simulator") { [self] in
            run()
            done.signal()
        }
    }

    /// Stops claiming; steps in simulated work keep their leases and go back to ready when the
    /// leases end (another simulator, or this one after a restart, takes them).
    func stop() {
        stopped.signal()
        done.wait()
    }

    private func run() {
        let names = profile.steps.keys.sorted { $0.rawValue < $1.rawValue }
        var work: [Work] = []
        var claimedSoFar: [StepName: UInt64] = [:]
        while true {
            let now = ContinuousClock.now
            let due = work.filter { $0.due <= now }
            if !due.isEmpty {
                work.removeAll { $0.due <= now }
                report(due)
            }
            if work.count < 1000, (try? store.hasClaimable(names)) == true {
                // Claims come longest-ready first; within one claim, by step name then token, so that
                // the ordinals do not depend on the order the store returned them in.
                let claims = claim(names, max: 100).sorted {
                    ($0.step.rawValue, $0.token.description) < ($1.step.rawValue, $1.token.description)
                }
                for claimed in claims {
                    let ordinal = claimedSoFar[claimed.step, default: 0]
                    claimedSoFar[claimed.step] = ordinal + 1
                    guard let outcome = profile.outcome(of: claimed.step, ordinal: ordinal, seed: seed) else {
                        continue
                    }
                    work.append(
                        Work(
                            token: claimed.token, step: claimed.step,
                            due: ContinuousClock.now + .milliseconds(outcome.delay), status: outcome.status,
                            reason: outcome.reason))
                }
            }
            var wait = Duration.milliseconds(profile.pollMilliseconds)
            if let next = work.map(\.due).min() { wait = min(wait, max(.zero, next - ContinuousClock.now)) }
            let milliseconds = Int(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)
            if stopped.wait(timeout: .now() + .milliseconds(max(milliseconds, 1))) == .success { return }
        }
    }

    /// Claims through the write queue and waits for the commit.
    private func claim(_ names: [StepName], max: Int) -> [ClaimedStep] {
        let operation = WriteOperation.claim(
            steps: names, worker: Self.worker, leaseMilliseconds: Int64(profile.leaseSeconds) * 1000, max: max)
        let results = submitAndWait([operation])
        guard case .success(.claimed(let claims))? = results?.first else { return [] }
        return claims
    }

    /// Reports finished work in one write; a refusal (an admin changed the step meanwhile, the
    /// workflow was deleted) is logged and dropped.
    private func report(_ finished: [Work]) {
        let operations = finished.map { item in
            WriteOperation.update(
                token: item.token, step: item.step, command: .setStatus(item.status, failureReason: item.reason),
                actor: .worker(Self.worker))
        }
        guard let results = submitAndWait(operations) else { return }
        for (item, result) in zip(finished, results) {
            if case .failure(let refusal) = result {
                logger.debug("simulated outcome refused", metadata: ["token": "\(item.token)", "error": "\(refusal)"])
            }
        }
    }

    private func submitAndWait(_ operations: [WriteOperation]) -> [Result<WriteOutcome, WorkflowError>]? {
        switch writer.submitAndWait(operations) {
        case .success(let results): return results
        case .failure(let error):
            logger.warning("simulated work could not be written", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
