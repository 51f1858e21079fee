extension Workflow {
    /// Assembles a workflow from parts that come from outside (an export file, Hyades rows) and
    /// checks every invariant the operations would have kept, so that an imported workflow is
    /// one that bomflow itself could have produced.
    ///
    /// - Throws: ``WorkflowError`` — `emptyDefinition`, `tooManySteps`, `duplicateStep`,
    ///   `unknownParent`, `cycle`, `creatorTooLong`, `failureReasonRequired`,
    ///   `failureReasonNotAllowed`, `failureReasonTooLong`, `parentFinished` (an active step below
    ///   a `FAILED`/`CANCELLED` one), `invalidProgress`, `invalidRecord`.
    public static func assemble(
        token: Token, createdAt: Timestamp, template: Template?, createdBy: String?, labels: Labels,
        version: UInt64, definitionStepCount: Int, steps: [Step], concurrencyKey: String? = nil,
        priority: Int = Workflow.defaultPriority
    ) throws(WorkflowError) -> Workflow {
        guard !steps.isEmpty else { throw .emptyDefinition }
        try validatePriority(priority)
        if let concurrencyKey { try validateConcurrencyKey(concurrencyKey) }
        guard steps.count <= Limits.maxSteps else { throw .tooManySteps(count: steps.count) }
        if let createdBy, createdBy.utf8.count > Limits.maxCreatorBytes {
            throw .creatorTooLong(bytes: createdBy.utf8.count)
        }
        guard (1...steps.count).contains(definitionStepCount) else {
            throw .invalidRecord("definitionSteps must be 1 to \(steps.count), not \(definitionStepCount)")
        }
        var byName: [StepName: Step] = [:]
        for step in steps {
            guard byName.updateValue(step, forKey: step.name) == nil else { throw .duplicateStep(step.name) }
        }
        for step in steps {
            if let parent = step.parent, byName[parent] == nil {
                throw .unknownParent(step: step.name, parent: parent)
            }
            var seen: Set<StepName> = [step.name]
            var current = step.parent
            while let name = current {
                guard seen.insert(name).inserted else { throw .cycle(step.name) }
                current = byName[name]?.parent
            }
            if let reason = step.failureReason {
                // A cancelled workflow's steps carry the cancel's reason (``Workflow/cancel(reason:now:)``).
                guard step.status == .failed || step.status == .cancelled else {
                    throw .failureReasonNotAllowed(step: step.name, status: step.status)
                }
                guard !reason.isEmpty else { throw .failureReasonRequired(step: step.name) }
                guard reason.utf8.count <= Limits.maxFailureReasonBytes else {
                    throw .failureReasonTooLong(bytes: reason.utf8.count)
                }
            } else if step.status == .failed {
                throw .failureReasonRequired(step: step.name)
            }
            guard step.attempts >= 0 else { throw .invalidRecord("\(step.name): attempts must not be negative") }
            if let claim = step.claim {
                guard !step.status.isTerminal else {
                    throw .invalidRecord("\(step.name) is \(step.status.rawValue) and cannot be claimed")
                }
                try validateWorker(claim.worker)
                guard (1...max(step.attempts, 1)).contains(claim.attempt), claim.attempt <= step.attempts else {
                    throw .invalidRecord("\(step.name): claim attempt \(claim.attempt) of \(step.attempts) attempts")
                }
            }
            if let progress = step.progress {
                guard progress.completed >= 0, progress.failed >= 0, (progress.expected ?? 0) >= 0 else {
                    throw .invalidProgress("\(step.name): counters must not be negative")
                }
                guard (0...1).contains(progress.failureThreshold) else {
                    throw .invalidProgress("\(step.name): failureThreshold must be between 0 and 1")
                }
            }
        }
        var workflow = Workflow(
            token: token, createdAt: createdAt, template: template, createdBy: createdBy, labels: labels,
            version: version, definitionStepCount: definitionStepCount, steps: steps, concurrencyKey: concurrencyKey,
            priority: priority)
        workflow.normalizeReadiness()
        for step in steps where !step.status.isTerminal {
            if let parent = step.parent, let blocker = workflow.cancellingAncestor(from: parent) {
                throw .parentFinished(step: step.name, parent: blocker.name, status: blocker.status)
            }
        }
        return workflow
    }
}
