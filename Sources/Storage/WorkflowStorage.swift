public import Notifications
public import WorkflowModel

/// The workflow state of DESIGN.md §1 as a backend stores it. The REST API, the CLI and the
/// interchange formats depend on this protocol only; `LMDBStore` (the embedded default) conforms,
/// and a PostgreSQL backend with Hyades' `WORKFLOW_STATE` schema is meant to be the second.
///
/// Everything here speaks WorkflowModel types; no backend type crosses it.
///
/// ## Semantics every conformer keeps
/// - **Atomic batches.** ``perform(_:)`` applies its operations in one transaction: each one
///   the model refuses gets its ``WorkflowError`` and changes nothing while the others apply,
///   later operations see the effects of earlier ones, and a thrown ``StoreError`` means that
///   nothing of the batch was written, so nothing of it may be acknowledged.
/// - **Durable before return.** When ``perform(_:)`` returns, the batch is as durable as the
///   backend's configuration promises (LMDB `--sync full`: on disk).
/// - **Read your writes.** A read that starts after ``perform(_:)`` returned sees its effects, in
///   this process and in every other process or host using the same state.
/// - **Versions.** A workflow's ``Workflow/version`` grows by one with every committed change to
///   it and never goes back; watches compare versions.
/// - **Change counter.** ``changeCounter()`` changes whenever anything committed anywhere, so
///   a waiter that saw value *v* and reads *v* again knows nothing changed in between.
/// - **Errors.** Conditions that pass (a busy lock, a database restarting) are
///   ``StoreError/unavailable(_:)`` (503, retry); a full store is ``StoreError/storageFull`` (507);
///   a state in which the process must stop is ``StoreError/fatal(_:)`` and shows in
///   ``condition()`` (`fatal`).
public protocol WorkflowStorage: AnyObject, Sendable {
    /// The policy the store runs with (timeouts, retention, attempts, clock).
    var options: StoreOptions { get }

    /// True when calls wait on another server (PostgreSQL over the network): the API then runs
    /// requests on worker threads, never on its event loops. LMDB's reads are lookups in a
    /// memory map and run right on the loops (the default, false).
    var callsMayBlock: Bool { get }

    /// What the store's own state says about serving now (fatal failure, no space); cheap enough
    /// for every health check and scrape.
    func condition() -> StorageCondition

    /// Names the state this store reads and writes: processes whose stores give the same identity
    /// share their workflows (LMDB: the device and inode of the data directory; PostgreSQL: the server,
    /// port and database). `bomflow serve` compares it with the process already on its port.
    var identity: String { get }

    // MARK: Writes

    /// Performs `operations` in one transaction and one commit (group commit).
    /// - Returns: one result per operation, in order.
    /// - Throws: ``StoreError`` when the transaction fails as a whole; nothing was written.
    func perform(_ operations: [WriteOperation]) throws(StoreError) -> [Result<WriteOutcome, WorkflowError>]

    /// Performs several requests' operations in one transaction, but only those `admit` still
    /// wants: `admit` runs once the write lock is held (after any wait for it) and answers one
    /// Boolean per batch. A batch not admitted is not applied (its result is nil): a writer
    /// that gave up waiting answers its client and must never apply the write later.
    func perform(
        _ batches: [[WriteOperation]], admitting admit: () -> [Bool]
    ) throws(StoreError) -> [[Result<WriteOutcome, WorkflowError>]?]

    /// The process holding the write lock and since when (epoch milliseconds), where the backend
    /// can know it (LMDB: a bomflow process records itself while it holds the lock).
    func writeLockHolder() -> (pid: Int32, since: Int64)?

    // MARK: Reads

    /// The workflow with this token, or nil.
    func workflow(_ token: Token) throws(StoreError) -> Workflow?

    /// Dependency-Track's poll: whether any step of the workflow is `PENDING` or `TIMED_OUT`
    /// (false for an unknown token).
    func isProcessing(_ token: Token) throws(StoreError) -> Bool

    /// Dependency-Track 5's status of the token (``Workflow/tokenStatus``); nil for an unknown token.
    func tokenStatus(_ token: Token) throws(StoreError) -> TokenStatus?

    /// One page of workflows matching `query`, newest first.
    func list(_ query: WorkflowQuery) throws(StoreError) -> WorkflowPage

    /// One page of every workflow, oldest first, after `position` (`bomflow export`).
    func exportPage(after position: UInt64?, limit: Int) throws(StoreError) -> WorkflowPage

    /// The workflow's event history (docs/HISTORY.md): at most `limit` events after sequence
    /// number `after`, oldest first; nil for an unknown workflow. Every change of a workflow
    /// appends its events in the same transaction; the history is deleted with the workflow.
    func history(_ token: Token, after: UInt64, limit: Int) throws(StoreError) -> HistoryPage?

    /// The BOM stored with the workflow `token`, or nil.
    func bom(_ token: Token) throws(StoreError) -> BomDocument?

    // MARK: Projects

    /// The project with this UUID, or with this name and version; nil when there is none.
    func project(_ reference: ProjectReference) throws(StoreError) -> Project?

