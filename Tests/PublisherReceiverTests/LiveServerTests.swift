import Hummingbird
import HummingbirdTesting
import PublisherCore
import PublisherReceiver
import StructuredLogging
import Testing

@Suite("The application on a real socket", .timeLimit(.minutes(2)))
struct LiveServerTests {
    @Test("binds 127.0.0.1 on a free port, reports it, answers, and stops when cancelled")
    func servesOnLoopback() async throws {
        let ingestor = RecordingIngestor(outcome: .success(IngestResult(alerts: 2, queued: 2, unchanged: 0)))
        let logs = MemoryLogSink()
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Receiver.makeApplication(
            configuration: ReceiverConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: 64 * 1024),
            ingestor: ingestor,
            changeEvents: RecordingChangeEventIngestor(),
            readiness: ScriptedReadiness(checks: [ReadinessCheck(name: "storage", ok: true)]),
            metrics: { "" },
            logger: capturingLogger(logs),
            onServerRunning: { port in portContinuation.yield(port) }
        )
        let server = Task { try await app.run() }
        defer { server.cancel() }

        let port = try await firstValue(of: ports, within: .seconds(20))
        #expect(port > 0)

        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(10))) {
            client in
            var headers: HTTPFields = [:]
            headers[.contentType] = "application/json"
            let accepted = try await client.post(
                "/v1/alertmanager", headers: headers, body: ByteBuffer(string: realisticWebhook)
            )
            #expect(accepted.status == .accepted)
            let health = try await client.get("/healthz")
            #expect(health.status == .ok)
        }
        #expect(ingestor.calls.count == 1)
    }

    @Test("a streamed body over the limit is refused with 413 on a real socket")
    func oversizeOnSocket() async throws {
        let ingestor = RecordingIngestor()
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Receiver.makeApplication(
            configuration: ReceiverConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: 1024),
            ingestor: ingestor,
            changeEvents: RecordingChangeEventIngestor(),
            readiness: ScriptedReadiness(checks: []),
            metrics: { "" },
            logger: capturingLogger(MemoryLogSink()),
            onServerRunning: { port in portContinuation.yield(port) }
        )
        let server = Task { try await app.run() }
        defer { server.cancel() }
        let port = try await firstValue(of: ports, within: .seconds(20))

        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(10))) {
            client in
            let body = ByteBuffer(string: #"{"alerts":[{"status":"firing","labels":{"pad":""# + String(repeating: "y", count: 4096) + #""}}]}"#)
            let response = try await client.post("/v1/alertmanager", headers: [.contentType: "application/json"], body: body)
            #expect(response.status == .contentTooLarge)
        }
        #expect(ingestor.calls.isEmpty)
    }
}

struct TimedOut: Error {}

/// The first element of `stream`, or ``TimedOut`` after `limit`.
func firstValue(of stream: AsyncStream<Int>, within limit: Duration) async throws -> Int {
    try await withThrowingTaskGroup(of: Int?.self) { group in
        group.addTask { await stream.first { _ in true } }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let value = try await group.next() ?? nil else { throw TimedOut() }
        return value
    }
}
