import AlertmanagerModels
import Hummingbird
import PublisherCore
import PublisherReceiver
import PublisherTestSupport
import StructuredLogging
import Synchronization
import Testing

/// The receiver's connection and request limits, on a real socket: read timeout, close after a refusal,
/// webhooks in flight and the connection cap. Timeouts are short; every wait is bounded by a deadline.
@Suite("Connection and request limits", .timeLimit(.minutes(3)))
struct ConnectionLimitTests {
    static let smallWebhook = #"{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}"#

    /// A request head for `POST /v1/alertmanager` announcing `contentLength` bytes of JSON.
    static func head(contentLength: Int, extra: String = "") -> String {
        "POST /v1/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(contentLength)\r\n\(extra)\r\n"
    }

    @Test("a connection that sends nothing, half a head or half a body is closed after the read timeout")
    func readTimeoutDropsHalfRequests() async throws {
        let receiver = try await RunningReceiver(
            configuration: ReceiverConfiguration(host: "127.0.0.1", port: 0, idleTimeout: nil, readTimeout: .milliseconds(300)))
        defer { receiver.stop() }
        let silent = try RawHTTPConnection(port: receiver.port)
        let halfHead = try RawHTTPConnection(port: receiver.port)
        try halfHead.send("POST /v1/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
        let halfBody = try RawHTTPConnection(port: receiver.port)
        try halfBody.send(Self.head(contentLength: Self.smallWebhook.utf8.count) + Self.smallWebhook.prefix(10))
        for connection in [silent, halfHead, halfBody] {
            let closed = try await RawHTTPConnection.inThread { connection.waitForClose(timeout: .seconds(20)) }
            #expect(closed)
        }
        #expect(receiver.ingestor.calls.isEmpty)
    }

    @Test("a request that arrives whole in time is answered, and the kept-alive connection serves another")
    func readTimeoutSparesWholeRequests() async throws {
        let receiver = try await RunningReceiver(
            configuration: ReceiverConfiguration(host: "127.0.0.1", port: 0, readTimeout: .seconds(5)))
        defer { receiver.stop() }
        let connection = try RawHTTPConnection(port: receiver.port)
        for _ in 0..<2 {
            try connection.send(Self.head(contentLength: Self.smallWebhook.utf8.count) + Self.smallWebhook)
            let response = try await RawHTTPConnection.inThread { connection.readResponse() }
            #expect(response?.status == 202)
        }
        #expect(receiver.ingestor.calls.count == 2)
    }

    @Test("an idle kept-alive connection is closed after the idle timeout")
    func idleTimeoutClosesKeptAliveConnections() async throws {
        let receiver = try await RunningReceiver(
            configuration: ReceiverConfiguration(host: "127.0.0.1", port: 0, idleTimeout: .milliseconds(300), readTimeout: nil))
        defer { receiver.stop() }
        let connection = try RawHTTPConnection(port: receiver.port)
        try connection.send(Self.head(contentLength: Self.smallWebhook.utf8.count) + Self.smallWebhook)
        let response = try await RawHTTPConnection.inThread { connection.readResponse() }
        #expect(response?.status == 202)
        let closed = try await RawHTTPConnection.inThread { connection.waitForClose(timeout: .seconds(20)) }
        #expect(closed)
    }

    @Test("401, 413 and 415 close the connection without waiting for the announced body",
          arguments: [
            (Self.head(contentLength: 1_000_000), 401),
            (Self.head(contentLength: 1_000_000, extra: "Authorization: Bearer \(RunningReceiver.token)\r\n")
                .replacingOccurrences(of: "Content-Length: 1000000", with: "Content-Length: 2000000"), 413),
            (Self.head(contentLength: 1_000_000, extra: "Authorization: Bearer \(RunningReceiver.token)\r\n")
                .replacingOccurrences(of: "application/json", with: "text/plain"), 415),
          ])
    func refusalsClose(head: String, status: Int) async throws {
        // No read timeout: only the refusal may close the connection.
        let receiver = try await RunningReceiver(
            configuration: ReceiverConfiguration(
                host: "127.0.0.1", port: 0, authToken: RunningReceiver.token, maxBodyBytes: 1_500_000,
                idleTimeout: nil, readTimeout: nil))
        defer { receiver.stop() }
        let connection = try RawHTTPConnection(port: receiver.port)
        try connection.send(head + String(repeating: " ", count: 1000))
        let response = try await RawHTTPConnection.inThread { connection.readResponse() }
        #expect(response?.status == status)
        #expect(response?.headers["connection"] == "close")
        let closed = try await RawHTTPConnection.inThread { connection.waitForClose(timeout: .seconds(20)) }
        #expect(closed)
        #expect(receiver.ingestor.calls.isEmpty)
    }

    @Test("past --max-webhooks-in-flight a webhook gets 503 with Retry-After; once one finishes, the next is taken")
    func webhooksInFlightCap() async throws {
        let ingestor = GatedIngestor()
        var harness = ReceiverHarness()
        harness.configuration.maxWebhooksInFlight = 1
        let router = Receiver.makeRouter(
            configuration: harness.configuration, ingestor: ingestor, changeEvents: harness.changeEvents,
            readiness: harness.readiness, metrics: { "" }, logger: capturingLogger(harness.logs)
        )
        try await Application(router: router, logger: capturingLogger(harness.logs)).test(.router) { client in
            async let first = client.postWebhook(Self.smallWebhook)
            try await ingestor.waitUntilEntered(count: 1)
            let refused = try await client.postWebhook(Self.smallWebhook)
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headers[.retryAfter] == "1")
            #expect(refused.headers[.connection] == "close")
            #expect((try refused.jsonObject()["error"] as? String)?.contains("1 webhooks are already being received") == true)
            let changeEvent = try await client.postWebhook(#"{"summary":"deploy"}"#, uri: "/v1/change-events")
            #expect(changeEvent.status == .serviceUnavailable, "change events share the cap")
            ingestor.open()
            #expect(try await first.status == .accepted)
            let next = try await client.postWebhook(Self.smallWebhook)
            #expect(next.status == .accepted)
        }
        #expect(ingestor.entered == 2)
        #expect(harness.changeEvents.calls.isEmpty)
    }

    @Test("past --max-connections a new connection waits until one closes")
    func connectionCap() async throws {
        let receiver = try await RunningReceiver(
            configuration: ReceiverConfiguration(host: "127.0.0.1", port: 0, readTimeout: nil, maxConnections: 1))
        defer { receiver.stop() }
        let first = try RawHTTPConnection(port: receiver.port)
        try first.send(Self.head(contentLength: Self.smallWebhook.utf8.count) + Self.smallWebhook)
        #expect(try await RawHTTPConnection.inThread { first.readResponse() }?.status == 202)
        let second = try RawHTTPConnection(port: receiver.port)  // accepted by the system, not yet by the server
        try second.send(Self.head(contentLength: Self.smallWebhook.utf8.count) + Self.smallWebhook)
        let early = try await RawHTTPConnection.inThread { second.readResponse(timeout: .milliseconds(500)) }
        #expect(early == nil, "answered while the cap was reached")
        first.close()
        #expect(try await RawHTTPConnection.inThread { second.readResponse(timeout: .seconds(20)) }?.status == 202)
    }
}

/// The application on 127.0.0.1 with a recording ingestor, stopped by ``stop()``.
struct RunningReceiver {
    static let token = "limits-test-token-0123456789"
    let port: Int
    let ingestor = RecordingIngestor(outcome: .success(IngestResult(alerts: 1, queued: 1, unchanged: 0)))
    private let task: Task<Void, any Error>

