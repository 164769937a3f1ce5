import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

/// A loopback OTLP/gRPC traces receiver over cleartext HTTP/2 (h2c, prior knowledge), enough for the
/// `TraceService/Export` unary call: each request's 5-byte gRPC prefix is read off and the message decoded with
/// ``OTLPProtobufReader``; every call is answered with an empty `ExportTraceServiceResponse` and `grpc-status: 0`.
public final class OTLPGRPCReceiver: OTLPTestReceiver {
    /// `http://127.0.0.1:<port>`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT` with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`.
    public let endpoint: String
    public let exports: ReceivedExports
    private let channel: any Channel

    private init(channel: any Channel, port: Int, exports: ReceivedExports) {
        self.channel = channel
        self.endpoint = "http://127.0.0.1:\(port)"
        self.exports = exports
    }

    /// Starts a receiver on an ephemeral loopback port.
    public static func start() async throws -> OTLPGRPCReceiver {
        let exports = ReceivedExports()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.configureHTTP2Pipeline(mode: .server, inboundStreamInitializer: { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandler(ExportCallHandler(exports: exports))
                    }
                }).map { _ in }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        return OTLPGRPCReceiver(channel: channel, port: port, exports: exports)
    }

    /// Closes the listening socket.
    public func stop() async {
        try? await channel.close()
    }

    /// One HTTP/2 stream: one unary call.
    private final class ExportCallHandler: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload
        typealias OutboundOut = HTTP2Frame.FramePayload

        private let exports: ReceivedExports
        private var path = ""
        private var contentType = ""
        private var body: [UInt8] = []

        init(exports: ReceivedExports) {
            self.exports = exports
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .headers(let headers):
                if let path = headers.headers.first(name: ":path") { self.path = path }
                if let contentType = headers.headers.first(name: "content-type") { self.contentType = contentType }
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
                exports.record(messages: messages, spans: spans, path: path, contentType: contentType)
            } catch {
                exports.recordUndecodable(error)
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
