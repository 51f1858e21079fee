extension Workflow {
    /// Checks a concurrency key: 1 to ``Limits/maxConcurrencyKeyBytes`` UTF-8 bytes, no control
    /// characters.
    public static func validateConcurrencyKey(_ key: String) throws(WorkflowError) {
        let count = key.utf8.count
        guard count > 0 else { throw .invalidConcurrencyKey("it must not be empty") }
        guard count <= Limits.maxConcurrencyKeyBytes else {
            throw .invalidConcurrencyKey("\(count) bytes; at most \(Limits.maxConcurrencyKeyBytes)")
        }
        guard !key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw .invalidConcurrencyKey("it must not contain control characters")
        }
    }

    /// Holds the workflow behind an earlier one with its concurrency key: no step is ready until
    /// ``release(now:)``.
    public mutating func hold(now: Timestamp) {
        isHeld = true
        refreshReadiness(now: now)
    }

    /// Lets a held workflow run: the earlier workflows with its concurrency key have finished.
    /// Steps that become ready get `updatedAt = now` (their timeout counts from here).
    /// - Returns: false when the workflow was not held.
    @discardableResult
    public mutating func release(now: Timestamp) -> Bool {
        guard isHeld else { return false }
        isHeld = false
        touchReadySteps(now: now)
        return true
    }

    /// How far the workflow has come, as Dependency-Track 5 answers a token poll (`status`).
    public var tokenStatus: TokenStatus {
        if isProcessing {
            let active = steps.contains { step in
                step.startedAt != nil || step.claim != nil || step.status != step.createdAs
            }
            return active ? .running : .pending
        }
        return steps.contains { $0.status == .failed || $0.status == .cancelled } ? .failed : .completed
    }
}

/// Dependency-Track 5's `status` of a token (PR #7127).
public enum TokenStatus: String, Sendable, CaseIterable {
    /// Nothing of the workflow has started yet.
    case pending = "PENDING"
    /// Some step started, was claimed or finished, and some step is still `PENDING`/`TIMED_OUT`.
    case running = "RUNNING"
    /// Every step is `COMPLETED` or `NOT_APPLICABLE`.
    case completed = "COMPLETED"
    /// Finished with a `FAILED` or `CANCELLED` step.
    case failed = "FAILED"
}
