/// A workflow: the steps that processing one upload (or one re-analysis, clone, sync) takes,
/// identified by its token, with its metadata.
///
/// All operations are pure and synchronous: they validate first and throw
/// ``WorkflowError`` without changing anything, or apply the whole change (including
/// cascades and readiness bumps). Time comes in as `now`, so callers and tests control it.
public struct Workflow: Sendable, Equatable {
    /// The workflow's identifier.
    public let token: Token
    /// When the workflow was created.
    public var createdAt: Timestamp
    /// The template it was created from, if any.
    public var template: Template?
    /// The name of the API key that created it, if known.
    public var createdBy: String?
    /// Free-form labels.
    public var labels: Labels
    /// Grows by one with every change; lets watchers ask "changed since version N?".
    public var version: UInt64
    /// How many of ``steps`` (the first ones) came from the create request: the definition
    /// that makes a repeated create idempotent.
    public var definitionStepCount: Int
    /// The steps in the order they were added.
    public private(set) var steps: [Step]
    /// Workflows with the same key run one after another, in creation order (uploads of one
    /// project: the project's UUID). Nil: no ordering.
    public var concurrencyKey: String?
    /// True while an earlier workflow with the same ``concurrencyKey`` is still processing: no
    /// step of this one is ready. Kept by the store, which knows the other workflows.
    public var isHeld = false
    /// 0 to 100 (default 50): claims hand out ready steps of higher priority first, in ready
    /// order within one priority.
    public var priority = Workflow.defaultPriority

    /// The priority of a workflow created without one.
    public static let defaultPriority = 50
    /// The priorities a workflow may have.
    public static let priorities = 0...100

    /// Assembles a workflow from stored parts; no validation. Use ``make(token:definition:labels:createdBy:now:)``
    /// for new workflows.
    public init(
        token: Token, createdAt: Timestamp, template: Template?, createdBy: String?, labels: Labels,
        version: UInt64, definitionStepCount: Int, steps: [Step], concurrencyKey: String? = nil, isHeld: Bool = false,
        priority: Int = Workflow.defaultPriority
    ) {
        self.priority = priority
        self.concurrencyKey = concurrencyKey
        self.isHeld = isHeld
        self.token = token
        self.createdAt = createdAt
        self.template = template
        self.createdBy = createdBy
        self.labels = labels
        self.version = version
        self.definitionStepCount = definitionStepCount
        self.steps = steps
    }

    /// Creates a workflow from a definition, validating it completely first.
    ///
    /// - Throws: ``WorkflowError`` — `emptyDefinition`, `duplicateStep`, `unknownParent`,
    ///   `cycle`, `invalidInitialStatus`, `tooManySteps`, `creatorTooLong`.
    public static func make(
        token: Token, definition: WorkflowDefinition, labels: Labels = Labels(), createdBy: String? = nil,
        concurrencyKey: String? = nil, now: Timestamp
    ) throws(WorkflowError) -> Workflow {
        let specs = definition.expandedSteps
        guard !specs.isEmpty else { throw .emptyDefinition }
        if let createdBy, createdBy.utf8.count > Limits.maxCreatorBytes {
            throw .creatorTooLong(bytes: createdBy.utf8.count)
        }
        if let concurrencyKey { try validateConcurrencyKey(concurrencyKey) }
        try validatePriority(definition.priority)
        var workflow = Workflow(
            token: token, createdAt: now, template: definition.template, createdBy: createdBy, labels: labels,
            version: 1, definitionStepCount: 0, steps: [], concurrencyKey: concurrencyKey,
            priority: definition.priority)
        try workflow.addSteps(specs, now: now)
        workflow.definitionStepCount = workflow.steps.count
        return workflow
    }

    // MARK: Derived state

    /// The steps of the create request, as specifications.
    public var definition: [StepSpec] {
        steps.prefix(definitionStepCount).map { StepSpec($0.name, parent: $0.parent, status: $0.createdAs) }
    }

