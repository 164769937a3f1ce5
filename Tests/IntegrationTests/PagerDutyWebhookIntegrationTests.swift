import Foundation
import PagerDutyWebhooks
import PublisherCore
import PublisherTestSupport
import Testing

/// The real daemon receiving PagerDuty's signed v3 webhooks, on SQLite and (when a cluster is configured) on
/// PostgreSQL.
@Suite("PagerDuty's signed webhooks on the real daemon", .serialized, .timeLimit(.minutes(4)))
struct PagerDutyWebhookIntegrationTests {
    static let secret = "whsec-integration-5f3c9a71d2e84b06"

    @Test(arguments: StoreUnderTest.available)
    func anAcknowledgeFromPagerDutyIsRecordedOnceCountedAndNeverSentBack(store: String) async throws {
        let scratch = try ScratchDirectory()
        let secretFile = scratch.url.appendingPathComponent("pagerduty-webhook-secret").path
        try "\(Self.secret)\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        let storeUnderTest = try StoreUnderTest(store, scratch: scratch, label: "pdwebhook")
        let database = storeUnderTest.database
        let fake = try await FakePagerDuty.start()
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", database,
            "--auth-token", DaemonProcess.authToken, "--pagerduty-webhook-secret-file", secretFile,
        ])

        let fingerprint = "5e1f0a9b7c3d2e41"
        let alert = """
            {"version":"4","status":"firing","receiver":"pagerduty","groupKey":"{}:{alertname=\\"DiskFull\\"}","alerts":[
             {"status":"firing","labels":{"alertname":"DiskFull","instance":"db-1"},"annotations":{"summary":"disk full"},
              "startsAt":"2026-11-27T10:00:00Z","fingerprint":"\(fingerprint)"}]}
            """
        let accepted = try await HTTP.post(
            "\(daemon.baseURL)/v1/alertmanager", body: alert, headers: ["Authorization": "Bearer \(DaemonProcess.authToken)"])
        #expect(accepted.status == 202)
        _ = try await fake.waitForAccepted(count: 1)

        // A responder acknowledges in PagerDuty: the signed webhook needs no bearer token.
        let acknowledged = SignedPagerDutyWebhook.incident(
            .incidentAcknowledged, eventID: "01HACKNOWLEDGED", agentSummary: "Ada Responder",
            incident: IncidentSnapshot(id: "PGR0VU2", incidentKey: fingerprint), secrets: [Self.secret])
        func post(_ webhook: SignedPagerDutyWebhook) async throws -> HTTP.Answer {
            try await HTTP.post(
                "\(daemon.baseURL)/v1/pagerduty", body: webhook.bodyText,
                headers: [SignedPagerDutyWebhook.signatureHeaderName: webhook.signature])
        }
        let applied = try await post(acknowledged)
        #expect(applied.status == 200, "\(applied.body)")
        #expect(applied.json?["status"] as? String == "applied")
        // PagerDuty retries a delivery it thinks failed: the same event changes nothing.
        #expect(try await post(acknowledged).json?["status"] as? String == "duplicate")
        // A stranger's signature changes nothing either.
        let forged = SignedPagerDutyWebhook.incident(
            .incidentResolved, incident: IncidentSnapshot(id: "PGR0VU2", incidentKey: fingerprint), secrets: ["guessed"])
        #expect(try await post(forged).status == 401)

        let metrics = try await HTTP.get("\(daemon.baseURL)/metrics").body
        #expect(metrics.contains(#"pagerduty_publisher_incidents{state="acknowledged"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"pagerduty_publisher_incidents{state="resolved"} 0"#))
        #expect(metrics.contains(#"pagerduty_publisher_inbound_webhooks_total{event_type="incident.acknowledged",result="applied"} 1"#))
        #expect(metrics.contains(#"pagerduty_publisher_inbound_webhooks_total{event_type="incident.acknowledged",result="duplicate"} 1"#))
        #expect(metrics.contains(#"pagerduty_publisher_inbound_webhooks_total{event_type="unknown",result="bad_signature"} 1"#))
        try await daemon.waitForLog("PagerDuty changed an incident's state")
        let line = try #require(daemon.lines.first { $0.contains("PagerDuty changed an incident's state") })
        #expect(line.contains("Ada Responder") && line.contains("PGR0VU2") && line.contains("acknowledged"), "\(line)")

        #expect(try await daemon.terminate() == 0)
        #expect(fake.accepted.count == 1, "PagerDuty's own change is never sent back to it")
        #expect(!daemon.lines.joined(separator: "\n").contains(Self.secret), "the signing secret is never logged")
        await fake.stop()
    }

    @Test func anUnreadableSecretFileStopsTheDaemonAtStartNamingTheFile() async throws {
        let scratch = try ScratchDirectory()
        let empty = scratch.url.appendingPathComponent("empty-secret").path
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        let exit = try await DaemonProcess.runToExit([
            "serve", "--routing-key", DaemonProcess.routingKey, "--database", scratch.database, "--dry-run",
            "--pagerduty-webhook-secret-file", empty,
        ])
        #expect(exit.status != 0)
        #expect(exit.errorOutput.contains("--pagerduty-webhook-secret-file") && exit.errorOutput.contains(empty), "\(exit.errorOutput)")
    }

    /// A secret rotated in place: a rewritten file is in force at the next check (no SIGHUP, no restart), the old
    /// secret is then refused; a file that turns blank on SIGHUP keeps the secret in force, and neither secret is
    /// ever logged.
    @Test func aSecretFileRewrittenInPlaceIsInForceWithoutARestart() async throws {
        let scratch = try ScratchDirectory()
        let secretFile = scratch.url.appendingPathComponent("pagerduty-webhook-secret").path
        let rotated = "whsec-rotated-0b6e2d94c1a7f358"
        try "\(Self.secret)\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        let daemon = try await DaemonProcess(arguments: [
            "--dry-run", "--database", scratch.database, "--pagerduty-webhook-secret-file", secretFile,
            "--config-check-interval", "100ms",
        ])
        func pingStatus(signedWith secret: String) async throws -> Int {
            let ping = SignedPagerDutyWebhook.ping(secrets: [secret])
            return try await HTTP.post(
                "\(daemon.baseURL)/v1/pagerduty", body: ping.bodyText,
                headers: [SignedPagerDutyWebhook.signatureHeaderName: ping.signature]
            ).status
        }
        #expect(try await pingStatus(signedWith: Self.secret) == 200)
        #expect(try await pingStatus(signedWith: rotated) == 401)

        try "\(rotated)\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        try await daemon.waitForLog("PagerDuty webhook signing secrets reloaded")
        #expect(try await pingStatus(signedWith: rotated) == 200)
        #expect(try await pingStatus(signedWith: Self.secret) == 401)

        // Blank on SIGHUP: refused, the rotated secret stays in force.
        try "\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        daemon.hangUp()
        try await daemon.waitForLog("PagerDuty webhook signing secrets not reloaded; keeping those in force")
        #expect(try await pingStatus(signedWith: rotated) == 200)
        let refusal = try #require(daemon.lines.first { $0.contains("signing secrets not reloaded") })
        #expect(refusal.contains(secretFile), "the log names the file: \(refusal)")

        #expect(try await daemon.terminate() == 0)
        let log = daemon.lines.joined(separator: "\n")
        #expect(!log.contains(Self.secret) && !log.contains(rotated), "a signing secret was logged")
    }
}
