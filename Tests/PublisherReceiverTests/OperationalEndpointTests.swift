import HummingbirdTesting
import PublisherCore
import PublisherReceiver
import Testing

@Suite("Health, readiness and metrics", .timeLimit(.minutes(2)))
struct OperationalEndpointTests {
    func harness(checks: [ReadinessCheck]) -> ReceiverHarness {
        var harness = ReceiverHarness()
        harness.configuration.authToken = "token-that-health-endpoints-do-not-need"
        harness.readiness = ScriptedReadiness(checks: checks)
        return harness
    }

    @Test("/healthz answers 200 ok without a token")
    func health() async throws {
        try await harness(checks: []).run { client in
            let response = try await client.execute(uri: "/healthz", method: .get)
            #expect(response.status == .ok)
            #expect(try response.jsonObject()["status"] as? String == "ok")
        }
    }

    @Test("/readyz answers 200 and lists the checks when all pass, without a token")
    func ready() async throws {
        let checks = [ReadinessCheck(name: "storage", ok: true), ReadinessCheck(name: "config", ok: true)]
        try await harness(checks: checks).run { client in
            let response = try await client.execute(uri: "/readyz", method: .get)
            #expect(response.status == .ok)
            let body = try response.jsonObject()
            #expect(body["status"] as? String == "ready")
            let listed = try #require(body["checks"] as? [[String: Any]])
            #expect(listed.compactMap { $0["name"] as? String } == ["storage", "config"])
            #expect(listed.allSatisfy { $0["ok"] as? Bool == true })
        }
    }

    @Test("/readyz answers 503 naming the failing check")
    func notReady() async throws {
        let checks = [
            ReadinessCheck(name: "storage", ok: false, detail: "disk full"), ReadinessCheck(name: "config", ok: true),
        ]
        let harness = harness(checks: checks)
        try await harness.run { client in
            let response = try await client.execute(uri: "/readyz", method: .get)
            #expect(response.status == .serviceUnavailable)
            let body = try response.jsonObject()
            #expect(body["status"] as? String == "not ready")
            let listed = try #require(body["checks"] as? [[String: Any]])
            let storage = try #require(listed.first { $0["name"] as? String == "storage" })
            #expect(storage["ok"] as? Bool == false)
            #expect(storage["detail"] as? String == "disk full")
        }
        #expect(harness.logs.lines.contains { $0.contains(#""level":"error""#) && $0.contains("storage") })
    }

    @Test("/metrics answers the closure's text in Prometheus text format, without a token")
    func metrics() async throws {
        let harness = harness(checks: [])
        try await harness.run { client in
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(response.text == harness.metricsText)
        }
    }

    @Test("every request leaves one debug line with method, path and status")
    func requestLogLine() async throws {
        let harness = harness(checks: [])
        try await harness.run { client in
            _ = try await client.execute(uri: "/healthz", method: .get)
        }
        let requestLines = harness.logs.lines.filter { $0.contains(#""msg":"request""#) }
        try #require(requestLines.count == 1)
        #expect(requestLines[0].contains(#""level":"debug""#))
        #expect(requestLines[0].contains(#""http.path":"/healthz""#))
        #expect(requestLines[0].contains(#""http.status":"200""#))
    }
}
