import Foundation
import Hummingbird
import Logging
import Synchronization

/// A fake Alertmanager API on 127.0.0.1 (an ephemeral port), for tests: it answers every request with the
/// configured status and body (initially 200 and `[]`) and records the method, path, query and headers.
public final class FakeAlertmanagerAPI: Sendable {
    /// One request the fake received.
    public struct ReceivedRequest: Sendable {
        /// `GET`, `POST`, …
        public var method: String
        /// The path, e.g. `/api/v2/alerts`.
        public var path: String
        /// The raw query, without `?`; empty when there is none.
        public var query: String
        /// Header names in lower case.
        public var headers: [String: String]
        /// The raw body.
        public var body: [UInt8]
    }

    /// The answer the fake gives.
    public struct Answer: Sendable {
        public var status: Int
        public var body: [UInt8]

        /// An answer with `status` and `body`, served as `application/json`.
        public init(status: Int, body: [UInt8]) {
            self.status = status
            self.body = body
        }
    }

    /// `http://127.0.0.1:PORT`.
    public let baseURL: String
    private let state: FakeAlertmanagerState
    private let server: RunningLoopbackServer

    private init(state: FakeAlertmanagerState, server: RunningLoopbackServer) {
        self.baseURL = server.baseURL
        self.state = state
        self.server = server
    }

    /// Starts a fake on an ephemeral loopback port and returns once it accepts connections.
    public static func start() async throws -> FakeAlertmanagerAPI {
        let state = FakeAlertmanagerState()
        let server = try await LoopbackServer.run(name: "FakeAlertmanagerAPI") {
            (request: Request, _: BasicRequestContext) in
            try await state.respond(to: request)
        }
        return FakeAlertmanagerAPI(state: state, server: server)
    }

    /// Stops the server and waits until it has closed its port.
    public func stop() async {
        await server.stop()
    }

    /// Sets the answer to every following request.
    public func answer(_ answer: Answer) {
        state.answer.withLock { $0 = answer }
    }

    /// Every request received so far.
    public var requests: [ReceivedRequest] {
        state.requests.withLock { $0 }
    }
}

/// The shared state of a ``FakeAlertmanagerAPI`` and its request handling.
private final class FakeAlertmanagerState: Sendable {
    let answer = Mutex(FakeAlertmanagerAPI.Answer(status: 200, body: Array("[]".utf8)))
    let requests = Mutex<[FakeAlertmanagerAPI.ReceivedRequest]>([])

    func respond(to request: Request) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        let received = FakeAlertmanagerAPI.ReceivedRequest(
            method: request.method.rawValue,
            path: request.uri.path,
            query: request.uri.query ?? "",
            headers: headers,
            body: Array(buffer.readableBytesView)
        )
        requests.withLock { $0.append(received) }
        let answer = self.answer.withLock { $0 }
        return Response(
            status: .init(code: answer.status),
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: answer.body))
        )
    }
}
