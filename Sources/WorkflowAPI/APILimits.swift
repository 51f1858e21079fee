internal import WorkflowModel

/// The bounds the API puts on requests, in one place: the request decoders use them and a test
/// checks that the OpenAPI document states the same numbers. (The model's own limits, such as
/// the longest lease, are in `WorkflowModel.Limits`.)
public enum APILimits {
    /// Step kinds one claim may name.
    public static let claimStepKinds = 1...32
    /// Steps one claim may take.
    public static let claimMax: ClosedRange<Int64> = 1...100
    /// Seconds a long-poll (watch `wait`, claim `waitSeconds`) may ask for.
    public static let waitSeconds = 0.0...60.0
    /// Lease seconds a claim or heartbeat may ask for.
    public static var leaseSeconds: ClosedRange<Int64> { 1...(Limits.maxLeaseMilliseconds / 1000) }
    /// Workflows per list page.
    public static let listLimit = 1...1000
    /// Updates per batch.
    public static let batchUpdates = 1000
}