    /// True when a create request with `definition` and `labels` asks for this same workflow,
    /// so that repeating it is an idempotent success rather than a conflict.
    public func hasDefinition(
        _ other: WorkflowDefinition, labels labelsAsked: Labels, concurrencyKey keyAsked: String? = nil
    ) -> Bool {
        template == other.template && Set(definition) == Set(other.expandedSteps)
            && definition.count == other.expandedSteps.count && labels == labelsAsked && concurrencyKey == keyAsked
            && priority == other.priority
    }

    /// Refuses a priority outside ``priorities``.
    public static func validatePriority(_ priority: Int) throws(WorkflowError) {
        guard priorities.contains(priority) else { throw .invalidPriority(priority) }
    }

    /// The index in ``steps`` of the step named `name`.
    public func index(of name: StepName) -> Int? { steps.firstIndex { $0.name == name } }

    /// The step named `name`.
    public func step(_ name: StepName) -> Step? { index(of: name).map { steps[$0] } }

    /// True while some step is `PENDING` or `TIMED_OUT`: what Dependency-Track's poll answers.
    public var isProcessing: Bool { steps.contains { !$0.status.isTerminal } }

    /// The newest `updatedAt` of any step (retention counts from it).
    public var lastUpdatedAt: Timestamp { steps.map(\.updatedAt).max() ?? createdAt }

    /// True when the step at `index` is `PENDING` and has no parent or a `COMPLETED` /
    /// `NOT_APPLICABLE` parent: the orchestrator may start it.
    public func isReady(_ index: Int) -> Bool {
        // Fields read in place: a copy of the step would retain each of its strings.
        guard steps[index].status == .pending, !isHeld else { return false }
        guard let parent = steps[index].parent else { return true }
        guard let parentIndex = self.index(of: parent) else { return false }
        return steps[parentIndex].status.releasesChildren
    }

    /// True when the step at `index` is ready and no worker holds it: a claim may take it.
    public func isClaimable(_ index: Int) -> Bool { isReady(index) && steps[index].claim == nil }

    /// Names of the steps that are ready, in insertion order.
    public var readySteps: [StepName] { steps.indices.filter(isReady).map { steps[$0].name } }

    /// Indices of the direct children of the step at `index`, in insertion order.
    public func children(of index: Int) -> [Int] {
        let name = steps[index].name
        return steps.indices.filter { steps[$0].parent == name }
    }

    /// Indices of every descendant of the step at `index` (not the step itself), parents first.
    public func descendants(of index: Int) -> [Int] {
        var result: [Int] = []
        var stack = children(of: index).reversed() as [Int]
        while let next = stack.popLast() {
            result.append(next)
            stack.append(contentsOf: children(of: next).reversed())
        }
        return result
    }

    /// The steps in tree order: each root in insertion order followed depth-first by its
    /// subtree, children in insertion order. This is the order of the status endpoint.
    public var stepsInTreeOrder: [Step] { indicesInTreeOrder.map { steps[$0] } }

    /// The indices of ``stepsInTreeOrder``: each step's parent is looked up once, not every
    /// step compared with every other.
    public var indicesInTreeOrder: [Int] {
        var children = [[Int]](repeating: [], count: steps.count)
        var roots: [Int] = []
        for index in steps.indices {
            guard let parent = steps[index].parent else {
                roots.append(index)
                continue
            }
            if let parentIndex = self.index(of: parent) { children[parentIndex].append(index) }
        }
        var ordered: [Int] = []
        ordered.reserveCapacity(steps.count)
        var stack: [Int] = []
        for root in roots {
            stack.append(root)
            while let next = stack.popLast() {
                ordered.append(next)
                stack.append(contentsOf: children[next].reversed())
            }
        }
        return ordered
    }

    /// The nearest step from `name` upwards (itself included) that is `FAILED` or `CANCELLED`:
    /// a pending step below it could never run.
    func cancellingAncestor(from name: StepName) -> (name: StepName, status: StepStatus)? {
        var current: StepName? = name
        var hops = 0
        while let stepName = current, let index = index(of: stepName), hops <= steps.count {
            if steps[index].status.cascadesCancellation { return (stepName, steps[index].status) }
            current = steps[index].parent
            hops += 1
        }
        return nil
    }

    // MARK: Changes

