import AlertmanagerModels
import Foundation
import PagerDutyEvents
import PublisherCore
import PublisherTestSupport
import Testing

@Suite("Alertmanager sync: silences, inhibitions, reconciliation", .timeLimit(.minutes(2)))
struct AlertmanagerSyncTests {
    typealias H = LifecycleHarness

    @Test func aSilencedAlertIsAcknowledgedOnceAndTriggeredAgainWhenTheSilenceEnds() async throws {
        let h = H()
        try await h.webhook([H.alert("a1")])
        h.alertmanagers[0].report([H.silenced("a1", by: "5f1c")])
        await h.sync.poll()
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .acknowledge], "one acknowledge however often the silence is seen")
        let acknowledge = try h.event(at: 1)
        #expect(acknowledge.dedupKey == "a1")
        #expect(acknowledge.payload?.summary == "Disk full on host-a1", "the remembered summary, not a placeholder")
        #expect(acknowledge.payload?.customDetails?.member("reason")?.stringValue?.contains("5f1c") == true)
        #expect(h.entry("a1")?.cause == .silenced)

        h.alertmanagers[0].report([H.active("a1")])
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .acknowledge, .trigger])
        let trigger = try h.event(at: 2)
        #expect(trigger.payload?.severity == .critical)
        #expect(trigger.payload?.customDetails?.member("labels")?.member("instance")?.stringValue == "host-a1",
                "a re-trigger is mapped from the alert Alertmanager reports")
        #expect(h.metricsText.contains(#"pagerduty_publisher_alertmanager_sync_actions_total{action="acknowledge",cause="silenced"} 1"#))
    }

    @Test func theResolvePolicyResolvesASilencedAlertAndTriggersItWhenUnsilenced() async throws {
        let h = H(mutePolicy: MutePolicy(silenced: .resolve))
        try await h.webhook([H.alert("a1")])
        h.alertmanagers[0].report([H.silenced("a1")])
        await h.sync.poll()
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .resolve])
        h.alertmanagers[0].report([H.active("a1")])
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .resolve, .trigger])
    }

    @Test func theNothingPolicyLeavesTheIncidentAlone() async throws {
        let h = H(mutePolicy: MutePolicy(silenced: .nothing))
        try await h.webhook([H.alert("a1")])
        h.alertmanagers[0].report([H.silenced("a1")])
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger])
    }

    @Test func inhibitedAlertsFollowTheirOwnPolicyWhichDefaultsToNothing() async throws {
        let byDefault = H()
        try await byDefault.webhook([H.alert("a1")])
        byDefault.alertmanagers[0].report([H.inhibited("a1")])
        await byDefault.sync.poll()
        #expect(byDefault.queuedKinds == [.trigger])

        let acknowledging = H(mutePolicy: MutePolicy(inhibited: .acknowledge))
        try await acknowledging.webhook([H.alert("a1")])
        acknowledging.alertmanagers[0].report([H.inhibited("a1")])
        await acknowledging.sync.poll()
        #expect(acknowledging.queuedKinds == [.trigger, .acknowledge])
        #expect(acknowledging.entry("a1")?.cause == .inhibited)
    }

    @Test func aWebhookNamingAnAcknowledgedAlertTriggersItAgain() async throws {
        let h = H()
        try await h.webhook([H.alert("a1")])
        h.alertmanagers[0].report([H.silenced("a1")])
        await h.sync.poll()
        h.clock.advance(by: .seconds(60))
        try await h.webhook([H.alert("a1")])
        #expect(h.queuedKinds == [.trigger, .acknowledge, .trigger],
                "Alertmanager leaves muted alerts out of webhooks, so this one is no longer muted")
    }

    @Test func anAlertNoAlertmanagerReportsIsResolvedAfterTheGracePeriodOnly() async throws {
        let h = H(gracePeriod: .seconds(300))
        try await h.webhook([H.alert("a1"), H.alert("a2")])
        h.alertmanagers[0].report([H.active("a2")])
        await h.sync.poll()
        h.clock.advance(by: .seconds(299))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .trigger], "not before the grace period")
        h.clock.advance(by: .seconds(1))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .trigger, .resolve])
        #expect(h.store.outbox[2].message.dedupKey == "a1")
        #expect(h.entry("a1")?.cause == .reconciled)
        #expect(h.entry("a2")?.lastAction == .trigger, "an alert Alertmanager still reports stays open")
    }

    @Test func anAlertThatEndedIsTreatedAsGone() async throws {
        let h = H(gracePeriod: .seconds(60))
        try await h.webhook([H.alert("a1")])
        var ended = H.active("a1")
        ended.alert.endsAt = h.clock.now.addingTimeInterval(-1)
        h.alertmanagers[0].report([ended])
        await h.sync.poll()
        h.clock.advance(by: .seconds(60))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .resolve])
    }

    @Test func anUnreachableAlertmanagerResolvesNothingAndIsVisible() async throws {
        let h = H(gracePeriod: .seconds(300))
        try await h.webhook([H.alert("a1")])
        h.alertmanagers[0].goDown()
        for _ in 0..<5 {
            await h.sync.poll()
            h.clock.advance(by: .seconds(600))
        }
        #expect(h.queuedKinds == [.trigger], "never a mass resolve while Alertmanager cannot be asked")
        #expect(h.metricsText.contains(#"pagerduty_publisher_alertmanager_up{alertmanager="am-1:9093"} 0"#))

        // Back, without the alert: the grace period starts over from now.
        h.alertmanagers[0].report([])
        await h.sync.poll()
        #expect(h.metricsText.contains(#"pagerduty_publisher_alertmanager_up{alertmanager="am-1:9093"} 1"#))
        h.clock.advance(by: .seconds(299))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger])
        h.clock.advance(by: .seconds(1))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .resolve])
    }

    @Test func anHAPairIsReadAsOne() async throws {
        let first = ScriptedAlertmanager("am-1:9093")
        let second = ScriptedAlertmanager("am-2:9093")
        let h = H(alertmanagers: [first, second], gracePeriod: .seconds(60))
        try await h.webhook([H.alert("a1"), H.alert("a2")])

        // One peer down, the other without a1: not every Alertmanager answered, so nothing is reconciled.
        first.goDown()
        second.report([H.active("a2")])
        await h.sync.poll()
        h.clock.advance(by: .seconds(120))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .trigger])

        // The silence has reached one peer only: the other still calls a1 active, so it stays triggered.
        first.report([H.silenced("a1"), H.active("a2")])
        second.report([H.active("a1"), H.active("a2")])
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .trigger])

        // Both agree: acknowledge once. a2 known to one peer only is still known.
        second.report([H.silenced("a1")])
        await h.sync.poll()
        h.clock.advance(by: .seconds(120))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .trigger, .acknowledge])
        #expect(h.store.outbox[2].message.dedupKey == "a1")
    }

    @Test func anAlertResolvedWhileSilencedIsResolvedByReconciliation() async throws {
        let h = H(gracePeriod: .seconds(60))
        try await h.webhook([H.alert("a1")])
        h.alertmanagers[0].report([H.silenced("a1")])
        await h.sync.poll()
        // Resolved while silenced: Alertmanager sends no webhook, and its API stops reporting the alert.
        h.alertmanagers[0].report([])
        await h.sync.poll()
        h.clock.advance(by: .seconds(60))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .acknowledge, .resolve])
    }

    @Test func entriesAlertmanagerStillReportsAreKeptAliveWithoutWebhooks() async throws {
        let h = H(gracePeriod: .seconds(60))
        try await h.webhook([H.alert("a1")])
        h.alertmanagers[0].report([H.silenced("a1")])
        await h.sync.poll()
        let seen = try #require(h.entry("a1")?.lastSeen)
        h.clock.advance(by: .seconds(7 * 3600))
        await h.sync.poll()
        let refreshed = try #require(h.entry("a1")?.lastSeen)
        #expect(refreshed > seen, "a silenced alert gets no webhooks, but must not expire while Alertmanager knows it")
        #expect(h.store.ledgerEntries.first?.lastSeen == refreshed, "written through")
    }

    @Test func aGroupIncidentIsAcknowledgedWhenAllItsFiringAlertsAreSilenced() async throws {
        let h = H(incidentPer: .group)
        try await h.webhook([H.alert("a1"), H.alert("a2")])
        #expect(h.queuedKinds == [.trigger])
        h.alertmanagers[0].report([H.silenced("a1"), H.active("a2")])
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger], "one member still pages")
        h.alertmanagers[0].report([H.silenced("a1"), H.silenced("a2")])
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .acknowledge])
        #expect(h.store.outbox[1].message.dedupKey == DedupKey.ofGroup("{}:{alertname=\"DiskFull\"}"))
    }

    @Test func changeAnnouncementsAreNeverTouched() async throws {
        let h = H(gracePeriod: .seconds(60))
        var deploy = H.alert("c1")
        deploy.labels["change_event"] = "true"
        try await h.webhook([deploy])
        h.alertmanagers[0].report([])
        await h.sync.poll()
        h.clock.advance(by: .seconds(120))
        await h.sync.poll()
        #expect(h.queuedKinds == [.change])
    }
}
