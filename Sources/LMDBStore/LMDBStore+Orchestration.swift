internal import LMDB
public import Storage
public import WorkflowModel

extension LMDBStore {
    /// A number that grows with every commit by any process on the host (the environment's last
    /// transaction ID, read from the shared lock file without a transaction): waiters compare it
    /// to notice changes cheaply, without reading data.
    public func changeCounter() throws(StoreError) -> Int {
        do { return try environment.info().lastTransactionID } catch { throw Self.storeError(error) }
    }

    /// True when some step named in `names` is claimable (one cursor seek per name; a paused
    /// queue has nothing claimable).
    public func hasClaimable(_ names: [StepName]) throws(StoreError) -> Bool {
        try read { txn in
            let paused = try pausedQueues(in: txn)
            return try txn.withCursor(databases.ready) { cursor in
                for name in names where !paused.contains(name) {
                    let prefix = Keys.readyPrefix(name)
                    if try cursor.seek(atOrAfter: prefix), cursor.key.starts(with: prefix) { return true }
                }
                return false
            }
        }
    }

    /// The current version of each token's workflow (nil when it does not exist), in one read
    /// transaction that decodes only the workflow records, not their steps.
    public func versions(of tokens: [Token]) throws(StoreError) -> [Token: UInt64?] {
        try read { txn in
            var result: [Token: UInt64?] = [:]
            for token in tokens {
                guard let id = try workflowID(for: token, in: txn) else {
                    result[token] = .some(nil)
                    continue
                }
                result[token] = try withWorkflowRecord(id: id, in: txn) { span in
                    try RecordCodec.decodeWorkflow(span).version
                }
            }
            return result
        }
    }
}
