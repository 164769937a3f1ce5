import Foundation
import Hummingbird
import Synchronization

/// A loopback OTLP/HTTP traces receiver (`POST /v1/traces`): decodes each export (`application/x-protobuf` with
/// ``OTLPProtobufReader``, `application/json` with ``OTLPJSONReader``), keeps the spans and the raw bytes (so a
/// test can look for a secret in everything that was sent), and answers 200.
public final class OTLPReceiver: Sendable {
    /// `http://127.0.0.1:<port>`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    public let endpoint: String
    private let store: Store
    private let serverTask: Mutex<Task<Void, Never>?>

    private init(port: Int, store: Store, serverTask: Task<Void, Never>) {
        self.endpoint = "http://127.0.0.1:\(port)"
        self.store = store
        self.serverTask = Mutex(serverTask)
    }

    deinit {
        serverTask.withLock { $0?.cancel() }
    }

    /// Starts a receiver on an ephemeral loopback port and returns once it accepts connections.
    public static func start() async throws -> OTLPReceiver {
        let store = Store()
        let (port, task) = try await LoopbackServer.start(name: "OTLPReceiver") {
            (request: Request, _: BasicRequestContext) in
            let body = Array(buffer: try await request.body.collect(upTo: 16 << 20))
            let contentType = request.headers[.contentType] ?? ""
            let isJSON = contentType.hasPrefix("application/json")
            do {
                let spans =
                    isJSON ? try OTLPJSONReader.spans(fromRequest: body) : try OTLPProtobufReader.spans(fromRequest: body)
                store.state.withLock { state in
                    state.raw.append(body)
                    state.spans += spans
                    state.contentTypes.append(contentType)
                    state.paths.append(request.uri.path)
                }
            } catch {
                store.state.withLock { $0.errors.append("\(error)") }
                return Response(status: .badRequest)
            }
            var headers = HTTPFields()
            headers[.contentType] = isJSON ? "application/json" : "application/x-protobuf"
            // An empty ExportTraceServiceResponse: "{}" in JSON, no bytes in protobuf.
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: isJSON ? "{}" : "")))
        }
        return OTLPReceiver(port: port, store: store, serverTask: task)
    }

    final class Store: Sendable {
        struct State {
            var raw: [[UInt8]] = []
            var spans: [ReceivedSpan] = []
            var contentTypes: [String] = []
            var paths: [String] = []
            var errors: [String] = []
        }

        let state = Mutex(State())
    }

    /// Every span received so far.
    public var spans: [ReceivedSpan] { store.state.withLock { $0.spans } }
    /// The bodies of the exports, as received.
    public var rawBodies: [[UInt8]] { store.state.withLock { $0.raw } }
    /// The `Content-Type` of each export.
    public var contentTypes: [String] { store.state.withLock { $0.contentTypes } }
    /// The path of each export.
    public var paths: [String] { store.state.withLock { $0.paths } }
    /// Exports that could not be decoded.
    public var errors: [String] { store.state.withLock { $0.errors } }

    /// Whether `text` occurs anywhere in what was received.
    public func receivedBytesContain(_ text: String) -> Bool {
        let needle = Array(text.utf8)
        return rawBodies.contains { body in
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
            if condition(spans) { return spans }
            if clock.now >= deadline { return spans }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Stops the server and waits until it has closed its port.
    public func stop() async {
        let task = serverTask.withLock { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
    }
}
