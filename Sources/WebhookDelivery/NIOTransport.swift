// Webhook delivery over the network exists in builds with the package trait Webhooks (default).
#if Webhooks
    internal import HTTP1
    internal import NIOCore
    internal import NIOPosix
    internal import NIOSSL
    public import Notifications
    internal import Storage
    internal import Synchronization

    /// Sends deliveries with SwiftNIO: one connection per attempt (`Connection: close`), TLS by
    /// NIOSSL (BoringSSL) with certificate and host name verification, the request written by
    /// our `RequestSerializer` and the answer read by our bounded `ResponseParser`. Redirects are
    /// not followed (a 3xx is a failed attempt). The whole attempt, connecting included, is
    /// bounded by its timeout.
    public final class NIOTransport: DeliveryTransport {
        private let group: any EventLoopGroup
        private let tls: NIOSSLContext

        /// - Parameter caFile: PEM certificates to trust instead of the system's roots.
        /// - Throws: a description when the CA file cannot be read or TLS cannot be set up.
        public init(caFile: String?) throws(TransportSetupError) {
            group = MultiThreadedEventLoopGroup.singleton
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .fullVerification
            do {
                if let caFile {
                    let certificates = try NIOSSLCertificate.fromPEMFile(caFile)
                    guard !certificates.isEmpty else { throw TransportSetupError("\(caFile) holds no certificate") }
                    configuration.trustRoots = .certificates(certificates)
                }
                tls = try NIOSSLContext(configuration: configuration)
            } catch let error as TransportSetupError {
                throw error
            } catch {
                throw TransportSetupError(
                    "cannot set up TLS for webhooks\(caFile.map { " with \($0)" } ?? ""): \(error)")
            }
        }

        public func shutdown() {}

        public func send(
            url: WebhookURL, headers: [(String, String)], body: [UInt8], timeoutSeconds: Double,
            done: @escaping @Sendable (DeliveryReport.Outcome) -> Void
        ) {
            let finish = Once(done)
            let head: [UInt8]
            do {
                head = try RequestSerializer.head(
                    method: "POST", target: url.target, host: url.authority, headers: headers, bodyLength: body.count)
            } catch {
                return finish(.failed("refusing to send: \(error)", retryAfter: nil))
            }
            let milliseconds = Int64(max(0.001, timeoutSeconds) * 1000)
            let tls = url.isTLS ? self.tls : nil
            let sniName = Self.isIPLiteral(url.host) ? nil : url.host
            let bootstrap = ClientBootstrap(group: group)
                .connectTimeout(.milliseconds(milliseconds))
                .channelInitializer { channel in
                    do {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(
                                NIOSSLClientHandler(context: tls, serverHostname: sniName))
                        }
                        try channel.pipeline.syncOperations.addHandler(ResponseHandler(finish))
                        return channel.eventLoop.makeSucceededVoidFuture()
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                }
            // The deadline covers the whole attempt: name lookup and connecting too.
            let deadline = group.next().scheduleTask(in: .milliseconds(milliseconds)) {
                finish(.failed("no answer within \(Self.seconds(timeoutSeconds)) s", retryAfter: nil))
            }
            finish.onFinish { deadline.cancel() }
            bootstrap.connect(host: url.host, port: url.port).whenComplete { result in
                switch result {
                case .failure(let error):
                    finish(.failed("cannot connect to \(url.authority): \(error)", retryAfter: nil))
                case .success(let channel):
                    finish.onFinish { channel.close(promise: nil) }
                    var buffer = channel.allocator.buffer(capacity: head.count + body.count)
                    buffer.writeBytes(head)
                    buffer.writeBytes(body)
                    channel.writeAndFlush(buffer).whenFailure { error in
                        finish(.failed("the connection failed while sending: \(error)", retryAfter: nil))
                    }
                }
            }
        }

        static func seconds(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(value)
        }

        static func isIPLiteral(_ host: String) -> Bool {
            host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
        }
    }

    /// Calls the outcome callback once, whichever of answer, failure, close and timeout comes
    /// first, and then the clean-ups registered with ``onFinish(_:)``.
    final class Once: Sendable {
        private let state:
            Mutex<(done: (@Sendable (DeliveryReport.Outcome) -> Void)?, cleanups: [@Sendable () -> Void])>

        init(_ done: @escaping @Sendable (DeliveryReport.Outcome) -> Void) { state = Mutex((done, [])) }

        func callAsFunction(_ outcome: DeliveryReport.Outcome) {
            let (done, cleanups) = state.withLock { state in
                let taken = (state.done, state.cleanups)
                state.done = nil
                state.cleanups = []
                return taken
            }
            guard let done else { return }
            for cleanup in cleanups { cleanup() }
            done(outcome)
        }

        /// Runs `cleanup` when the attempt ends (at once when it has).
        func onFinish(_ cleanup: @escaping @Sendable () -> Void) {
            let finished = state.withLock { state in
                guard state.done != nil else { return true }
                state.cleanups.append(cleanup)
                return false
            }
            if finished { cleanup() }
        }
    }

    /// Reads the answer with our bounded parser and judges it.
    final class ResponseHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        private var parser: ResponseParser
        private let finish: Once

        init(_ finish: Once) {
            var limits = ResponseLimits()
            limits.bodyBytes = 1 << 20
            limits.headerBytes = 32 << 10
            parser = ResponseParser(limits: limits)
            self.finish = finish
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            do {
                if let response = try parser.consume(bytes) {
                    finish(Self.judge(response))
                    context.close(promise: nil)
                }
            } catch {
                finish(.failed("an invalid response: \(error)", retryAfter: nil))
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(.failed("the connection closed before the response", retryAfter: nil))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(.failed("\(error)", retryAfter: nil))
            context.close(promise: nil)
        }

        /// 2xx is delivered; anything else failed, with the receiver's `Retry-After` (seconds)
        /// on 429 and 503, and the start of its body.
        static func judge(_ response: ClientResponse) -> DeliveryReport.Outcome {
            if (200...299).contains(response.status) { return .delivered }
            var retryAfter: Int64?
            if response.status == 429 || response.status == 503, let value = response.headers["retry-after"],
                let seconds = Int64(value.filter { $0 != " " && $0 != "\t" }), seconds >= 0
            {
                retryAfter = seconds * 1000
            }
            let text = String(decoding: response.body.prefix(200), as: UTF8.self)
                .map { $0.isASCII && !$0.isNewline ? $0 : " " }
            var reason = "HTTP \(response.status)"
            if (300...399).contains(response.status) {
                reason +=
                    " (redirects are not followed\(response.headers["location"].map { "; Location: \($0.prefix(200))" } ?? ""))"
            }
            if !text.isEmpty { reason += ": " + String(text) }
            return .failed(reason, retryAfter: retryAfter)
        }
    }

#endif