    /// Adds steps to the workflow (also while it runs).
    ///
    /// Parents may be other new steps (in any order) or existing steps. New steps get
    /// `updatedAt = now`.
    /// - Throws: ``WorkflowError`` — `duplicateStep`, `unknownParent`, `cycle`,
    ///   `invalidInitialStatus`, `tooManySteps`, `parentFinished`.
    public mutating func addSteps(_ specs: [StepSpec], now: Timestamp) throws(WorkflowError) {
        guard !specs.isEmpty else { throw .emptyDefinition }
        guard steps.count + specs.count <= Limits.maxSteps else {
            throw .tooManySteps(count: steps.count + specs.count)
        }
        // A workflow has at most Limits.maxSteps steps: linear scans over the specs cost less
        // than hashing their names (this runs in the writer's transaction for every create).
        for (position, spec) in specs.enumerated() {
            guard spec.status == .pending || spec.status == .notApplicable else {
                throw .invalidInitialStatus(step: spec.name, status: spec.status)
            }
            guard index(of: spec.name) == nil, !specs[..<position].contains(where: { $0.name == spec.name }) else {
                throw .duplicateStep(spec.name)
            }
        }
        // The position in `specs` of each new step's parent when that parent is new too.
        var newParent = [Int?](repeating: nil, count: specs.count)
        for (position, spec) in specs.enumerated() {
            guard let parent = spec.parent else { continue }
            if index(of: parent) != nil {
                if spec.status == .pending, let blocker = cancellingAncestor(from: parent) {
                    throw .parentFinished(step: spec.name, parent: blocker.name, status: blocker.status)
                }
            } else if let parentPosition = specs.firstIndex(where: { $0.name == parent }) {
                newParent[position] = parentPosition
            } else {
                throw .unknownParent(step: spec.name, parent: parent)
            }
        }
        // Cycles can only run through new steps: a chain of new parents longer than the number
        // of new steps has come round.
        for (position, spec) in specs.enumerated() {
            var hops = 0
            var current = newParent[position]
            while let parentPosition = current {
                hops += 1
                guard hops <= specs.count else { throw .cycle(spec.name) }
                current = newParent[parentPosition]
            }
        }
        for spec in specs {
            steps.append(Step(name: spec.name, parent: spec.parent, status: spec.status, updatedAt: now))
        }
        refreshReadiness(now: now)
    }

    /// Bumps `updatedAt` of each ready step that has no ``Step/readyAt`` yet (it just became
    /// ready), then refreshes readiness.
    mutating func touchReadySteps(now: Timestamp) {
        for index in steps.indices where isReady(index) && steps[index].readyAt == nil {
            steps[index].updatedAt = now
        }
        refreshReadiness(now: now)
    }

    /// Gives each step that is ready and has no ``Step/readyAt`` the time `now`, and clears it on
    /// the others: called by every change that can make steps ready or not.
    mutating func refreshReadiness(now: Timestamp) {
        for index in steps.indices {
            if isReady(index) {
                if steps[index].readyAt == nil { steps[index].readyAt = now }
            } else if steps[index].readyAt != nil {
                steps[index].readyAt = nil
            }
        }
    }

    /// Fills ``Step/readyAt`` from `updatedAt` (when readiness last bumped it) for ready steps
    /// that lack it, and clears it on the others: for records written before the field existed
    /// and for imported workflows.
    public mutating func normalizeReadiness() {
        for index in steps.indices {
            if isReady(index) {
                if steps[index].readyAt == nil { steps[index].readyAt = steps[index].updatedAt }
            } else {
                steps[index].readyAt = nil
            }
        }
    }

