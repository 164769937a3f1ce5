import Foundation
import Hummingbird

/// A loopback OTLP/HTTP traces receiver (`POST /v1/traces`): decodes each export (`application/x-protobuf` with
/// ``OTLPProtobufReader``, `application/json` with ``OTLPJSONReader``), keeps the spans and the raw bytes (so a
/// test can look for a secret in everything that was sent), and answers 200.
public final class OTLPReceiver: OTLPTestReceiver {
    /// `http://127.0.0.1:<port>`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    public var endpoint: String { server.baseURL }
    public let exports: ReceivedExports
    private let server: RunningLoopbackServer

    private init(server: RunningLoopbackServer, exports: ReceivedExports) {
        self.server = server
        self.exports = exports
    }

    /// Starts a receiver on 127.0.0.1 and returns once it accepts connections.
    /// - Parameter port: 0 (the default) for an ephemeral port; OTLP/HTTP's default port 4318 to stand in for a
    ///   collector at the default endpoint (throws when that port is taken).
    public static func start(port: Int = 0) async throws -> OTLPReceiver {
        let exports = ReceivedExports()
        let server = try await LoopbackServer.run(name: "OTLPReceiver", port: port) {
            (request: Request, _: BasicRequestContext) in
            let body = Array(buffer: try await request.body.collect(upTo: 16 << 20))
            let contentType = request.headers[.contentType] ?? ""
            let isJSON = contentType.hasPrefix("application/json")
            do {
                let spans =
                    isJSON ? try OTLPJSONReader.spans(fromRequest: body) : try OTLPProtobufReader.spans(fromRequest: body)
                exports.record(messages: [body], spans: spans, path: request.uri.path, contentType: contentType)
            } catch {
                exports.recordUndecodable(error)
                return Response(status: .badRequest)
            }
            var headers = HTTPFields()
            headers[.contentType] = isJSON ? "application/json" : "application/x-protobuf"
            // An empty ExportTraceServiceResponse: "{}" in JSON, no bytes in protobuf.
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: isJSON ? "{}" : "")))
        }
        return OTLPReceiver(server: server, exports: exports)
    }

    /// Stops the server and waits until it has closed its port.
    public func stop() async {
        await server.stop()
    }
}
