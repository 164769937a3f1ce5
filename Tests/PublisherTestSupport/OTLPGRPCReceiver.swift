import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import Synchronization

/// A loopback OTLP/gRPC traces receiver over cleartext HTTP/2 (h2c, prior knowledge), enough for the
/// `TraceService/Export` unary call: each request's 5-byte gRPC prefix is read off and the message decoded with
/// ``OTLPProtobufReader``; every call is answered with an empty `ExportTraceServiceResponse` and `grpc-status: 0`.
public final class OTLPGRPCReceiver: Sendable {
    /// `http://127.0.0.1:<port>`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT` with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`.
    public let endpoint: String
    private let channel: any Channel
    private let store: Store

    private init(channel: any Channel, port: Int, store: Store) {
        self.channel = channel
        self.endpoint = "http://127.0.0.1:\(port)"
        self.store = store
    }

    final class Store: Sendable {
        struct State {
            var raw: [[UInt8]] = []
            var spans: [ReceivedSpan] = []
            var paths: [String] = []
            var errors: [String] = []
        }

        let state = Mutex(State())
    }

    /// Starts a receiver on an ephemeral loopback port.
    public static func start() async throws -> OTLPGRPCReceiver {
        let store = Store()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.configureHTTP2Pipeline(mode: .server, inboundStreamInitializer: { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandler(ExportCallHandler(store: store))
                    }
                }).map { _ in }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        return OTLPGRPCReceiver(channel: channel, port: port, store: store)
    }

    /// Every span received so far.
    public var spans: [ReceivedSpan] { store.state.withLock { $0.spans } }
    /// The gRPC messages received, without their prefix.
    public var rawMessages: [[UInt8]] { store.state.withLock { $0.raw } }
    /// The `:path` of each call.
    public var paths: [String] { store.state.withLock { $0.paths } }
    /// Calls that could not be decoded.
    public var errors: [String] { store.state.withLock { $0.errors } }

    /// Whether `text` occurs anywhere in what was received.
    public func receivedBytesContain(_ text: String) -> Bool {
        let needle = Array(text.utf8)
        return rawMessages.contains { body in
            guard body.count >= needle.count, !needle.isEmpty else { return false }
            return (0...(body.count - needle.count)).contains { start in body[start..<start + needle.count].elementsEqual(needle) }
        }
    }

    /// Polls until `condition` holds on the spans received, for at most `timeout`; returns the spans then.
    public func waitForSpans(
        timeout: Duration = .seconds(20), until condition: ([ReceivedSpan]) -> Bool
    ) async throws -> [ReceivedSpan] {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            let spans = self.spans
            if condition(spans) || clock.now >= deadline { return spans }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Closes the listening socket.
    public func stop() async {
        try? await channel.close()
    }

    /// One HTTP/2 stream: one unary call.
    private final class ExportCallHandler: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload
        typealias OutboundOut = HTTP2Frame.FramePayload

        private let store: Store
        private var path = ""
        private var body: [UInt8] = []

        init(store: Store) {
            self.store = store
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .headers(let headers):
                if let path = headers.headers.first(name: ":path") { self.path = path }
                if headers.endStream { finish(context: context) }
            case .data(let data):
                if case .byteBuffer(let buffer) = data.data { body += Array(buffer: buffer) }
                if data.endStream { finish(context: context) }
            default:
                break
            }
        }

        private func finish(context: ChannelHandlerContext) {
            // gRPC framing: 1 byte compressed flag, 4 bytes big-endian length, then the message.
            var messages: [[UInt8]] = []
            var index = 0
            while index + 5 <= body.count {
                let length = body[index + 1..<index + 5].reduce(0) { $0 << 8 | Int($1) }
                guard index + 5 + length <= body.count else { break }
                messages.append(Array(body[index + 5..<index + 5 + length]))
                index += 5 + length
            }
            do {
                let spans = try messages.flatMap { try OTLPProtobufReader.spans(fromRequest: $0) }
                store.state.withLock { state in
                    state.raw += messages
                    state.spans += spans
                    state.paths.append(path)
                }
            } catch {
                store.state.withLock { $0.errors.append("\(error)") }
            }
            let headers = HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")])
            context.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
            // An empty ExportTraceServiceResponse: not compressed, length 0.
            let message = context.channel.allocator.buffer(bytes: [0, 0, 0, 0, 0])
            context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(message)))), promise: nil)
            let trailers = HPACKHeaders([("grpc-status", "0")])
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
        }
    }
}
