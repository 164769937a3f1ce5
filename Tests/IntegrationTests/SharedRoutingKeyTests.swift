import Foundation
import PublisherTestSupport
import Testing

/// Routes that share one routing key share PagerDuty's budget for that key: the real daemon against a fake that
/// enforces the limit per key.
@Suite("Routes sharing a routing key", .serialized, .timeLimit(.minutes(3)))
struct SharedRoutingKeyTests {
    /// A configuration whose `web` route uses `key`, the same key as the default route.
    func writeConfiguration(_ scratch: borrowing ScratchDirectory, key: String = DaemonProcess.routingKey) throws -> String {
        let config = scratch.url.appendingPathComponent("config.yaml").path
        try """
            routes:
              - name: web
                routing_key: \(key)
                match: ['team=web']
              - name: db
                routing_key: \(key)
                match: ['team=db']
              - name: mobile
                routing_key: 0therKey0therKey0therKey0therKey
                match: ['team=mobile']
            """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    func webhook(_ teams: [String]) -> String {
        let alerts = teams.map { team -> [String: Any] in
            ["status": "firing", "labels": ["alertname": "Shared", "team": team, "severity": "critical"], "annotations": ["summary": "for \(team)"],
             "startsAt": "2026-11-27T10:00:00Z"]
        }
        let data = try! JSONSerialization.data(withJSONObject: ["version": "4", "alerts": alerts])
        return String(decoding: data, as: UTF8.self)
    }

    /// Takes about 60 s: the second request may only go out when the first leaves the 60-second window.
    @Test func aRouteAndTheDefaultOnOneKeyGetNo429() async throws {
        let fake = try await FakePagerDuty.start()
        fake.enforceRateLimit(perMinute: 1)
        let scratch = try ScratchDirectory()
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--config", try writeConfiguration(scratch),
            "--events-url", fake.baseURL, "--database", scratch.database, "--rate-limit", "1",
            "--retry-initial-delay", "50ms", "--retry-max-delay", "200ms",
        ])
        // One alert for the web route, one for the default route (no route's matchers take team=ops).
        let answer = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: webhook(["web", "ops"]))
        #expect(answer.status == 202)
        #expect(answer.json?["queued"] as? Int == 2)

        let delivered = try await fake.waitForAccepted(count: 2, timeout: .seconds(90))
        let requests = fake.requests
        #expect(requests.map(\.status) == [202, 202], "PagerDuty's limit is per key, not per route")
        #expect(requests.allSatisfy { $0.routingKey == DaemonProcess.routingKey })
        let gap = delivered[1].receivedAt.timeIntervalSince(delivered[0].receivedAt)
        #expect(gap >= 59.5, "at most 1 request in any 60 s on the shared key; the gap was \(gap) s")

        let webTriggered = #"pagerduty_events_triggered_total{routing_key="web",severity="critical"} 1"#
        let metrics = try await daemon.metrics(showing: [webTriggered])
        #expect(metrics.contains(#"pagerduty_rate_limit_hits_total{routing_key="web"} 0"#))
        #expect(metrics.contains(#"pagerduty_rate_limit_hits_total{routing_key="default"} 0"#))
        #expect(metrics.contains(webTriggered))
        #expect(!metrics.contains(DaemonProcess.routingKey))
        await fake.stop()
    }

    @Test func checkConfigNamesTheRoutesThatShareAKey() async throws {
        let scratch = try ScratchDirectory()
        let exit = try await DaemonProcess.runToExit(["check-config", "--config", try writeConfiguration(scratch)])
        #expect(exit.status == 0, "\(exit.errorOutput)")
        #expect(exit.output.contains("web, db share one routing key: one rate budget and one 429 pause."), "\(exit.output)")
        #expect(!exit.output.contains("mobile share"))
        #expect(!exit.output.contains(DaemonProcess.routingKey) && !exit.output.contains("0therKey"))
    }
}
