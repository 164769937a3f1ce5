import Foundation
import Hummingbird
import PagerDutyEvents
import Synchronization

/// A loopback receiver that answers every POST with 200 (or the status of ``answer(with:)``) and keeps its JSON body: stands for another of
/// Alertmanager's receivers (chat, e-mail) in the end-to-end tests, which count the notifications it gets.
public final class WebhookRecorder: Sendable {
    /// `http://127.0.0.1:<port>`.
    public let baseURL: String
    private let store: Store
    private let server: RunningLoopbackServer

    private init(store: Store, server: RunningLoopbackServer) {
        self.baseURL = server.baseURL
        self.store = store
        self.server = server
    }

    /// Starts a recorder on an ephemeral loopback port and returns once it accepts connections.
    public static func start() async throws -> WebhookRecorder {
        let store = Store()
        let server = try await LoopbackServer.run(name: "WebhookRecorder") {
            (request: Request, _: BasicRequestContext) in
            let body = try await request.body.collect(upTo: 4 << 20)
            var headers: [String: String] = [:]
            for field in request.headers {
                let name = field.name.canonicalName
                headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
            }
            let received = Received(path: request.uri.path, headers: headers, body: Array(body.readableBytesView))
            store.received.withLock { $0.append(received) }
            if let json = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)) {
                store.bodies.withLock { $0.append(json) }
            }
            return Response(status: .init(code: store.answerStatus.load(ordering: .relaxed)))
        }
        return WebhookRecorder(store: store, server: server)
    }

    /// The bodies received, shared with the server's handler.
    private final class Store: Sendable {
        let bodies = Mutex<[JSONValue]>([])
        let received = Mutex<[Received]>([])
        let answerStatus = Atomic<Int>(200)
    }

    /// Answers every later request with `status` (initially 200).
    public func answer(with status: Int) {
        store.answerStatus.store(status, ordering: .relaxed)
    }

    /// One request as it arrived.
    public struct Received: Sendable {
        /// The request path.
        public var path: String
        /// Header names in lower case; repeated headers joined by ", ".
        public var headers: [String: String]
        /// The raw body.
        public var body: [UInt8]
    }

    /// Every JSON body received so far, in order.
    public var bodies: [JSONValue] { store.bodies.withLock { $0 } }

    /// Every request received so far (JSON or not), in order.
    public var requests: [Received] { store.received.withLock { $0 } }

    /// How many notifications named an alert with label `name` = `value` while it was firing.
    public func firingNotifications(label name: String, value: String) -> Int {
        bodies.filter { body in
            guard case .array(let alerts)? = body.member("alerts") else { return false }
            return alerts.contains { alert in
                alert.member("status")?.stringValue == "firing" && alert.member("labels")?.member(name)?.stringValue == value
            }
        }.count
    }

    /// Stops the server and waits until it has closed its port.
    public func stop() async {
        await server.stop()
    }
}
