import Foundation
import PagerDutyEvents
import PublisherCore
import Testing

@Suite("PagerDuty's incident state on the ledger (v3 webhooks)", .timeLimit(.minutes(2)))
struct IncidentFeedbackTests {
    typealias H = LifecycleHarness

    static func update(
        _ eventID: String, _ dedupKey: String, _ status: IncidentState.Status, at date: Date, by agent: String? = "Ada Oncall"
    ) -> IncidentUpdate {
        IncidentUpdate(
            eventID: eventID, dedupKey: dedupKey,
            state: IncidentState(
                status: status, changedAt: date, changedBy: agent, incidentID: "PINC\(dedupKey)",
                incidentURL: "https://acme.pagerduty.com/incidents/PINC\(dedupKey)"))
    }

    @Test(arguments: [false, true])
    func anAcknowledgeIsRecordedOnTheEntryDurablyWithWhoAndWhen(sharedStore: Bool) async throws {
        let h = H(sharedStore: sharedStore)
        try await h.webhook([H.alert("a1")])
        let at = h.clock.now.addingTimeInterval(30)
        #expect(try await h.feedback.apply(Self.update("ev-1", "a1", .acknowledged, at: at)) == .applied)

        let expected = IncidentState(
            status: .acknowledged, changedAt: at, changedBy: "Ada Oncall", incidentID: "PINCa1",
            incidentURL: "https://acme.pagerduty.com/incidents/PINCa1")
        #expect(h.store.ledgerEntries.first?.incident == expected, "stored")
        #expect(h.entry("a1")?.incident == expected, "and in this process's ledger")
        #expect(h.entry("a1")?.lastAction == .trigger, "what was sent is unchanged")
        #expect(h.queuedKinds == [.trigger], "PagerDuty's own change is never sent back to it")
        #expect(try await h.store.queueStats().incidents == [.acknowledged: 1])
    }

    @Test(arguments: [false, true])
    func aReplayedEventChangesNothingEvenAfterALaterOne(sharedStore: Bool) async throws {
        let h = H(sharedStore: sharedStore)
        try await h.webhook([H.alert("a1")])
        let start = h.clock.now
        #expect(try await h.feedback.apply(Self.update("ev-1", "a1", .acknowledged, at: start)) == .applied)
        #expect(try await h.feedback.apply(Self.update("ev-2", "a1", .resolved, at: start.addingTimeInterval(60))) == .applied)
        #expect(try await h.feedback.apply(Self.update("ev-1", "a1", .acknowledged, at: start)) == .duplicate)
        #expect(h.entry("a1")?.incident?.status == .resolved)
    }

    @Test(arguments: [false, true])
    func anEventIDIsAReplayFor24HoursByTheInjectedClockAndThenAppliesAgain(sharedStore: Bool) async throws {
        let h = H(sharedStore: sharedStore)
        try await h.webhook([H.alert("a1")])
        let start = h.clock.now
        #expect(try await h.feedback.apply(Self.update("ev-1", "a1", .acknowledged, at: start)) == .applied)
        h.clock.advance(by: .seconds(24 * 3_600))
        #expect(try await h.feedback.apply(Self.update("ev-1", "a1", .acknowledged, at: start)) == .duplicate, "24 h: a replay")
        // Nothing else arrived meanwhile, so nothing pruned the id: the lookup itself honours the window.
        h.clock.advance(by: .seconds(1))
        #expect(try await h.feedback.apply(Self.update("ev-1", "a1", .acknowledged, at: start)) == .unchanged)
        #expect(try await h.store.hasInboundEvent(id: "ev-1", at: h.clock.now), "remembered again from now")
        #expect(try await h.feedback.apply(Self.update("ev-1", "a1", .acknowledged, at: start)) == .duplicate)
    }