    /// Applies a client's or worker's command to the step named `name`.
    ///
    /// - Returns: false when the command is an idempotent repeat and nothing changed.
    /// - Throws: ``WorkflowError`` — `unknownStep`, `invalidTransition`, `failureReasonRequired`,
    ///   `failureReasonNotAllowed`, `failureReasonTooLong`, `stepFinished`, `invalidProgress`.
    @discardableResult
    public mutating func apply(
        _ command: StepCommand, to name: StepName, now: Timestamp, by actor: Actor = .anyone
    ) throws(WorkflowError) -> Bool {
        guard let index = index(of: name) else { throw .unknownStep(name) }
        if let claim = steps[index].claim, actor != .admin, actor != .worker(claim.worker) {
            throw .claimedByAnother(step: name, worker: claim.worker)
        }
        switch command {
        case .setStatus(let status, let reason):
            return try setStatus(status, failureReason: reason, at: index, now: now)
        case .start:
            let step = steps[index]
            guard !step.status.isTerminal else { throw .stepFinished(step: name, status: step.status) }
            steps[index].startedAt = step.startedAt ?? now
            steps[index].updatedAt = now
            return true
        case .progress(let update):
            return try recordProgress(update, at: index, now: now)
        case .heartbeat(let lease):
            guard !steps[index].status.isTerminal else { throw .stepFinished(step: name, status: steps[index].status) }
            guard var claim = steps[index].claim else { throw .notClaimed(step: name) }
            try Self.validateLease(lease)
            claim.leaseExpiresAt = Timestamp(milliseconds: now.milliseconds + lease)
            steps[index].claim = claim
            steps[index].updatedAt = now
            return true
        case .release:
            // The holder gives the step up, or an operator takes it back from a stuck worker
            // (checked above): ready again at the end of its queue, as if the lease had ended
            // (the attempt stays counted). Idempotent.
            guard steps[index].claim != nil else { return false }
            steps[index].claim = nil
            steps[index].updatedAt = now
            if isReady(index) { steps[index].readyAt = now }
            return true
        }
    }

    // MARK: Orchestration (claims and leases)

    /// Hands the step at `index` to `worker` under a lease of `leaseMilliseconds`: `startedAt`
    /// is set on the first claim, `updatedAt` bumped, the attempt counted.
    /// - Returns: the claim, or nil when the step is not claimable (not ready, or held).
    /// - Throws: ``WorkflowError/invalidClaim(_:)`` for a bad worker name or lease.
    public mutating func claim(
        _ name: StepName, worker: String, leaseMilliseconds: Int64, now: Timestamp
    ) throws(WorkflowError) -> Claim? {
        try Self.validateWorker(worker)
        try Self.validateLease(leaseMilliseconds)
        guard let index = index(of: name), isClaimable(index) else { return nil }
        let claim = Claim(
            worker: worker, attempt: steps[index].attempts + 1,
            leaseExpiresAt: Timestamp(milliseconds: now.milliseconds + leaseMilliseconds))
        steps[index].attempts += 1
        steps[index].claim = claim
        steps[index].startedAt = steps[index].startedAt ?? now
        steps[index].updatedAt = now
        return claim
    }

    /// Ends an expired lease on the step `name`: the claim is dropped and a `PENDING` step is
    /// ready again (`updatedAt = now`), unless it was claimed `maxAttempts` times already: then
    /// it becomes `FAILED` "Lease expired after N attempts" (cascade as usual).
    /// - Returns: false (nothing changes) unless the step holds a lease that ended by `now`.
    @discardableResult
    public mutating func expireLease(_ name: StepName, maxAttempts: Int, now: Timestamp) -> Bool {
        guard let index = index(of: name), let claim = steps[index].claim, claim.leaseExpiresAt <= now else {
            return false
        }
        steps[index].claim = nil
        if steps[index].attempts >= maxAttempts {
            finish(index, as: .failed, reason: Self.leaseExpiredReason(attempts: steps[index].attempts), now: now)
        } else {
            steps[index].updatedAt = now
            // Back into its ready queue, at the end.
            if isReady(index) { steps[index].readyAt = now }
        }
        return true
    }

    /// The failure reason of a step whose last allowed lease expired.
    public static func leaseExpiredReason(attempts: Int) -> String { "Lease expired after \(attempts) attempts" }

    public static func validateWorker(_ worker: String) throws(WorkflowError) {
        guard !worker.isEmpty, worker.utf8.count <= Limits.maxWorkerBytes,
            !worker.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { throw .invalidClaim("worker must be 1 to \(Limits.maxWorkerBytes) bytes without control characters") }
    }

    public static func validateLease(_ milliseconds: Int64) throws(WorkflowError) {
        guard (1000...Limits.maxLeaseMilliseconds).contains(milliseconds) else {
            throw .invalidClaim("the lease must be 1 to \(Limits.maxLeaseMilliseconds / 1000) seconds")
        }
    }

