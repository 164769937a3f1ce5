import AlertmanagerModels
import Foundation
import PagerDutyEvents
import PublisherCore
import PublisherTestSupport
import Testing

@Suite("One incident per Alertmanager group", .timeLimit(.minutes(2)))
struct GroupModeTests {
    typealias H = LifecycleHarness
    static let groupKey = "{}/{team=\"db\"}:{alertname=\"DiskFull\"}"

    @Test func aGroupMakesOneIncidentKeyedByTheHashOfItsGroupKey() async throws {
        let h = H(incidentPer: .group)
        let result = try await h.webhook(
            [H.alert("a1", severity: "warning"), H.alert("a2", severity: "critical"), H.alert("a3", severity: "info")],
            groupKey: Self.groupKey)
        #expect(result.queued == 1)
        #expect(h.queuedKinds == [.trigger])
        let event = try h.event(at: 0)
        // Alertmanager's own integration uses the SHA-256 hex of the group key (this value from Python's hashlib).
        #expect(event.dedupKey == "2ad15d251be30f11a20500744af01ca13d04c483a77a4c180b989e0c8d861ca2")
        #expect(event.payload?.summary.hasPrefix("[FIRING:3] ") == true)
        #expect(event.payload?.severity == .critical, "the highest severity of the firing alerts")
        #expect(event.payload?.customDetails?.member("firing_count") == .number(3))
    }

    @Test func resendsCostNothingANewMemberRetriggersAndAllResolvedResolves() async throws {
        let h = H(incidentPer: .group)
        try await h.webhook([H.alert("a1"), H.alert("a2")], groupKey: Self.groupKey)
        try await h.webhook([H.alert("a1"), H.alert("a2")], groupKey: Self.groupKey)
        #expect(h.queuedKinds == [.trigger])
        try await h.webhook([H.alert("a1", .resolved), H.alert("a2")], groupKey: Self.groupKey)
        #expect(h.queuedKinds == [.trigger], "an alert leaving the firing set costs no call")
        try await h.webhook([H.alert("a2"), H.alert("a3")], groupKey: Self.groupKey)
        #expect(h.queuedKinds == [.trigger, .trigger], "a new alert in the group updates the incident")
        try await h.webhook([H.alert("a2", .resolved), H.alert("a3", .resolved)], groupKey: Self.groupKey)
        #expect(h.queuedKinds == [.trigger, .trigger, .resolve])
        let resolve = try h.event(at: 2)
        #expect(resolve.payload?.summary.hasPrefix("[RESOLVED] ") == true)
        #expect(Set(h.store.outbox.map(\.message.dedupKey)) == [DedupKey.ofGroup(Self.groupKey)])
    }

    @Test func aWebhookWithoutAGroupKeyIsRefusedAndChangesNothing() async throws {
        let h = H(incidentPer: .group)
        await #expect(throws: IngestError.invalidAlert(
            field: "groupKey",
            reason: "route \"default\" makes one incident per Alertmanager group and needs the group key")
        ) {
            try await h.publisher.ingest(WebhookMessage(alerts: [H.alert("a1")]), route: nil)
        }
        #expect(h.store.outbox.isEmpty && h.store.commits == 0)
    }
}

@Suite("Flap detection and damping", .timeLimit(.minutes(2)))
struct FlapTests {
    typealias H = LifecycleHarness

    @Test func anAlertIsFlappingOnceItResolvesMoreThanTheThresholdWithinTheWindow() {
        let detector = FlapDetector(policy: FlapPolicy(threshold: 2, window: .seconds(600)))
        let key = LedgerKey(route: "default", dedupKey: "a1")
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(detector.recordResolve(of: key, at: start).isFlapping == false)
        #expect(detector.recordResolve(of: key, at: start.addingTimeInterval(60)).isFlapping == false)
        let third = detector.recordResolve(of: key, at: start.addingTimeInterval(120))
        #expect(third.isFlapping && third.started)
        #expect(detector.recordResolve(of: key, at: start.addingTimeInterval(180)).started == false, "one start per episode")
        #expect(detector.flappingCount(at: start.addingTimeInterval(200)) == 1)
        #expect(detector.flappingCount(at: start.addingTimeInterval(800)) == 0, "calm once the window passes")
        #expect(detector.isFlapping(key, at: start.addingTimeInterval(800)) == false)
    }

