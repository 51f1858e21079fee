import ArgumentParser
import HTTP1
import HTTPServer

/// The HTTP layer's limits and timeouts for `serve` (docs/HTTP.md has what each one answers).
struct HTTPArguments: ParsableArguments {
    @Option(help: "Largest request body; larger gets 413 (env BOMFLOW_MAX_BODY).")
    var maxBody: ByteSize =
        environment("BOMFLOW_MAX_BODY").flatMap(ByteSize.init(argument:)) ?? ByteSize(bytes: 1 << 20)

    @Option(help: "Largest BOM an upload may carry; larger gets 413 (env BOMFLOW_MAX_BOM_SIZE).")
    var maxBomSize: ByteSize =
        environment("BOMFLOW_MAX_BOM_SIZE").flatMap(ByteSize.init(argument:)) ?? ByteSize(bytes: 50 << 20)

    @Option(help: "Longest request line; longer gets 414 (env BOMFLOW_MAX_REQUEST_LINE).")
    var maxRequestLine: ByteSize =
        environment("BOMFLOW_MAX_REQUEST_LINE").flatMap(ByteSize.init(argument:)) ?? ByteSize(bytes: 8192)

    @Option(help: "Largest header section; larger gets 431 (env BOMFLOW_MAX_HEADER_BYTES).")
    var maxHeaderBytes: ByteSize =
        environment("BOMFLOW_MAX_HEADER_BYTES").flatMap(ByteSize.init(argument:)) ?? ByteSize(bytes: 32768)

    @Option(help: "Most header fields; more gets 431 (env BOMFLOW_MAX_HEADERS).")
    var maxHeaders: Int = environment("BOMFLOW_MAX_HEADERS").flatMap(Int.init) ?? 100

    @Option(help: "Time to receive a request's head; then 408 (env BOMFLOW_HEADER_TIMEOUT).")
    var headerTimeout: DurationArgument =
        environment("BOMFLOW_HEADER_TIMEOUT").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 10_000)

    @Option(help: "Time without body bytes; then 408 (env BOMFLOW_BODY_TIMEOUT).")
    var bodyTimeout: DurationArgument =
        environment("BOMFLOW_BODY_TIMEOUT").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 10_000)

    @Option(help: "Idle keep-alive connections are closed after this (env BOMFLOW_KEEP_ALIVE_TIMEOUT).")
    var keepAliveTimeout: DurationArgument =
        environment("BOMFLOW_KEEP_ALIVE_TIMEOUT").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 30_000)

    @Option(help: "A client that reads nothing of a response this long is dropped (env BOMFLOW_SEND_TIMEOUT).")
    var sendTimeout: DurationArgument =
        environment("BOMFLOW_SEND_TIMEOUT").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 30_000)

    @Option(help: "On SIGTERM, in-flight requests get this long (env BOMFLOW_SHUTDOWN_GRACE).")
    var shutdownGrace: DurationArgument =
        environment("BOMFLOW_SHUTDOWN_GRACE").flatMap(DurationArgument.init(argument:))
        ?? DurationArgument(milliseconds: 10_000)

    func validate() throws {
        guard maxBody.bytes >= 1024 else { throw ValidationError("--max-body must be at least 1KiB") }
        guard (1024...(1 << 30)).contains(maxBomSize.bytes) else {
            throw ValidationError("--max-bom-size must be 1KiB to 1GiB")
        }
        guard maxRequestLine.bytes >= 256 else {
            throw ValidationError("--max-request-line must be at least 256 bytes")
        }
        guard maxHeaderBytes.bytes >= 1024 else { throw ValidationError("--max-header-bytes must be at least 1KiB") }
        guard (4...10_000).contains(maxHeaders) else { throw ValidationError("--max-headers must be 4 to 10000") }
    }

    /// Applies the limits and timeouts to a server configuration.
    func apply(to configuration: inout HTTPServerConfiguration) {
        configuration.limits.bodyBytes = maxBody.bytes
        configuration.limits.requestLineBytes = maxRequestLine.bytes
        configuration.limits.headerLineBytes = min(configuration.limits.headerLineBytes, maxHeaderBytes.bytes)
        configuration.limits.headerBytes = maxHeaderBytes.bytes
        configuration.limits.headerCount = maxHeaders
        configuration.headerTimeout = .milliseconds(headerTimeout.milliseconds)
        configuration.bodyTimeout = .milliseconds(bodyTimeout.milliseconds)
        configuration.keepAliveTimeout = .milliseconds(keepAliveTimeout.milliseconds)
        configuration.sendTimeout = .milliseconds(sendTimeout.milliseconds)
        configuration.shutdownGracePeriod = .milliseconds(shutdownGrace.milliseconds)
    }
}