    private mutating func setStatus(
        _ status: StepStatus, failureReason: String?, at index: Int, now: Timestamp
    ) throws(WorkflowError) -> Bool {
        let name = steps[index].name
        if status == .failed {
            guard let failureReason, !failureReason.isEmpty else { throw .failureReasonRequired(step: name) }
            guard failureReason.utf8.count <= Limits.maxFailureReasonBytes else {
                throw .failureReasonTooLong(bytes: failureReason.utf8.count)
            }
        } else if failureReason != nil {
            throw .failureReasonNotAllowed(step: name, status: status)
        }
        switch steps[index].status.update(to: status) {
        case nil:
            throw .invalidTransition(step: name, from: steps[index].status, to: status)
        case .repeats:
            return false
        case .changes:
            finish(index, as: status, reason: failureReason, now: now)
            return true
        }
    }

    /// Moves a non-terminal step to a terminal status and applies the consequences: the
    /// cancellation cascade for `FAILED`/`CANCELLED`, the readiness bump for children of a
    /// `COMPLETED`/`NOT_APPLICABLE` step.
    private mutating func finish(_ index: Int, as status: StepStatus, reason: String?, now: Timestamp) {
        steps[index].status = status
        steps[index].updatedAt = now
        steps[index].failureReason = status == .failed ? reason : nil
        steps[index].claim = nil
        if status.cascadesCancellation {
            for descendant in descendants(of: index) where !steps[descendant].status.isTerminal {
                steps[descendant].status = .cancelled
                steps[descendant].updatedAt = now
                steps[descendant].failureReason = nil
                steps[descendant].claim = nil
            }
        } else if status.releasesChildren {
            for child in children(of: index) where steps[child].status == .pending {
                steps[child].updatedAt = now
            }
        }
        refreshReadiness(now: now)
    }

    private mutating func recordProgress(_ update: ProgressUpdate, at index: Int, now: Timestamp) throws(WorkflowError)
        -> Bool
    {
        let step = steps[index]
        if let expected = update.expected, expected < 0 { throw .invalidProgress("expected must not be negative") }
        guard update.addCompleted >= 0, update.addFailed >= 0 else {
            throw .invalidProgress("completed and failed may only grow")
        }
        if let threshold = update.failureThreshold, !(threshold.isFinite && (0...1).contains(threshold)) {
            throw .invalidProgress("failureThreshold must be between 0 and 1")
        }
        guard
            update.expected != nil || update.failureThreshold != nil || update.addCompleted > 0 || update.addFailed > 0
        else { throw .invalidProgress("nothing to change") }
        guard !step.status.isTerminal else { throw .stepFinished(step: step.name, status: step.status) }
        var progress = step.progress ?? Progress()
        let (completed, overflowC) = progress.completed.addingReportingOverflow(update.addCompleted)
        let (failed, overflowF) = progress.failed.addingReportingOverflow(update.addFailed)
        let (received, overflowR) = completed.addingReportingOverflow(failed)
        guard !overflowC, !overflowF, !overflowR else { throw .invalidProgress("counter overflow") }
        progress.completed = completed
        progress.failed = failed
        if let expected = update.expected { progress.expected = expected }
        if let threshold = update.failureThreshold { progress.failureThreshold = threshold }
        steps[index].progress = progress
        steps[index].updatedAt = now
        if let expected = progress.expected, received >= expected {
            if received > 0 && Double(failed) / Double(received) > progress.failureThreshold {
                let reason =
                    "Failure threshold of \(Self.percent(progress.failureThreshold)) exceeded: \(failed)/\(received) failed"
                finish(index, as: .failed, reason: reason, now: now)
            } else {
                finish(index, as: .completed, reason: nil, now: now)
            }
        }
        return true
    }

    /// `0.05` → `5%`, `0.025` → `2.5%`, `0.3333` → `33.33%` (at most two decimals).
    static func percent(_ ratio: Double) -> String {
        let hundredths = Int((ratio * 10_000).rounded())
        var text = String(hundredths / 100)
        var fraction = hundredths % 100
        if fraction != 0 {
            var digits = fraction < 10 ? "0" + String(fraction) : String(fraction)
            while digits.hasSuffix("0") {
                digits.removeLast()
                fraction /= 10
            }
            text += "." + digits
        }
        return text + "%"
    }