    init(configuration: ReceiverConfiguration) async throws {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Receiver.makeApplication(
            configuration: configuration,
            ingestor: ingestor,
            changeEvents: RecordingChangeEventIngestor(),
            readiness: ScriptedReadiness(checks: []),
            metrics: { "" },
            logger: capturingLogger(MemoryLogSink()),
            onServerRunning: { port in portContinuation.yield(port) }
        )
        task = Task { try await app.run() }
        port = try await firstValue(of: ports, within: .seconds(20))
    }

    func stop() {
        task.cancel()
    }
}

/// An ingestor that holds every webhook until ``open()`` is called.
final class GatedIngestor: AlertIngesting {
    private let state = Mutex((entered: 0, isOpen: false, waiting: [CheckedContinuation<Void, Never>]()))

    var entered: Int { state.withLock { $0.entered } }

    func ingest(_ message: AlertmanagerModels.WebhookMessage, route: String?) async throws(IngestError) -> IngestResult {
        await withCheckedContinuation { continuation in
            let proceed = state.withLock { state in
                state.entered += 1
                if state.isOpen { return true }
                state.waiting.append(continuation)
                return false
            }
            if proceed { continuation.resume() }
        }
        return IngestResult(alerts: message.alerts.count, queued: message.alerts.count, unchanged: 0)
    }

    /// Lets every held and later webhook through.
    func open() {
        let waiting = state.withLock { state in
            state.isOpen = true
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Returns once `count` webhooks reached the ingestor, polling every millisecond for at most 10 s.
    func waitUntilEntered(count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while entered < count {
            guard ContinuousClock.now < deadline else { throw TimedOut() }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}
