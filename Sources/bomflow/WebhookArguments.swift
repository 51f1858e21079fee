import ArgumentParser
import Notifications
import WebhookDelivery

/// How `serve` delivers webhook notifications (docs/NOTIFICATIONS.md).
struct WebhookArguments: ParsableArguments {
    @Option(help: "Attempts before a delivery goes dead (env BOMFLOW_WEBHOOK_MAX_ATTEMPTS).")
    var webhookMaxAttempts: Int = environment("BOMFLOW_WEBHOOK_MAX_ATTEMPTS").flatMap(Int.init) ?? 10

    @Option(
        help:
            "Wait after a delivery's first failure; each later one doubles it, ±20 % (env BOMFLOW_WEBHOOK_RETRY_BASE).")
    var webhookRetryBase: DurationArgument =
        environment("BOMFLOW_WEBHOOK_RETRY_BASE").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 7000)

    @Option(help: "Longest wait between attempts, Retry-After included (env BOMFLOW_WEBHOOK_MAX_DELAY).")
    var webhookMaxDelay: DurationArgument =
        environment("BOMFLOW_WEBHOOK_MAX_DELAY").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 1_200_000)

    @Option(help: "Time one attempt may take, connecting included (env BOMFLOW_WEBHOOK_TIMEOUT).")
    var webhookTimeout: DurationArgument =
        environment("BOMFLOW_WEBHOOK_TIMEOUT").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 10_000)

    @Option(help: "Attempts under way at once in this process (env BOMFLOW_WEBHOOK_CONCURRENCY).")
    var webhookConcurrency: Int = environment("BOMFLOW_WEBHOOK_CONCURRENCY").flatMap(Int.init) ?? 16

    @Option(
        help:
            "PEM file of the CA certificates to trust for https webhooks instead of the system's (env BOMFLOW_WEBHOOK_CA_FILE)."
    )
    var webhookCaFile: String?

    @Flag(help: "Do not deliver webhooks from this process (others serving the same store do).")
    var noWebhookDelivery = false

    func validate() throws {
        guard (1...100).contains(webhookMaxAttempts) else {
            throw ValidationError("--webhook-max-attempts is 1 to 100")
        }
        guard (1...256).contains(webhookConcurrency) else { throw ValidationError("--webhook-concurrency is 1 to 256") }
        guard webhookTimeout.milliseconds <= 300_000 else { throw ValidationError("--webhook-timeout is at most 5m") }
        guard webhookRetryBase.milliseconds <= webhookMaxDelay.milliseconds else {
            throw ValidationError("--webhook-retry-base is at most --webhook-max-delay")
        }
    }

    var configuration: DeliveryConfiguration {
        let timeout = Double(webhookTimeout.milliseconds) / 1000
        return DeliveryConfiguration(
            policy: RetryPolicy(
                maxAttempts: webhookMaxAttempts, baseMilliseconds: webhookRetryBase.milliseconds,
                maxDelayMilliseconds: webhookMaxDelay.milliseconds),
            attemptTimeoutSeconds: timeout, concurrency: webhookConcurrency,
            caFile: webhookCaFile ?? environment("BOMFLOW_WEBHOOK_CA_FILE"),
            enabled: !noWebhookDelivery)
    }
}