    /// Fires and resolves `a1` `cycles` times, a minute apart, each with a new startsAt.
    func flap(_ h: H, cycles: Int) async throws {
        for cycle in 0..<cycles {
            let startsAt = H.startsAt.addingTimeInterval(Double(cycle) * 120)
            try await h.webhook([H.alert("a1", startsAt: startsAt)])
            h.clock.advance(by: .seconds(60))
            try await h.webhook([H.alert("a1", .resolved, startsAt: startsAt)])
            h.clock.advance(by: .seconds(60))
        }
    }

    @Test func withoutDampingAFlappingAlertIsOnlyCountedAndLogged() async throws {
        let h = H(flapPolicy: FlapPolicy(threshold: 2, window: .seconds(3600)))
        try await flap(h, cycles: 4)
        #expect(h.queuedKinds == Array(repeating: [OutboxKind.trigger, .resolve], count: 4).flatMap { $0 })
        await h.damping.releaseDueResolves()
        #expect(h.metricsText.contains("pagerduty_publisher_flapping_alerts 1"))
    }

    @Test func dampingHoldsAFlappingAlertsResolveSoItKeepsOneIncident() async throws {
        let h = H(flapPolicy: FlapPolicy(threshold: 2, window: .seconds(3600), resolveHold: .seconds(600)))
        try await flap(h, cycles: 2)
        #expect(h.queuedKinds.count == 4)
        // The third resolve makes it flapping: held. Firing again drops the hold and costs no trigger.
        try await flap(h, cycles: 3)
        #expect(h.queuedKinds == [.trigger, .resolve, .trigger, .resolve, .trigger],
                "after the threshold the incident stays open through the flapping")
        let held = try #require(h.entry("a1")?.resolveHeldUntil)
        #expect(h.store.ledgerEntries.first?.resolveHeldUntil == held, "the hold is written through")

        h.clock.advance(by: .seconds(300))
        await h.damping.releaseDueResolves()
        #expect(h.queuedKinds.count == 5, "not before the hold passes")
        h.clock.advance(by: .seconds(300))
        await h.damping.releaseDueResolves()
        #expect(h.queuedKinds.last == .resolve && h.queuedKinds.count == 6)
        #expect(h.entry("a1")?.lastAction == .resolve && h.entry("a1")?.resolveHeldUntil == nil)
        await h.damping.releaseDueResolves()
        #expect(h.queuedKinds.count == 6, "released once")
    }

    @Test func aHeldResolveSurvivesTheLedgerExpiry() async throws {
        let h = H(flapPolicy: FlapPolicy(threshold: 0, window: .seconds(3600), resolveHold: .seconds(3600)))
        try await h.webhook([H.alert("a1")])
        try await h.webhook([H.alert("a1", .resolved)])
        #expect(h.entry("a1")?.resolveHeldUntil != nil)
        let expired = h.ledger.expire(seenBefore: h.clock.now.addingTimeInterval(1))
        #expect(expired == 0 && h.entry("a1") != nil)
    }
}

@Suite("Concurrent webhooks: events are prepared in parallel, decided one at a time", .timeLimit(.minutes(2)))
struct ConcurrentIngestTests {
    typealias H = LifecycleHarness

    @Test func twentyPeersSendingTheSameFiringAlertAtOnceQueueOneTrigger() async throws {
        let h = H()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask { try await h.webhook([H.alert("a1")]) }
            }
            try await group.waitForAll()
        }
        #expect(h.queuedKinds == [.trigger])
    }

    @Test func firingAndResolvedRacingStayConsistentWithTheLedger() async throws {
        for _ in 0..<10 {
            let h = H()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await h.webhook([H.alert("a1")]) }
                group.addTask { try await h.webhook([H.alert("a1", .resolved)]) }
                try await group.waitForAll()
            }
            #expect(h.queuedKinds == [.trigger, .resolve] || h.queuedKinds == [.resolve])
            for index in h.store.outbox.indices {
                let event = try h.event(at: index)
                #expect(event.eventAction.rawValue == h.store.outbox[index].message.kind.rawValue,
                        "a prepared event is only used for the action decided under the gate")
            }
            #expect(h.entry("a1")?.lastAction == .resolve)
        }
    }
}
