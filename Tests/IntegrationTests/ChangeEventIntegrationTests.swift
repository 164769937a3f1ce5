import Foundation
import PagerDutyEvents
import PublisherTestSupport
import Testing

/// Change events through the real daemon, from both sources, against the fake PagerDuty.
@Suite("Change events through the daemon", .serialized, .timeLimit(.minutes(5)))
struct ChangeEventIntegrationTests {
    /// A webhook holding one firing alert labelled `change_event="true"`, as Alertmanager sends it.
    static func changeAlertWebhook() throws -> String {
        let object: [String: Any] = [
            "version": "4",
            "groupKey": "{}:{alertname=\"ConfigReloaded\"}",
            "status": "firing",
            "receiver": "pagerduty-publisher",
            "groupLabels": ["alertname": "ConfigReloaded"],
            "commonLabels": [:] as [String: String],
            "commonAnnotations": [:] as [String: String],
            "externalURL": "http://alertmanager.example:9093",
            "alerts": [
                [
                    "status": "firing",
                    "labels": ["alertname": "ConfigReloaded", "change_event": "true", "instance": "prometheus-0", "severity": "critical"],
                    "annotations": ["summary": "Prometheus configuration reloaded"],
                    "startsAt": "2026-11-23T10:00:00.000Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example:9090/graph?g0.expr=reloads",
                    "fingerprint": "c0ffee00c0ffee00",
                ] as [String: Any],
            ],
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test func changeEventsFromTheEndpointAndFromLabelledAlertsReachPagerDuty() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
            "--auth-token", DaemonProcess.authToken,
        ])
        let authorization = ["Authorization": "Bearer \(DaemonProcess.authToken)"]

        let refused = try await HTTP.post("\(daemon.baseURL)/v1/change-events", body: #"{"summary":"no token"}"#)
        #expect(refused.status == 401)
        let invalid = try await HTTP.post(
            "\(daemon.baseURL)/v1/change-events", body: #"{"summary":"s","timestamp":"soon"}"#, headers: authorization
        )
        #expect(invalid.status == 400)
        #expect(invalid.json?["field"] as? String == "timestamp")

        let deploy = #"""
            {"summary": "Deployed checkout v2.4.1", "source": "ci", "timestamp": "2026-11-23T09:58:00Z",
             "custom_details": {"commit": "4f2a9c1"}, "links": [{"href": "https://ci.example/runs/812", "text": "Run"}]}
            """#
        let accepted = try await HTTP.post("\(daemon.baseURL)/v1/change-events", body: deploy, headers: authorization)
        #expect(accepted.status == 202)
        #expect(accepted.json?["queued"] as? Int == 1)
        let first = try await fake.waitForAccepted(count: 1)
        let change = try #require(first.first)
        #expect(change.path == "/v2/change/enqueue")
        #expect(change.routingKey == DaemonProcess.routingKey)
        #expect(change.schemaViolations.isEmpty, "schema violations: \(change.schemaViolations)")
        #expect(change.json?.field("payload")?.field("summary") == .string("Deployed checkout v2.4.1"))
        #expect(change.json?.field("payload")?.field("custom_details")?.field("commit") == .string("4f2a9c1"))

        let webhook = try Self.changeAlertWebhook()
        let fromAlert = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: webhook, headers: authorization)
        #expect(fromAlert.status == 202)
        #expect(fromAlert.json?["queued"] as? Int == 1, "one change event and nothing else")
        let resent = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: webhook, headers: authorization)
        #expect(resent.json?["queued"] as? Int == 0, "a re-sent change alert is not announced again")

        let both = try await fake.waitForAccepted(count: 2)
        let second = both[1]
        #expect(second.path == "/v2/change/enqueue")
        #expect(second.routingKey == DaemonProcess.routingKey)
        #expect(second.eventAction == nil && second.dedupKey == nil)
        #expect(second.schemaViolations.isEmpty, "schema violations: \(second.schemaViolations)")
        #expect(second.json?.field("payload")?.field("summary") == .string("Prometheus configuration reloaded"))
        #expect(fake.requests.allSatisfy { $0.path == "/v2/change/enqueue" }, "no trigger was sent")

        let changesCounted = #"pagerduty_change_events_total{routing_key="default"} 2"#
        let metrics = try await daemon.metrics(showing: [changesCounted])
        #expect(metrics.contains(changesCounted))
        #expect(!metrics.contains(#"pagerduty_events_triggered_total{routing_key="default",severity="critical"} 1"#))
        let everything = daemon.lines.joined(separator: "\n") + daemon.errorOutput + metrics
        #expect(!everything.contains(DaemonProcess.routingKey))
        #expect(!everything.contains(DaemonProcess.authToken))
        #expect(try await daemon.terminate() == 0)
        await fake.stop()
    }
}

extension JSONValue {
    /// The member `name` of an object; nil for a missing member or a non-object.
    fileprivate func field(_ name: String) -> JSONValue? {
        if case .object(let members) = self { return members[name] }
        return nil
    }
}