    /// Restarts a finished workflow from the step named `name`: it and its subtree go back to
    /// `PENDING` with `startedAt`, `failureReason` and progress cleared (Hyades does this for
    /// `PROJECT_CLONE`).
    /// - Throws: ``WorkflowError`` — `unknownStep`; `restartWhileProcessing` when any step of
    ///   the workflow is still `PENDING` or `TIMED_OUT`; `parentFinished` when an ancestor of the
    ///   step is `FAILED` or `CANCELLED` (the restarted steps could never run: restart from that
    ///   ancestor instead).
    public mutating func restart(from name: StepName, now: Timestamp) throws(WorkflowError) {
        guard let index = index(of: name) else { throw .unknownStep(name) }
        if let running = steps.first(where: { !$0.status.isTerminal }) {
            throw .restartWhileProcessing(step: running.name)
        }
        if let parent = steps[index].parent, let blocker = cancellingAncestor(from: parent) {
            throw .parentFinished(step: name, parent: blocker.name, status: blocker.status)
        }
        for member in [index] + descendants(of: index) {
            steps[member].status = .pending
            steps[member].startedAt = nil
            steps[member].failureReason = nil
            steps[member].progress = nil
            steps[member].claim = nil
            steps[member].attempts = 0
            steps[member].readyAt = nil
            steps[member].updatedAt = now
        }
        refreshReadiness(now: now)
    }

    /// Cancels the workflow: every step not yet terminal (`PENDING`, `TIMED_OUT`, claimed or not)
    /// becomes `CANCELLED` with `reason` as its failure reason and its claim released, so no
    /// step of it runs any more and the Dependency-Track poll answers `processing: false`.
    /// Idempotent: a workflow with no step left to cancel stays as it is.
    /// - Returns: whether anything changed.
    /// - Throws: ``WorkflowError`` — `failureReasonRequired` for an empty reason,
    ///   `failureReasonTooLong`.
    public mutating func cancel(reason: String, now: Timestamp) throws(WorkflowError) -> Bool {
        guard !reason.isEmpty else { throw .failureReasonRequired(step: Self.cancelStepName) }
        guard reason.utf8.count <= Limits.maxFailureReasonBytes else {
            throw .failureReasonTooLong(bytes: reason.utf8.count)
        }
        var changed = false
        for index in steps.indices where !steps[index].status.isTerminal {
            steps[index].status = .cancelled
            steps[index].updatedAt = now
            steps[index].failureReason = reason
            steps[index].claim = nil
            changed = true
        }
        if changed { refreshReadiness(now: now) }
        return changed
    }

    /// The name errors of ``cancel(reason:now:)`` give (the workflow as a whole, not one step).
    static let cancelStepName = StepName("WORKFLOW")!

    // MARK: Maintenance (DESIGN.md §1, "Maintenance")

    /// A ready `PENDING` step whose deadline passed becomes `TIMED_OUT` (`updatedAt = now`).
    /// - Returns: false (nothing changes) unless the step is ready and pending.
    @discardableResult
    public mutating func timeOut(_ name: StepName, now: Timestamp) -> Bool {
        guard let index = index(of: name), isReady(index) else { return false }
        steps[index].status = .timedOut
        steps[index].updatedAt = now
        steps[index].readyAt = nil
        return true
    }

    /// A `TIMED_OUT` step whose deadline passed again becomes `FAILED` "Timed out", and its
    /// non-terminal descendants `CANCELLED` (cascade).
    /// - Returns: false (nothing changes) unless the step is `TIMED_OUT`.
    @discardableResult
    public mutating func expire(_ name: StepName, now: Timestamp) -> Bool {
        guard let index = index(of: name), steps[index].status == .timedOut else { return false }
        finish(index, as: .failed, reason: Self.timedOutReason, now: now)
        return true
    }

    /// The failure reason maintenance writes.
    public static let timedOutReason = "Timed out"
}
