internal import LMDB
public import Storage
internal import WorkflowModel

/// The ready queues' figures and pauses (issue 14): `queue-counts` (step name → ready (8) ‖
/// claimed (8)), kept with every write of a workflow from the same state that derives the
/// `ready` and `leases` entries, so `GET /api/v1/queue` reads counters instead of scanning; and
/// `paused` (step name → paused at (8)).
extension LMDBStore {
    /// The workflow's steps that are ready or claimed (the state behind its `ready` and `leases`
    /// entries), each name once (a workflow's step names are unique): an array, not a
    /// dictionary, because a workflow has at most 64 steps and every write compares two of these.
    static func queueMembership(of workflow: Workflow?) -> [(name: StepName, ready: Int64, claimed: Int64)] {
        guard let workflow, workflow.isProcessing else { return [] }
        var members: [(name: StepName, ready: Int64, claimed: Int64)] = []
        for ordinal in workflow.steps.indices {
            let step = workflow.steps[ordinal]
            if step.claim != nil {
                members.append((step.name, 0, 1))
            } else if workflow.isReady(ordinal) {
                members.append((step.name, 1, 0))
            }
        }
        return members
    }

    /// Moves the queue counters from `old`'s state to `new`'s (either nil: created or removed).
    func adjustQueueCounts(from old: Workflow?, to new: Workflow?, in txn: borrowing WriteTransaction) throws {
        let before = Self.queueMembership(of: old)
        let after = Self.queueMembership(of: new)
        var deltas: [(name: StepName, ready: Int64, claimed: Int64)] = []
        for member in after {
            let was = before.first { $0.name == member.name }
            deltas.append((member.name, member.ready - (was?.ready ?? 0), member.claimed - (was?.claimed ?? 0)))
        }
        for member in before where !after.contains(where: { $0.name == member.name }) {
            deltas.append((member.name, -member.ready, -member.claimed))
        }
        for delta in deltas where delta.ready != 0 || delta.claimed != 0 {
            let key = Array(delta.name.rawValue.utf8)
            let current =
                try txn.withValue(forKey: key, in: databases.queueCounts) { span in
                    span.count == 16
                        ? (Int64(bitPattern: loadUInt64(span, at: 0)), Int64(bitPattern: loadUInt64(span, at: 8)))
                        : (0, 0)
                } ?? (0, 0)
            let ready = max(0, current.0 + delta.ready)
            let claimed = max(0, current.1 + delta.claimed)
            if ready == 0 && claimed == 0 {
                _ = try txn.delete(key, in: databases.queueCounts)
            } else {
                var writer = ByteWriter(capacity: 16)
                writer.append(UInt64(bitPattern: ready))
                writer.append(UInt64(bitPattern: claimed))
                try txn.put(writer.bytes, forKey: key, in: databases.queueCounts)
            }
        }
    }

    /// The paused step names (a handful at most).
    func pausedQueues<T: TransactionReading & ~Copyable>(in txn: borrowing T) throws -> Set<StepName> {
        try txn.withCursor(databases.paused) { cursor in
            var names: Set<StepName> = []
            var more = try cursor.first()
            while more {
                if let name = StepName(String(decoding: cursor.key, as: UTF8.self)) { names.insert(name) }
                more = try cursor.next()
            }
            return names
        }
    }

    /// ``WriteOperation/pauseQueue(_:paused:)``.
    func pauseQueue(_ name: StepName, paused: Bool, in txn: borrowing WriteTransaction, now: Timestamp) throws
        -> WriteOutcome
    {
        let key = Array(name.rawValue.utf8)
        let was = try txn.value(forKey: key, in: databases.paused) != nil
        if paused, !was {
            var writer = ByteWriter(capacity: 8)
            writer.append(UInt64(bitPattern: now.milliseconds))
            try txn.put(writer.bytes, forKey: key, in: databases.paused)
        } else if !paused, was {
            _ = try txn.delete(key, in: databases.paused)
        }
        return .queuePaused(name, paused: paused, changed: paused != was)
    }

    /// ``WorkflowStorage/queues()``: the counters, the pauses, and per queue the oldest ready
    /// step (one seek per priority that has ready steps: `ready` keys start with the priority).
    public func queues() throws(StoreError) -> [QueueFigures] {
        try read { txn in
            var figures: [StepName: QueueFigures] = [:]
            try txn.withCursor(databases.queueCounts) { cursor in
                var more = try cursor.first()
                while more {
                    let value = cursor.value
                    if let name = StepName(String(decoding: cursor.key, as: UTF8.self)), value.count == 16 {
                        figures[name] = QueueFigures(
                            step: name, ready: Int(clamping: Int64(bitPattern: loadUInt64(value, at: 0))),
                            claimed: Int(clamping: Int64(bitPattern: loadUInt64(value, at: 8))))
                    }
                    more = try cursor.next()
                }
            }
            for name in try pausedQueues(in: txn) {
                figures[name, default: QueueFigures(step: name)].paused = true
            }
            for (name, queue) in figures where queue.ready > 0 {
                figures[name]?.oldestReady = try oldestReady(name, in: txn)
            }
            return figures.values.sorted { $0.step < $1.step }
        }
    }

    /// The earliest ready time among the queue's ready steps: the first key of each priority.
    private func oldestReady<T: TransactionReading & ~Copyable>(_ name: StepName, in txn: borrowing T) throws
        -> Timestamp?
    {
        let prefix = Keys.readyPrefix(name)
        return try txn.withCursor(databases.ready) { cursor in
            var oldest: Int64?
            var more = try cursor.seek(atOrAfter: prefix)
            while more {
                let key = cursor.key
                guard key.count == prefix.count + Keys.readySuffixLength, key.starts(with: prefix) else { break }
                let since = Int64(bitPattern: loadUInt64(key, at: prefix.count + 1) ^ (1 << 63))
                oldest = min(oldest ?? since, since)
                // On to the next priority: past every key of this one.
                let inverted = key[prefix.count]
                guard inverted < 255 else { break }
                more = try cursor.seek(atOrAfter: prefix + [inverted + 1])
            }
            return oldest.map(Timestamp.init(milliseconds:))
        }
    }

    /// The counters are exactly what the workflows' states call for (``verifyIntegrity()``).
    func queueCountProblems(_ expected: [StepName: (ready: Int64, claimed: Int64)], in txn: borrowing ReadTransaction)
        throws -> [String]
    {
        var found: [StepName: (ready: Int64, claimed: Int64)] = [:]
        try txn.withCursor(databases.queueCounts) { cursor in
            var more = try cursor.first()
            while more {
                let value = cursor.value
                if let name = StepName(String(decoding: cursor.key, as: UTF8.self)), value.count == 16 {
                    found[name] = (
                        Int64(bitPattern: loadUInt64(value, at: 0)), Int64(bitPattern: loadUInt64(value, at: 8))
                    )
                }
                more = try cursor.next()
            }
        }
        var problems: [String] = []
        for name in Set(expected.keys).union(found.keys) {
            let want = expected[name] ?? (0, 0)
            let have = found[name] ?? (0, 0)
            if want != have {
                problems.append(
                    "queue \(name): counted \(have.ready) ready, \(have.claimed) claimed; the steps say \(want.ready), \(want.claimed)"
                )
            }
        }
        return problems
    }
}
