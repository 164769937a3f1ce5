import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import PublisherWebConfig

/// The receiver's HTTP/1.1 connections: Hummingbird's `HTTP1Channel` with its idle timeout, plus a read deadline
/// in front of the HTTP decoder and ``CloseAfterRefusal`` behind it.
///
/// - The idle timeout (Hummingbird's) closes a kept-alive connection that sends nothing between two requests.
/// - The read deadline (``RequestReadDeadline``) closes a connection whose request does not arrive whole in time,
///   counted from the connection's opening or from the request's first byte: half a request line, half the
///   headers or half a body are all dropped when it runs out.
/// - ``CloseAfterRefusal`` closes the connection after an answer that carries `Connection: close`, without reading
///   the rest of the body.
/// - ``ConfiguredResponseHeaders``, with a web configuration, adds its `http_server_config.headers` to every answer
///   the connection writes: the router's, and the 400 the HTTP layer gives a request it cannot parse.
struct ReceiverHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    private let http1: HTTP1Channel
    private let readTimeout: Duration?
    private let logger: Logger

    init(
        responder: @escaping HTTPChannelHandler.Responder,
        idleTimeout: Duration?,
        readTimeout: Duration?,
        webConfig: LiveWebConfig? = nil,
        logger: Logger
    ) {
        let signalsRequestEnd = readTimeout != nil
        http1 = HTTP1Channel(
            responder: responder,
            configuration: .init(
                additionalChannelHandlers: Self.handlers(signalsRequestEnd: signalsRequestEnd, webConfig: webConfig),
                idleTimeout: idleTimeout.map { TimeAmount($0) }
            )
        )
        self.readTimeout = readTimeout
        self.logger = logger
    }

    /// The handlers after the HTTP codec, new for each connection.
    private static func handlers(signalsRequestEnd: Bool, webConfig: LiveWebConfig?) -> [any RemovableChannelHandler] {
        var handlers: [any RemovableChannelHandler] = []
        if signalsRequestEnd { handlers.append(RequestEndSignal()) }
        handlers.append(CloseAfterRefusal())
        if let webConfig { handlers.append(ConfiguredResponseHeaders(webConfig: webConfig)) }
        return handlers
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        if let readTimeout {
            do {
                try channel.pipeline.syncOperations.addHandler(
                    RequestReadDeadline(timeout: TimeAmount(readTimeout), logger: self.logger),
                    position: .first
                )
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
        return http1.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}

/// Closes the connection when a request does not arrive whole within `timeout`.
///
/// Sits first in the pipeline, so it sees raw bytes: the clock starts when the connection opens, and again with
/// the first bytes after a request was received whole (``RequestEndSignal`` says when, through an outbound user
/// event). While a received request is being answered, no clock runs; between requests the idle timeout applies.
final class RequestReadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The outbound user event saying that a request's last part was decoded.
    struct RequestReceived: Sendable {}

    private let timeout: TimeAmount
    private let logger: Logger
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startClock(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopClock()
    }

    func channelActive(context: ChannelHandlerContext) {
        startClock(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopClock()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        startClock(context)
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is RequestReceived else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        stopClock()
        promise?.succeed()
    }

    /// Starts the clock unless it already runs.
    private func startClock(_ context: ChannelHandlerContext) {
        guard deadline == nil else { return }
        let logger = self.logger
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            logger.debug("Closing a connection whose request did not arrive within the read timeout")
            context.close(promise: nil)
        }
    }

    private func stopClock() {
        deadline?.cancel()
        deadline = nil
    }
}

/// Tells ``RequestReadDeadline`` when a request's last part was decoded.
final class RequestEndSignal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            context.triggerUserOutboundEvent(RequestReadDeadline.RequestReceived(), promise: nil)
        }
        context.fireChannelRead(data)
    }
}

/// Closes the connection after a response carrying `Connection: close`, without reading the rest of the request.
///
/// From that response's head on, nothing more is read from the socket. Once the response is written, the
/// sending side is shut (the client sees the answer, then the end of the stream), and the connection is closed
/// whole a moment later: closing at once, with unread bytes pending, would make the system reset the connection,
/// and a reset can destroy the answer before the client reads it.
final class CloseAfterRefusal: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// How long the connection stays half-closed before it is closed whole.
    static let linger = TimeAmount.milliseconds(500)

    private var closing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        guard !closing else { return }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.headerFields[.connection]?.lowercased() == "close" { closing = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closing else {
                context.write(data, promise: promise)
                return
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            context.writeAndFlush(data, promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in
                context.close(mode: .output, promise: nil)
                context.eventLoop.assumeIsolated().scheduleTask(in: Self.linger) {
                    context.close(promise: nil)
                }
            }
        }
    }
}

/// Adds the web configuration's `http_server_config.headers` to every response head, as it is in force when the
/// head is written (a reload applies to the next answer).
///
/// Sits behind the HTTP codec, so it sees each answer the connection gives: the router's (errors and 404s
/// included) and the 400 that Hummingbird writes for a request it cannot parse, before any route is reached.
final class ConfiguredResponseHeaders: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let webConfig: LiveWebConfig

    init(webConfig: LiveWebConfig) {
        self.webConfig = webConfig
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        for header in webConfig.current.headers {
            if let name = HTTPFields.Element.Name(header.name) { head.headerFields[name] = header.value }
        }
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }
}