    /// Projects in name and version order, only those named `name` when given: `limit` from
    /// `offset`, and how many match in all.
    func projects(named name: String?, offset: Int, limit: Int) throws(StoreError) -> ProjectPage

    // MARK: Orchestration

    /// A value that changes whenever anything is committed (by any process or host).
    func changeCounter() throws(StoreError) -> Int

    /// Whether a step named in `names` is ready to be claimed now (a cheap look, no claim); a
    /// paused queue has nothing claimable.
    func hasClaimable(_ names: [StepName]) throws(StoreError) -> Bool

    /// Every queue that has ready or claimed steps or is paused, by step name: counts, the
    /// oldest ready step's ready time, whether it is paused.
    func queues() throws(StoreError) -> [QueueFigures]

    /// The current versions of `tokens` (nil for a token that is not stored).
    func versions(of tokens: [Token]) throws(StoreError) -> [Token: UInt64?]

    // MARK: Maintenance

    /// One pass of lease expiry, timeouts and retention, when this process gets the
    /// maintenance lease (``MaintenanceReport/skipped`` otherwise).
    func runMaintenance() throws(StoreError) -> MaintenanceReport

    /// Periodic upkeep of the backend itself (LMDB: clears reader slots of dead processes).
    /// - Returns: what was cleaned up, for logs.
    func housekeep() throws(StoreError) -> Int

    /// Lets go of what threads that are not using the store right now still keep (LMDB: the
    /// read snapshot a thread keeps between reads, once another process's commit made it old,
    /// since it stops LMDB from reusing the pages freed after it). Cheap; a serving process calls
    /// it ten times a second.
    func releaseIdleReaders()

    // MARK: API keys

    /// Stores a key's digest under a unique name. - Returns: false when the name is taken.
    func addAPIKey(digest: [UInt8], name: String, permissions: UInt8) throws(StoreError) -> Bool

    /// The key with this SHA-256 digest, or nil.
    func apiKey(digest: [UInt8]) throws(StoreError) -> APIKeyRecord?

    /// Every key, by name.
    func apiKeys() throws(StoreError) -> [APIKeyRecord]

    /// Deletes the key with this name. - Returns: false when there is none.
    func revokeAPIKey(name: String) throws(StoreError) -> Bool

    // MARK: Notifications (docs/NOTIFICATIONS.md)
    //
    // Every write that changes a workflow also writes, in the same transaction, one delivery per
    // event and webhook that wants it (``NewDelivery/deliveries(from:to:at:webhooks:context:)``);
    // retention (``runMaintenance()``) deletes delivered and dead ones.

    /// Every webhook, oldest first.
    func webhooks() throws(StoreError) -> [Webhook]

    /// Whether a delivery could be claimed now: its next attempt has come (or the lease of its
    /// attempt ended) and it is the first pending one of its workflow and webhook (a read; the
    /// delivering process claims only when there is something).
    func hasDueDeliveries() throws(StoreError) -> Bool

    /// Claims up to `max` due deliveries for `holder` under a lease of `leaseMilliseconds`: only
    /// the first pending delivery of each workflow and webhook, so each pair is delivered in
    /// order, and each delivery by one process at a time.
    func claimDeliveries(holder: String, max: Int, leaseMilliseconds: Int64) throws(StoreError) -> [DeliveryTask]

    /// Records how attempts ended (``RetryPolicy/applying(_:to:now:jitter:)``); a report whose
    /// holder no longer holds the lease is ignored. - Returns: the deliveries as stored after.
    func finishDeliveries(_ reports: [DeliveryReport], policy: RetryPolicy) throws(StoreError) -> [Delivery]

    /// Deliveries newest first, filtered by state and webhook, before `query.before`.
    func deliveries(_ query: DeliveryQuery) throws(StoreError) -> DeliveryPage

    /// Queue depth and age, for `/metrics`.
    func outboxFigures() throws(StoreError) -> OutboxFigures

    // MARK: Figures

    /// Counts that cost O(1) to read, for `/metrics`.
    func cheapFigures() throws(StoreError) -> CheapFigures

    /// Workflows that finished since `since` (and are not yet deleted by retention), by the minute
    /// of their last update; a backend may stop counting after ``Throughput/visitLimit`` of them.
    func throughput(since: Timestamp) throws(StoreError) -> Throughput
}

extension WorkflowStorage {
    /// Stores answer from memory unless they say otherwise.
    public var callsMayBlock: Bool { false }

    /// True once the store failed so that this process must stop writing and exit non-zero
    /// (LMDB: `MDB_PANIC`, or a meta page that could not be written; a full disk is not fatal).
    public var isFatallyFailed: Bool { condition().fatal != nil }

    /// Performs one operation in its own transaction.
    /// - Throws: ``WorkflowStoreError`` — `refused` when the model refuses, `storage` when the
    ///   transaction fails; nothing changed in either case.
    @discardableResult
    public func perform(_ operation: WriteOperation) throws(WorkflowStoreError) -> WriteOutcome {
        let results: [Result<WriteOutcome, WorkflowError>]
        do { results = try perform([operation]) } catch { throw .storage(error) }
        switch results[0] {
        case .success(let outcome): return outcome
        case .failure(let refusal): throw .refused(refusal)
        }
    }
}