    @Test(arguments: [false, true])
    func anOlderEventArrivingLateIsStaleAndTheLaterStateStays(sharedStore: Bool) async throws {
        let h = H(sharedStore: sharedStore)
        try await h.webhook([H.alert("a1")])
        let start = h.clock.now
        #expect(try await h.feedback.apply(Self.update("ev-2", "a1", .resolved, at: start.addingTimeInterval(60))) == .applied)
        #expect(try await h.feedback.apply(Self.update("ev-1", "a1", .acknowledged, at: start)) == .stale)
        #expect(h.entry("a1")?.incident?.status == .resolved)
        // The same state again (another event id) changes nothing either.
        #expect(
            try await h.feedback.apply(Self.update("ev-3", "a1", .resolved, at: start.addingTimeInterval(60))) == .unchanged)
    }

    @Test func anUnacknowledgeOrReopenMakesTheIncidentTriggeredAgain() async throws {
        let h = H()
        try await h.webhook([H.alert("a1")])
        let start = h.clock.now
        _ = try await h.feedback.apply(Self.update("ev-1", "a1", .acknowledged, at: start))
        #expect(try await h.feedback.apply(Self.update("ev-2", "a1", .triggered, at: start.addingTimeInterval(1))) == .applied)
        #expect(h.entry("a1")?.incident?.status == .triggered)
        #expect(try await h.store.queueStats().incidents == [.triggered: 1])
    }

    @Test(arguments: [false, true])
    func anIncidentThisDaemonDoesNotKnowChangesNothingButItsIdIsRemembered(sharedStore: Bool) async throws {
        let h = H(sharedStore: sharedStore)
        try await h.webhook([H.alert("a1")])
        #expect(try await h.feedback.apply(Self.update("ev-9", "someone-elses", .acknowledged, at: h.clock.now)) == .unmatched)
        #expect(h.store.ledgerEntries.allSatisfy { $0.incident == nil })
        #expect(try await h.store.hasInboundEvent(id: "ev-9", at: h.clock.now))
        #expect(try await h.feedback.apply(Self.update("ev-9", "someone-elses", .acknowledged, at: h.clock.now)) == .duplicate)
    }

    @Test func whenTheStoreFailsTheEventIsNotRememberedSoPagerDutysRetryAppliesIt() async throws {
        let h = H()
        try await h.webhook([H.alert("a1")])
        h.store.setFailWrites(true)
        await #expect(throws: IngestError.self) {
            try await h.feedback.apply(Self.update("ev-1", "a1", .acknowledged, at: h.clock.now))
        }
        #expect(h.entry("a1")?.incident == nil)
        h.store.setFailWrites(false)
        #expect(try await h.store.hasInboundEvent(id: "ev-1", at: h.clock.now) == false)
        #expect(try await h.feedback.apply(Self.update("ev-1", "a1", .acknowledged, at: h.clock.now)) == .applied)
    }

    @Test func theRuleKeepsTheLaterStateAndTellsWhy() {
        let entry = LedgerEntry(
            route: "default", dedupKey: "a1", lastAction: .trigger, lastActionAt: H.startsAt, startsAt: H.startsAt,
            lastSeen: H.startsAt)
        let acknowledged = IncidentState(
            status: .acknowledged, changedAt: H.startsAt.addingTimeInterval(10), changedBy: nil, incidentID: "P1",
            incidentURL: nil)
        let (first, applied) = IncidentStateRules.applying(acknowledged, to: entry)
        #expect(applied == .applied && first.incident == acknowledged)
        #expect(IncidentStateRules.applying(acknowledged, to: first).outcome == .unchanged)
        var older = acknowledged
        older.status = .resolved
        older.changedAt = H.startsAt
        #expect(IncidentStateRules.applying(older, to: first).outcome == .stale)
        var sameTimeOtherStatus = acknowledged
        sameTimeOtherStatus.status = .resolved
        #expect(IncidentStateRules.applying(sameTimeOtherStatus, to: first).outcome == .applied, "a tie goes to the newer delivery")
    }
}
