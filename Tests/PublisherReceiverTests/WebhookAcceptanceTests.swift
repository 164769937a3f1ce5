import AlertmanagerModels
import Foundation
import HummingbirdTesting
import PublisherCore
import PublisherReceiver
import Testing

@Suite("Accepting Alertmanager webhooks", .timeLimit(.minutes(2)))
struct WebhookAcceptanceTests {
    @Test("202 carries the ingestor's figures and the ingestor got the decoded webhook once")
    func acceptsRealisticWebhook() async throws {
        let harness = ReceiverHarness(
            ingestor: RecordingIngestor(outcome: .success(IngestResult(alerts: 2, queued: 1, unchanged: 1)))
        )
        try await harness.run { client in
            let response = try await client.postWebhook(realisticWebhook)
            #expect(response.status == .accepted)
            #expect(response.headers[.contentType] == "application/json; charset=utf-8")
            let body = try response.jsonObject()
            #expect(body["status"] as? String == "accepted")
            #expect(body["alerts"] as? Int == 2)
            #expect(body["queued"] as? Int == 1)
            #expect(body["unchanged"] as? Int == 1)
        }

        let calls = harness.ingestor.calls
        try #require(calls.count == 1)
        let message = calls[0].message
        #expect(calls[0].route == nil)
        #expect(message.version == "4")
        #expect(message.truncatedAlerts == 3)
        #expect(message.status == .firing)
        #expect(message.groupKey == #"{}/{severity="critical"}:{alertname="DiskFull"}"#)
        #expect(message.commonLabels == ["alertname": "DiskFull", "severity": "critical"])
        try #require(message.alerts.count == 2)

        let firing = message.alerts[0]
        #expect(firing.status == .firing)
        #expect(firing.labels["équipe"] == "stockage ☁️")
        #expect(firing.annotations["description"] == "Only \"3%\" left\non /")
        #expect(firing.fingerprint == "a1b2c3d4e5f60718")
        #expect(firing.endsAt == nil)
        let startsAt = try #require(firing.startsAt)
        #expect(abs(startsAt.timeIntervalSince1970 - 1_767_261_600.123) < 0.001)

        let resolved = message.alerts[1]
        #expect(resolved.status == .resolved)
        #expect(resolved.fingerprint == nil)
        #expect(resolved.labels["instance"] == "db-2:9100")
        #expect(resolved.endsAt == Date(timeIntervalSince1970: 1_767_259_800))
    }

    @Test("the route in the path reaches the ingestor, percent-decoded")
    func passesRoute() async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            let first = try await client.postWebhook(realisticWebhook, uri: "/v1/alertmanager/team-storage")
            #expect(first.status == .accepted)
            let second = try await client.postWebhook(realisticWebhook, uri: "/v1/alertmanager/db%20team")
            #expect(second.status == .accepted)
        }
        #expect(harness.ingestor.calls.map(\.route) == ["team-storage", "db team"])
    }

    @Test("Content-Type application/json with parameters and in any case is accepted")
    func acceptsJSONContentTypeVariants() async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            for contentType in ["application/json; charset=utf-8", "Application/JSON", "application/json"] {
                let response = try await client.postWebhook(realisticWebhook, contentType: contentType)
                #expect(response.status == .accepted, "Content-Type \(contentType)")
            }
        }
        #expect(harness.ingestor.calls.count == 3)
    }

    @Test("a webhook without version is accepted")
    func acceptsMissingVersion() async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            let response = try await client.postWebhook(#"{"alerts":[{"status":"firing","labels":{"a":"b"}}]}"#)
            #expect(response.status == .accepted)
        }
        #expect(harness.ingestor.calls.first?.message.alerts.first?.labels == ["a": "b"])
    }

    @Test("an alert with labels but no fingerprint is accepted")
    func acceptsAlertWithoutFingerprint() async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            let response = try await client.postWebhook(
                #"{"version":"4","alerts":[{"status":"resolved","labels":{"alertname":"A"}}]}"#
            )
            #expect(response.status == .accepted)
        }
        #expect(harness.ingestor.calls.first?.message.alerts.first?.fingerprint == nil)
    }
}
