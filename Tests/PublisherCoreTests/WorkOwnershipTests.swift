import Foundation
import PagerDutyEvents
import PublisherCore
import Testing

@Suite("Several replicas: decisions on stored entries, owned work, the limiter's stored window", .timeLimit(.minutes(2)))
struct WorkOwnershipTests {
    typealias H = LifecycleHarness

    /// What another replica wrote for `fingerprint` on the default route.
    static func storedEntry(_ fingerprint: String, _ action: EventAction, at date: Date) -> LedgerEntry {
        LedgerEntry(
            route: "default", dedupKey: fingerprint, lastAction: action, lastActionAt: date, startsAt: H.startsAt,
            lastSeen: date)
    }

    @Test func withASharedStoreAWebhookIsDecidedOnTheStoredEntryNotThisReplicasCache() async throws {
        let h = H(sharedStore: true)
        // Another replica triggered a1: this replica's cache has never heard of it.
        try await h.store.commit(ledger: [Self.storedEntry("a1", .trigger, at: h.clock.now)], outbox: [])
        try await h.webhook([H.alert("a1")])
        #expect(h.queuedKinds == [], "the stored trigger makes a second one redundant")

        try await h.webhook([H.alert("a2")])
        #expect(h.queuedKinds == [.trigger])
        // Another replica resolved a2 meanwhile; this replica's cache still says triggered.
        try await h.store.commit(ledger: [Self.storedEntry("a2", .resolve, at: h.clock.now)], outbox: [])
        try await h.webhook([H.alert("a2", .resolved)])
        #expect(h.queuedKinds == [.trigger], "the stored resolve makes a second one redundant")
    }

    @Test func withASharedStoreTheSyncFindsIncidentsOtherReplicasOpened() async throws {
        let h = H(sharedStore: true)
        try await h.store.commit(ledger: [Self.storedEntry("a1", .trigger, at: h.clock.now)], outbox: [])
        h.alertmanagers[0].report([H.silenced("a1")])
        await h.sync.poll()
        #expect(h.queuedKinds == [.acknowledge])
        #expect(h.store.ledgerEntries.first?.cause == .silenced)
    }

    @Test func withASharedStoreAHeldResolveAnotherReplicaStoredIsReleasedOnce() async throws {
        let h = H(sharedStore: true)
        var held = Self.storedEntry("a1", .trigger, at: h.clock.now)
        held.resolveHeldUntil = h.clock.now
        try await h.store.commit(ledger: [held], outbox: [])
        await h.damping.releaseDueResolves()
        await h.damping.releaseDueResolves()
        #expect(h.queuedKinds == [.resolve])
        #expect(h.store.ledgerEntries.first?.resolveHeldUntil == nil)
    }

    @Test func theSyncDoesNothingOnAReplicaThatDoesNotOwnIt() async throws {
        let ownership = SwitchableOwnership(owns: false)
        let h = H(ownership: ownership)
        try await h.webhook([H.alert("a1")])
        h.alertmanagers[0].report([H.silenced("a1")])
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger])
        #expect(ownership.claimed.contains(.alertmanagerSync))

        ownership.set(owns: true)
        await h.sync.poll()
        #expect(h.queuedKinds == [.trigger, .acknowledge])
    }

    @Test func aLaneDeliversOnlyWhileThisReplicaOwnsItsRoutingKey() async throws {
        let ownership = SwitchableOwnership(owns: false)
        let harness = try DispatcherHarness(ownership: ownership)
        try await harness.enqueue(.trigger, "a")
        let task = harness.start()
        defer { task.cancel() }
        let lane = OwnedWork.delivery(lane: DeliveryLaneName.forRoutingKey(DispatcherHarness.keyA))
        try await eventually("the lane to ask for its key and wait") {
            ownership.claimed.contains(lane) && harness.clock.sleeperCount > 0
        }
        #expect(harness.clock.nextDeadline == .seconds(1), "it asks again after the ownership retry interval")
        #expect(harness.transport.requests.isEmpty)

        ownership.set(owns: true)
        try await harness.drive(until: "delivered once owned") { harness.store.outbox.isEmpty }
        #expect(harness.transport.requests.count == 1)
    }

    @Test func aNewOwnerStartsFromTheRequestsOfTheLastMinuteAsStored() async throws {
        let harness = try DispatcherHarness(rateLimit: 5)
        let lane = DeliveryLaneName.forRoutingKey(DispatcherHarness.keyA)
        // The previous owner (another replica, or this process before a restart) spent the budget 20 s ago.
        for _ in 0..<5 {
            try await harness.store.recordRequest(lane: lane, finishedAt: harness.clock.now.addingTimeInterval(-20))
        }
        try await harness.enqueue(.trigger, "a")
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("the lane to wait for its budget") { harness.clock.sleeperCount > 0 }
        #expect(harness.transport.requests.isEmpty)
        #expect(harness.clock.nextDeadline == .seconds(41), "the budget comes back 60 s after the stored requests (+1 s margin)")

        try await harness.drive(until: "delivered") { harness.store.outbox.isEmpty }
        #expect(harness.transport.requests.count == 1)
        let stored = try await harness.store.requestTimes(lane: lane, since: .distantPast)
        #expect(stored.count == 6, "each request's start is stored for the next owner")
        #expect(stored.last == harness.clock.now)
    }

    @Test func nothingIsSentWhileTheStoreCannotRecordTheRequestsStart() async throws {
        let harness = try DispatcherHarness()
        try await harness.enqueue(.trigger, "a")
        harness.store.setFailWrites(true)
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("the lane to back off") { harness.clock.sleeperCount > 0 }
        #expect(harness.transport.requests.isEmpty, "PagerDuty's answer could not be recorded either")

        harness.store.setFailWrites(false)
        try await harness.drive(until: "delivered once the store answers") { harness.store.outbox.isEmpty }
        #expect(harness.transport.requests.count == 1)
    }

    @Test func aLaneThatTheStoreSaysWasTakenOverSendsNothingAndAsksForItsKeyAgain() async throws {
        let ownership = SwitchableOwnership(owns: true)
        let harness = try DispatcherHarness(ownership: ownership)
        try await harness.enqueue(.trigger, "a")
        harness.store.setLanesTakenOver(true)
        let task = harness.start()
        defer { task.cancel() }
        let lane = OwnedWork.delivery(lane: DeliveryLaneName.forRoutingKey(DispatcherHarness.keyA))
        try await eventually("the lane to give its key up and wait") {
            ownership.relinquished == [lane] && harness.clock.sleeperCount > 0
        }
        #expect(harness.transport.requests.isEmpty, "a replica that lost its lease sends nothing")
        #expect(harness.clock.nextDeadline == .seconds(1), "it asks for the key again after the ownership retry interval")
        #expect(harness.store.outbox.count == 1, "the event stays for the lane's owner")

        harness.store.setLanesTakenOver(false)
        ownership.set(owns: true)
        try await harness.drive(until: "delivered once owned again") { harness.store.outbox.isEmpty }
        #expect(harness.transport.requests.count == 1)
    }

    @Test func aLaneNameNamesTheKeyWithoutBeingIt() {
        let a = DeliveryLaneName.forRoutingKey(DispatcherHarness.keyA)
        #expect(a == DeliveryLaneName.forRoutingKey(DispatcherHarness.keyA))
        #expect(a != DeliveryLaneName.forRoutingKey(DispatcherHarness.keyB))
        #expect(!a.contains(DispatcherHarness.keyA) && !a.contains("aaaaaaaa"))
        #expect(OwnedWork.delivery(lane: a).description == "delivery:\(a)")
    }
}
