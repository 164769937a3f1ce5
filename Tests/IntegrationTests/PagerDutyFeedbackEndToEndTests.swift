import AlertmanagerModels
import Foundation
import PagerDutyWebhooks
import PublisherTestSupport
import Testing

/// What responders do in PagerDuty, carried into a real Alertmanager: the real daemon between a real Alertmanager
/// and the fake PagerDuty, which keeps the incidents and sends its signed v3 webhooks to the daemon, both for what
/// its responders do and, as PagerDuty does, for what the daemon's own events change. On SQLite, and on PostgreSQL
/// when a cluster is configured (always in CI).
@Suite("End to end: PagerDuty's webhooks keep a real Alertmanager in step", .serialized, .timeLimit(.minutes(5)))
struct PagerDutyFeedbackEndToEndTests {
    static let secret = "whsec-e2e-0b7d4c2a9e1f3865"

    func actions(of dedupKey: String, fake: FakePagerDuty) -> [String] {
        fake.accepted.filter { $0.stringField("dedup_key") == dedupKey }.compactMap { $0.stringField("event_action") }
    }

    func waitFor(_ expected: [String], of dedupKey: String, fake: FakePagerDuty) async throws {
        try await waitUntil("PagerDuty got \(expected) for \(dedupKey)", timeout: .seconds(60)) {
            actions(of: dedupKey, fake: fake).count >= expected.count
        }
        #expect(actions(of: dedupKey, fake: fake) == expected)
    }

    /// Our silences of the alert with `labels`, in state `state` (`active`, `expired`).
    func ownSilences(of labels: [String: String], state: String, in alertmanager: AlertmanagerProcess) async throws -> [[String: Any]] {
        try await alertmanager.silences().filter { silence in
            guard silence["createdBy"] as? String == "pagerduty-publisher",
                (silence["status"] as? [String: Any])?["state"] as? String == state,
                let matchers = silence["matchers"] as? [[String: Any]]
            else { return false }
            let exact = matchers.allSatisfy { ($0["isRegex"] as? Bool) == false && ($0["isEqual"] as? Bool ?? true) }
            let pairs = Dictionary(matchers.compactMap { matcher -> (String, String)? in
                guard let name = matcher["name"] as? String, let value = matcher["value"] as? String else { return nil }
                return (name, value)
            }, uniquingKeysWith: { first, _ in first })
            return exact && pairs == labels
        }
    }

