import AlertmanagerModels
import Foundation
import PagerDutyEvents
import PublisherCore
import Testing

@Suite("What responders do in PagerDuty, carried into Alertmanager (silences, retriggers, reopens)", .timeLimit(.minutes(2)))
struct SilencePolicyTests {
    typealias H = LifecycleHarness

    static let ackSilence = FeedbackPolicy(acknowledged: .silence)

    /// PagerDuty reports `status` for `dedupKey` now (by the harness clock), by Ada.
    static func report(_ h: H, _ dedupKey: String, _ status: IncidentState.Status, id: String) async throws {
        let update = IncidentUpdate(
            eventID: id, dedupKey: dedupKey,
            state: IncidentState(
                status: status, changedAt: h.clock.now, changedBy: "Ada Oncall", incidentID: "PINC\(dedupKey)",
                incidentURL: "https://acme.pagerduty.com/incidents/PINC\(dedupKey)"))
        _ = try await h.feedback.apply(update)
    }

    /// `a1` fires, every Alertmanager reports it active, PagerDuty reports it acknowledged (event `ev-1`), and the
    /// sync polls once.
    static func acknowledgeFiringAlert(_ h: H) async throws {
        try await h.webhook([H.alert("a1")])
        for am in h.alertmanagers { am.report([H.active("a1")]) }
        try await report(h, "a1", .acknowledged, id: "ev-1")
        await h.sync.poll()
    }

    @Test(arguments: [false, true])
    func anAcknowledgeSilencesExactlyThatAlertWithoutAcknowledgingAgainAndTheSilenceIsExpiredOnResolve(sharedStore: Bool) async throws {
        let h = H(sharedStore: sharedStore, feedbackPolicy: Self.ackSilence)
        let am = h.alertmanagers[0]
        try await h.webhook([H.alert("a1"), H.alert("a2")])
        am.report([H.active("a1"), H.active("a2")])
        try await Self.report(h, "a1", .acknowledged, id: "ev-1")
        await h.sync.poll()

        let posted = try #require(am.silencePosts.first)
        #expect(am.silencePosts.count == 1, "only the acknowledged alert")
        #expect(posted.id == nil)
        #expect(posted.matchers == SilenceRequest.matchers(exactly: H.alert("a1").labels), "every label, equal")
        #expect(posted.matchers.allSatisfy { !$0.isRegex && $0.isEqual })
        #expect(posted.createdBy == "pagerduty-publisher")
        #expect(posted.comment == "Acknowledged in PagerDuty by Ada Oncall: https://acme.pagerduty.com/incidents/PINCa1")
        #expect(posted.endsAt == h.clock.now.addingTimeInterval(3600))
        let id = try #require(h.entry("a1")?.ownSilence?.ids["am-1:9093"])
        #expect(h.store.ledgerEntries.first { $0.dedupKey == "a1" }?.ownSilence?.purpose == .acknowledged, "recorded durably")
        #expect(h.metricsText.contains(#"pagerduty_publisher_silences_total{action="created"} 1"#))

        // Alertmanager now lists the alert as silenced by our silence: that is not a silence to acknowledge.
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .trigger], "no acknowledge from our own silence, no second silence")
        #expect(am.silencePosts.count == 1)

        try await Self.report(h, "a1", .resolved, id: "ev-2")
        await h.sync.poll()
        #expect(am.expiredSilences == [id])
        #expect(am.silences[id] == nil)
        #expect(h.entry("a1")?.ownSilence == nil)
        #expect(h.metricsText.contains(#"pagerduty_publisher_silences_total{action="expired"} 1"#))
    }

    @Test(arguments: [false, true])
    func theSilenceIsExtendedWhileStillAcknowledgedAndExpiredWhenUnacknowledged(sharedStore: Bool) async throws {
        let h = H(sharedStore: sharedStore, feedbackPolicy: Self.ackSilence, acknowledgedSilenceDuration: .seconds(3600))
        let am = h.alertmanagers[0]
        try await Self.acknowledgeFiringAlert(h)
        let id = try #require(h.entry("a1")?.ownSilence?.ids["am-1:9093"])

        h.clock.advance(by: .seconds(1700))
        await h.sync.poll()
        #expect(am.silencePosts.count == 1, "more than half of the hour left: not extended yet")

        h.clock.advance(by: .seconds(200))
        await h.sync.poll()
        #expect(am.silencePosts.count == 2)
        #expect(am.silencePosts.last?.id == id, "the same silence, replaced")
        #expect(am.silencePosts.last?.endsAt == h.clock.now.addingTimeInterval(3600))
        #expect(h.entry("a1")?.ownSilence?.endsAt == h.clock.now.addingTimeInterval(3600))
        #expect(h.metricsText.contains(#"pagerduty_publisher_silences_total{action="extended"} 1"#))

        try await Self.report(h, "a1", .triggered, id: "ev-2")
        await h.sync.poll()
        #expect(am.expiredSilences == [id], "unacknowledged: the alert notifies again")
        #expect(h.entry("a1")?.ownSilence == nil)
        #expect(h.queuedKinds == [.trigger], "and nothing is sent to PagerDuty for it")
    }

    @Test func aSilenceTheAlertmanagerForgotIsCreatedAnewWhenItIsExtended() async throws {
        let h = H(feedbackPolicy: Self.ackSilence)
        let am = h.alertmanagers[0]
        try await Self.acknowledgeFiringAlert(h)
        let first = try #require(h.entry("a1")?.ownSilence?.ids["am-1:9093"])
        am.forgetSilences()
        h.clock.advance(by: .seconds(1900))
        await h.sync.poll()
        let second = try #require(h.entry("a1")?.ownSilence?.ids["am-1:9093"])
        #expect(second != first)
        #expect(am.silences[second] != nil, "the alert is silenced again")
        #expect(am.silencePosts.last?.id == nil)
    }

    @Test func anExtensionThatFailedIsNotRecordedAsOneAndTheSilenceIsMadeAgainAtTheNextPoll() async throws {
        let h = H(feedbackPolicy: Self.ackSilence)
        let am = h.alertmanagers[0]
        try await Self.acknowledgeFiringAlert(h)
        let firstEnd = try #require(h.entry("a1")?.ownSilence?.endsAt)
        am.refuseSilences(true)
        h.clock.advance(by: .seconds(1900))
        await h.sync.poll()
        #expect(h.entry("a1")?.ownSilence?.ids.isEmpty == true, "the refused Alertmanager holds no extended silence")
        #expect(h.metricsText.contains(#"pagerduty_publisher_silences_total{action="failed"} 1"#))
        am.refuseSilences(false)
        await h.sync.poll()
        let id = try #require(h.entry("a1")?.ownSilence?.ids["am-1:9093"])
        #expect(am.silences[id]?.endsAt == h.clock.now.addingTimeInterval(3600))
        #expect(try #require(h.entry("a1")?.ownSilence?.endsAt) > firstEnd)
    }

    @Test func everyAlertmanagerGetsTheSilenceAndOneThatRefusedGetsItAtTheNextPoll() async throws {
        let h = H(alertmanagers: [ScriptedAlertmanager("am-1:9093"), ScriptedAlertmanager("am-2:9093")], feedbackPolicy: Self.ackSilence)
        try await h.webhook([H.alert("a1")])
        for am in h.alertmanagers { am.report([H.active("a1")]) }
        h.alertmanagers[1].refuseSilences(true)
        try await Self.report(h, "a1", .acknowledged, id: "ev-1")
        await h.sync.poll()
        #expect(h.entry("a1")?.ownSilence?.ids.keys.sorted() == ["am-1:9093"])
        #expect(h.metricsText.contains(#"pagerduty_publisher_silences_total{action="failed"} 1"#))

        h.alertmanagers[1].refuseSilences(false)
        await h.sync.poll()
        #expect(h.entry("a1")?.ownSilence?.ids.keys.sorted() == ["am-1:9093", "am-2:9093"])
        #expect(h.alertmanagers[1].silencePosts.count == 1)
        #expect(h.alertmanagers[0].silencePosts.count == 1, "the first one's silence is left alone, not duplicated")
        #expect(h.alertmanagers[0].silences.count == 1)
        #expect(h.alertmanagers[1].silencePosts.first?.endsAt == h.alertmanagers[0].silencePosts.first?.endsAt, "both end together")
    }

    @Test func noSilenceForAnAlertNoAlertmanagerReportsNorForTheNothingPolicy() async throws {
        let unknown = H(feedbackPolicy: Self.ackSilence)
        try await unknown.webhook([H.alert("a1")])
        unknown.alertmanagers[0].report([H.active("a2")])
        try await Self.report(unknown, "a1", .acknowledged, id: "ev-1")
        await unknown.sync.poll()
        #expect(unknown.alertmanagers[0].silencePosts.isEmpty, "its labels are not known: never silence a guess")

        let off = H()
        try await off.webhook([H.alert("a1")])
        off.alertmanagers[0].report([H.active("a1")])
        try await Self.report(off, "a1", .acknowledged, id: "ev-1")
        await off.sync.poll()
        #expect(off.alertmanagers[0].silencePosts.isEmpty, "the default is nothing")
    }

    @Test func anAcknowledgeThisDaemonSentForASilenceNeverBecomesASilenceOfOurs() async throws {
        let h = H(feedbackPolicy: Self.ackSilence)
        let am = h.alertmanagers[0]
        try await h.webhook([H.alert("a1")])
        am.report([H.active("a1")])
        am.addForeignSilence(id: "ops-1", labels: H.alert("a1").labels, endsAt: h.clock.now.addingTimeInterval(600))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .acknowledge])
        // PagerDuty reports back the acknowledge this daemon sent.
        try await Self.report(h, "a1", .acknowledged, id: "ev-1")
        await h.sync.poll()
        #expect(am.silencePosts.isEmpty)
        #expect(h.entry("a1")?.ownSilence == nil)
    }

    /// The daemon stopped (or its database failed) between creating a silence and recording it: Alertmanager still
    /// says who made it, so it neither acknowledges the incident nor, when it ends, reopens it.
    @Test func aSilenceThisDaemonMadeButNeverRecordedIsNotAMuteAndNeverReopens() async throws {
        let h = H(feedbackPolicy: FeedbackPolicy(acknowledged: .silence, reopen: .resolveThenTrigger))
        let am = h.alertmanagers[0]
        try await h.webhook([H.alert("a1")])
        try await Self.report(h, "a1", .acknowledged, id: "ev-1")
        let orphanEnd = h.clock.now.addingTimeInterval(600)
        am.addSilence(id: "orphan-1", labels: H.alert("a1").labels, endsAt: orphanEnd, createdBy: "pagerduty-publisher")
        am.report([H.active("a1")])
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger], "no acknowledge for a silence of ours")
        #expect(h.entry("a1")?.lastAction == .trigger)
        #expect(h.entry("a1")?.ownSilence?.ids["am-1:9093"] != nil, "the silence the policy wants is recorded")
        #expect(am.expiredSilences.isEmpty, "an unrecorded silence is left to end on its own")

        h.clock.advance(by: .seconds(601))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger], "its end reopens nothing: the responder's acknowledge stands")

        // The same silence made by anyone else is a mute, as before.
        let other = H(feedbackPolicy: FeedbackPolicy(acknowledged: .silence, reopen: .resolveThenTrigger))
        try await other.webhook([H.alert("a1")])
        other.alertmanagers[0].addSilence(
            id: "ops-1", labels: H.alert("a1").labels, endsAt: other.clock.now.addingTimeInterval(600), createdBy: "ops")
        other.alertmanagers[0].report([H.active("a1")])
        await other.sync.poll()
        #expect(other.queuedKinds == [.trigger, .acknowledge])
    }

    @Test func aSilenceOfSomeoneElseIsNeverExpiredOnlyOurs() async throws {
        let h = H(feedbackPolicy: Self.ackSilence)
        let am = h.alertmanagers[0]
        try await Self.acknowledgeFiringAlert(h)
        let ours = try #require(h.entry("a1")?.ownSilence?.ids["am-1:9093"])
        am.addForeignSilence(id: "ops-1", labels: H.alert("a1").labels, endsAt: h.clock.now.addingTimeInterval(7200))
        try await Self.report(h, "a1", .resolved, id: "ev-2")
        await h.sync.poll()
        #expect(am.expiredSilences == [ours])
        #expect(am.silences["ops-1"] != nil)
    }

    @Test func aSilenceEndingWhilePagerDutyStillSaysAcknowledgedResolvesThenTriggersWithReopen() async throws {
        let h = H(feedbackPolicy: FeedbackPolicy(reopen: .resolveThenTrigger))
        let am = h.alertmanagers[0]
        try await h.webhook([H.alert("a1")])
        am.report([H.silenced("a1", by: "ops-1")])
        await h.sync.poll()
        try await Self.report(h, "a1", .acknowledged, id: "ev-1")
        am.report([H.active("a1")])
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .acknowledge, .resolve, .trigger], "a new incident that pages")
        #expect(h.entry("a1")?.lastAction == .trigger)
        #expect(h.metricsText.contains(#"pagerduty_publisher_alertmanager_sync_actions_total{action="resolve",cause="reopened"} 1"#))

        let plain = H(feedbackPolicy: FeedbackPolicy(reopen: .nothing))
        try await plain.webhook([H.alert("a1")])
        plain.alertmanagers[0].report([H.silenced("a1", by: "ops-1")])
        await plain.sync.poll()
        try await Self.report(plain, "a1", .acknowledged, id: "ev-1")
        plain.alertmanagers[0].report([H.active("a1")])
        await plain.sync.poll()
        #expect(plain.queuedKinds == [.trigger, .acknowledge, .trigger], "nothing: today's behaviour")

        let unknownState = H(feedbackPolicy: FeedbackPolicy(reopen: .resolveThenTrigger))
        try await unknownState.webhook([H.alert("a1")])
        unknownState.alertmanagers[0].report([H.silenced("a1", by: "ops-1")])
        await unknownState.sync.poll()
        unknownState.alertmanagers[0].report([H.active("a1")])
        await unknownState.sync.poll()
        #expect(unknownState.queuedKinds == [.trigger, .acknowledge, .trigger], "only when PagerDuty says acknowledged")
    }

    @Test func aManualResolveWhileFiringTriggersANewIncidentAfterTheDelayOnce() async throws {
        let h = H(feedbackPolicy: FeedbackPolicy(manualResolve: .retriggerAfter(.seconds(600))))
        try await h.webhook([H.alert("a1")])
        h.alertmanagers[0].report([H.active("a1")])
        h.clock.advance(by: .seconds(60))
        try await Self.report(h, "a1", .resolved, id: "ev-1")
        h.clock.advance(by: .seconds(599))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger], "not before the delay")

        h.clock.advance(by: .seconds(1))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .trigger])
        let trigger = try h.event(at: 1)
        #expect(trigger.dedupKey == "a1")
        #expect(h.metricsText.contains(#"pagerduty_publisher_alertmanager_sync_actions_total{action="trigger",cause="manual_resolve"} 1"#))
        await h.sync.poll()
        h.clock.advance(by: .seconds(600))
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .trigger], "once per resolve")
    }

    @Test func aManualResolveOfAMutedAlertOrOfAnIncidentWeResolvedTriggersNothing() async throws {
        let muted = H(mutePolicy: MutePolicy(silenced: .nothing), feedbackPolicy: FeedbackPolicy(manualResolve: .retriggerAfter(.seconds(60))))
        try await muted.webhook([H.alert("a1")])
        muted.alertmanagers[0].report([H.silenced("a1", by: "ops-1")])
        try await Self.report(muted, "a1", .resolved, id: "ev-1")
        muted.clock.advance(by: .seconds(120))
        await muted.sync.poll()
        #expect(muted.queuedKinds == [.trigger], "a silenced alert is not firing")

        let ours = H(feedbackPolicy: FeedbackPolicy(manualResolve: .retriggerAfter(.seconds(60))))
        try await ours.webhook([H.alert("a1")])
        try await ours.webhook([H.alert("a1", .resolved)])
        ours.alertmanagers[0].report([H.active("a1")])
        try await Self.report(ours, "a1", .resolved, id: "ev-1")
        ours.clock.advance(by: .seconds(120))
        await ours.sync.poll()
        #expect(ours.queuedKinds == [.trigger, .resolve], "PagerDuty reporting our own resolve is not a responder's")
    }

    @Test func aManualResolveWhileFiringCanSilenceTheAlertForADurationInstead() async throws {
        let h = H(feedbackPolicy: FeedbackPolicy(manualResolve: .silence(.seconds(1800))))
        let am = h.alertmanagers[0]
        try await h.webhook([H.alert("a1")])
        am.report([H.active("a1")])
        try await Self.report(h, "a1", .resolved, id: "ev-1")
        h.clock.advance(by: .seconds(30))
        await h.sync.poll()
        let posted = try #require(am.silencePosts.first)
        #expect(posted.endsAt == h.clock.now.addingTimeInterval(1800))
        #expect(posted.comment.hasPrefix("Resolved in PagerDuty by Ada Oncall while still firing"))
        #expect(h.queuedKinds == [.trigger])

        h.clock.advance(by: .seconds(1900))
        await h.sync.poll()
        #expect(am.silencePosts.count == 1, "never extended, never made again for the same resolve")
        #expect(am.expiredSilences.isEmpty, "it ended on its own")

        try await Self.report(h, "a1", .triggered, id: "ev-2")
        await h.sync.poll()
        #expect(h.entry("a1")?.ownSilence == nil, "a newer incident state ends the record")
    }

    @Test func aGroupIncidentIsNeverSilenced() async throws {
        let h = H(incidentPer: .group, feedbackPolicy: Self.ackSilence)
        try await h.webhook([H.alert("a1")])
        h.alertmanagers[0].report([H.active("a1")])
        let dedupKey = try #require(h.store.ledgerEntries.first?.dedupKey)
        try await Self.report(h, dedupKey, .acknowledged, id: "ev-1")
        await h.sync.poll()
        #expect(h.alertmanagers[0].silencePosts.isEmpty, "a group spans many alerts: no silence matches it exactly")
    }

    @Test(arguments: [
        ("nothing", ManualResolveAction.nothing), ("retrigger-after:10m", .retriggerAfter(.seconds(600))),
        ("silence:1h", .silence(.seconds(3600))),
    ] as [(String, ManualResolveAction)])
    func manualResolveActionsParse(_ text: String, _ expected: ManualResolveAction) {
        let parse: (Substring) -> Duration? = { text in
            switch text {
            case "10m": .seconds(600)
            case "1h": .seconds(3600)
            case "0s": .zero
            default: nil
            }
        }
        #expect(ManualResolveAction(text: text, parseDuration: parse) == expected)
        for bad in ["retrigger-after", "silence:", "silence:0s", "retrigger:10m", "wait:10m", ""] {
            #expect(ManualResolveAction(text: bad, parseDuration: parse) == nil, "\(bad)")
        }
    }
}