    @Test(arguments: StoreUnderTest.available)
    func acknowledgeSilencesResolveExpiresAndRetriggersAndASilenceEndingReopens(store: String) async throws {
        let binary = try #require(AlertmanagerEndToEndTests.alertmanagerBinary, "prometheus-alertmanager is not installed (scripts/test installs it)")
        let fake = try await FakePagerDuty.start()
        let other = try await WebhookRecorder.start()
        let scratch = try ScratchDirectory()
        let storeUnderTest = try StoreUnderTest(store, scratch: scratch, label: "feedback")
        let database = storeUnderTest.database
        let secretFile = scratch.url.appendingPathComponent("pagerduty-webhook-secret").path
        try "\(Self.secret)\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        let alertmanagerPort = try FreePort.find()
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", database,
            "--auth-token", DaemonProcess.authToken, "--alertmanager-url", "http://127.0.0.1:\(alertmanagerPort)",
            "--alertmanager-poll-interval", "1s", "--pagerduty-webhook-secret-file", secretFile,
            "--acknowledged-action", "silence", "--ack-silence-duration", "1h",
            "--manual-resolve-action", "retrigger-after:4s", "--reopen-action", "resolve-then-trigger",
        ])
        // PagerDuty's webhook subscription: the responders' changes, and those the daemon's own events make.
        try fake.setWebhookSubscription(.init(
            url: "\(daemon.baseURL)/v1/pagerduty", signingSecrets: [Self.secret], sendsEventsAPIChanges: true))
        let alertmanager = try await AlertmanagerProcess(
            binary: binary, directory: scratch.url, webhookURL: "\(daemon.baseURL)/v1/alertmanager",
            token: DaemonProcess.authToken, port: alertmanagerPort, otherReceiverURL: "\(other.baseURL)/chat",
            repeatInterval: "2s")
        defer { alertmanager.stop() }

        // Fire: PagerDuty gets a trigger, and the other receiver hears it again every repeat interval.
        let acknowledged = ["alertname": "E2EAcknowledged", "instance": "db-1:9100", "severity": "critical"]
        let acknowledgedKey = LabelSetFingerprint.of(acknowledged)
        try await alertmanager.post([["labels": acknowledged, "annotations": ["summary": "disk full on db-1"]]])
        try await waitFor(["trigger"], of: acknowledgedKey, fake: fake)
        let firstIncident = try #require(fake.incident(dedupKey: acknowledgedKey))
        #expect(firstIncident.status == .triggered)
        #expect(try await fake.waitForWebhook(.incidentTriggered, dedupKey: acknowledgedKey).status == 200)
        try await waitUntil("the other receiver repeats the alert", timeout: .seconds(60)) {
            other.firingNotifications(label: "alertname", value: "E2EAcknowledged") >= 2
        }

        // A responder acknowledges: a silence matching exactly that alert appears, and the other receiver stops.
        try await fake.acknowledgeIncident(dedupKey: acknowledgedKey, by: "Ada Responder")
        do {
            try await waitUntilAnswered("our silence is active in Alertmanager", timeout: .seconds(30)) {
                try await !ownSilences(of: acknowledged, state: "active", in: alertmanager).isEmpty
            }
        } catch {
            let listed = try await HTTP.get("\(alertmanager.baseURL)/api/v2/silences").body
            Issue.record("Alertmanager's silences: \(listed)\nthe daemon's silence lines: \(daemon.lines.filter { $0.lowercased().contains("silence") || $0.contains("PagerDuty") })")
            throw error
        }
        let silence = try #require(try await ownSilences(of: acknowledged, state: "active", in: alertmanager).first)
        let comment = silence["comment"] as? String ?? ""
        #expect(comment.contains("Ada Responder") && comment.contains(firstIncident.htmlURL), "\(comment)")
        try await waitUntilAnswered("Alertmanager lists the alert as silenced", timeout: .seconds(30)) {
            let answer = try await HTTP.get("\(alertmanager.baseURL)/api/v2/alerts?filter=alertname%3D%22E2EAcknowledged%22")
            return answer.body.contains(#""state":"suppressed""#)
        }
        let heardBefore = other.firingNotifications(label: "alertname", value: "E2EAcknowledged")
        let quietSince = ContinuousClock.now
        while ContinuousClock.now - quietSince < .seconds(8) {  // four repeat intervals
            #expect(other.firingNotifications(label: "alertname", value: "E2EAcknowledged") <= heardBefore + 1,
                    "at most one notification already on its way when the silence appeared")
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(actions(of: acknowledgedKey, fake: fake) == ["trigger"], "our own silence is never sent back as an acknowledge")

        // The responder resolves while the alert still fires: the silence is expired, and after the configured
        // delay a new incident is triggered.
        // The delay counts from the resolve's occurred_at, which the webhook stamps after this instant.
        let resolveSentAt = ContinuousClock.now
        try await fake.resolveIncident(dedupKey: acknowledgedKey, by: "Ada Responder")
        try await waitUntilAnswered("our silence is expired", timeout: .seconds(30)) {
            let active = try await ownSilences(of: acknowledged, state: "active", in: alertmanager)
            let expired = try await ownSilences(of: acknowledged, state: "expired", in: alertmanager)
            return active.isEmpty && !expired.isEmpty
        }
        try await waitFor(["trigger", "trigger"], of: acknowledgedKey, fake: fake)
        // 4 s in theory; the second of slack covers the wall clock the daemon reads against this monotonic one.
        #expect(ContinuousClock.now - resolveSentAt >= .seconds(3), "not before retrigger-after:4s")
        #expect(fake.incidents(dedupKey: acknowledgedKey).map(\.status) == [.resolved, .triggered], "a new incident")
        #expect(fake.incident(dedupKey: acknowledgedKey)?.id != firstIncident.id)

        // A silence someone sets turns into an acknowledge; PagerDuty reports it acknowledged; when the silence
        // ends, the acknowledged incident is resolved and a new one triggered, which pages.
        let reopened = ["alertname": "E2EReopened", "instance": "db-2:9100", "severity": "warning"]
        let reopenedKey = LabelSetFingerprint.of(reopened)
        try await alertmanager.post([["labels": reopened, "annotations": ["summary": "replication lag on db-2"]]])
        try await waitFor(["trigger"], of: reopenedKey, fake: fake)
        let silenceID = try alertmanager.amtool([
            "silence", "add", "alertname=E2EReopened", "--duration=1h", "--comment=maintenance", "--author=ops",
        ])
        try await waitFor(["trigger", "acknowledge"], of: reopenedKey, fake: fake)
        // PagerDuty reports the daemon's acknowledge back, as the service's: the reopen rule needs that state.
        let reportedAcknowledge = try await fake.waitForWebhook(.incidentAcknowledged, dedupKey: reopenedKey)
        #expect(reportedAcknowledge.status == 200, "\(reportedAcknowledge.answerBody)")
        _ = try alertmanager.amtool(["silence", "expire", silenceID])
        try await waitFor(["trigger", "acknowledge", "resolve", "trigger"], of: reopenedKey, fake: fake)
        #expect(fake.incidents(dedupKey: reopenedKey).map(\.status) == [.resolved, .triggered], "a new incident, which pages")
        #expect(try await ownSilences(of: reopened, state: "active", in: alertmanager).isEmpty,
                "an acknowledge this daemon sent is never made into a silence")
        try await fake.waitForWebhooksSent()
        let deliveries = fake.webhookDeliveries
        #expect(deliveries.allSatisfy { $0.status == 200 },
                "the daemon took every webhook: \(deliveries.map { "\($0.eventType) \($0.status.map(String.init) ?? $0.failure ?? "")" })")
        #expect(deliveries.filter { $0.dedupKey == reopenedKey }.map(\.eventType)
                == [.incidentTriggered, .incidentAcknowledged, .incidentResolved, .incidentTriggered])

        let silencesCounted = [
            #"pagerduty_publisher_silences_total{action="created"} 1"#, #"pagerduty_publisher_silences_total{action="expired"} 1"#,
        ]
        let metrics = try await daemon.metrics(showing: silencesCounted)
        #expect(silencesCounted.allSatisfy(metrics.contains), "\(metrics)")
        #expect(fake.accepted.allSatisfy { $0.schemaViolations.isEmpty })
        #expect(try await daemon.terminate() == 0)
        #expect(!daemon.lines.joined(separator: "\n").contains(Self.secret))
        await other.stop()
        await fake.stop()
    }
}
