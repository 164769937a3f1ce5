import AlertmanagerModels
import Foundation
import Logging
import PagerDutyEvents
import PublisherCore
import Testing

@Suite("Webhook ingest", .timeLimit(.minutes(2)))
struct AlertPublisherTests {
    let store = InMemoryStore()
    let clock = ManualClock()
    let signal = WorkSignal()
    let ledger = LedgerCache()

    func makePublisher(ledger: LedgerCache? = nil) -> AlertPublisher {
        AlertPublisher(
            store: store,
            routes: RouteTable(routes: [Route(name: "default", routingKey: String(repeating: "k", count: 32)), Route(name: "db", routingKey: String(repeating: "d", count: 32))]),
            ledger: ledger ?? self.ledger,
            mapper: EventMapper(),
            policy: LedgerPolicy(),
            clock: clock,
            signal: signal,
            logger: Logger(label: "test")
        )
    }

    func group(_ statuses: [AlertStatus], startsAt: Date = Date(timeIntervalSince1970: 1_799_000_000)) -> WebhookMessage {
        WebhookMessage(
            groupKey: "{}:{alertname=\"Disk\"}",
            status: statuses.contains(.firing) ? .firing : .resolved,
            alerts: statuses.enumerated().map { index, status in
                Alert(status: status, labels: ["alertname": "Disk", "instance": "host-\(index)"], startsAt: startsAt, fingerprint: String(format: "%016x", index + 1))
            }
        )
    }

    @Test func eachFiringAlertQueuesOneTrigger() async throws {
        let result = try await makePublisher().ingest(group([.firing, .firing, .firing]), route: nil)
        #expect(result == IngestResult(alerts: 3, queued: 3, unchanged: 0))
        #expect(store.outbox.map(\.message.kind) == [.trigger, .trigger, .trigger])
        #expect(store.outbox.map(\.message.dedupKey) == ["0000000000000001", "0000000000000002", "0000000000000003"])
        #expect(store.outbox.allSatisfy { $0.message.route == "default" })
        #expect(store.commits == 1, "one webhook is one transaction")
        #expect(ledger.count == 3)
    }

    @Test func theSameGroupResentFiveTimesCostsOneTriggerPerAlert() async throws {
        let publisher = makePublisher()
        for _ in 0..<5 {
            _ = try await publisher.ingest(group([.firing, .firing]), route: nil)
            clock.advance(by: .seconds(60))
        }
        #expect(store.outbox.count == 2)
        let last = try await publisher.ingest(group([.firing, .firing]), route: nil)
        #expect(last.unchanged == 2 && last.queued == 0)
    }

    @Test func resolveFollowsTriggerOnce() async throws {
        let publisher = makePublisher()
        _ = try await publisher.ingest(group([.firing, .firing]), route: nil)
        _ = try await publisher.ingest(group([.resolved, .firing]), route: nil)
        _ = try await publisher.ingest(group([.resolved, .resolved]), route: nil)
        _ = try await publisher.ingest(group([.resolved, .resolved]), route: nil)
        #expect(store.outbox.map(\.message.kind) == [.trigger, .trigger, .resolve, .resolve])
        #expect(store.outbox.map(\.message.dedupKey) == ["0000000000000001", "0000000000000002", "0000000000000001", "0000000000000002"])
    }

    @Test func concurrentDuplicatesFromHAPeersCauseOneTrigger() async throws {
        let publisher = makePublisher()
        let message = group([.firing])
        try await withThrowingTaskGroup(of: IngestResult.self) { tasks in
            for _ in 0..<8 {
                tasks.addTask { try await publisher.ingest(message, route: nil) }
            }
            var queued = 0
            for try await result in tasks { queued += result.queued }
            #expect(queued == 1)
        }
        #expect(store.outbox.count == 1)
    }

    @Test func theSameAlertTwiceInOneBodyIsOneTransition() async throws {
        var message = group([.firing])
        message.alerts.append(message.alerts[0])
        let result = try await makePublisher().ingest(message, route: nil)
        #expect(result.queued == 1 && result.unchanged == 1)
    }

    @Test func storedBodiesAreEventsWithoutTheRoutingKey() async throws {
        _ = try await makePublisher().ingest(group([.firing]), route: nil)
        let body = try #require(store.outbox.first?.message.body)
        let event = try JSONDecoder().decode(AlertEvent.self, from: body)
        #expect(event.routingKey.isEmpty)
        #expect(event.eventAction == .trigger)
        #expect(!String(decoding: body, as: UTF8.self).contains("kkkkkkkk"))
    }

    @Test func aNamedRouteIsUsedAndAnUnknownOneRefused() async throws {
        let publisher = makePublisher()
        _ = try await publisher.ingest(group([.firing]), route: "db")
        #expect(store.outbox.first?.message.route == "db")
        await #expect(throws: IngestError.unknownRoute("nope")) {
            _ = try await publisher.ingest(group([.firing]), route: "nope")
        }
    }

    @Test func anAlertWithoutIdentityIsRefusedAndNothingStored() async throws {
        var message = group([.firing, .firing])
        message.alerts[1] = Alert(status: .firing, labels: [:])
        await #expect(throws: IngestError.invalidAlert(field: "alerts[1]", reason: "an alert needs a fingerprint or at least one label")) {
            _ = try await makePublisher().ingest(message, route: nil)
        }
        #expect(store.outbox.isEmpty && store.commits == 0 && ledger.count == 0)
    }

    @Test func aStorageFailureIsReportedAndLeavesTheLedgerUnchanged() async throws {
        store.setFailWrites(true)
        let publisher = makePublisher()
        await #expect(throws: IngestError.storageUnavailable(reason: "disk full (test)")) {
            _ = try await publisher.ingest(group([.firing]), route: nil)
        }
        #expect(ledger.count == 0, "a failed commit must not be remembered, or the retry would be dropped")
        store.setFailWrites(false)
        let retried = try await publisher.ingest(group([.firing]), route: nil)
        #expect(retried.queued == 1, "Alertmanager's retry after the 503 queues the trigger")
    }

    @Test func theLedgerReloadedFromTheStoreRemembersTriggers() async throws {
        _ = try await makePublisher().ingest(group([.firing]), route: nil)
        let reloaded = LedgerCache()
        let maintenance = LedgerMaintenance(store: store, ledger: reloaded, policy: LedgerPolicy(), clock: clock, logger: Logger(label: "test"))
        try await maintenance.load()
        let afterRestart = try await makePublisher(ledger: reloaded).ingest(group([.firing]), route: nil)
        #expect(afterRestart.queued == 0, "a restart does not re-trigger what was already sent")
    }

    @Test func ledgerEntriesExpireAfterTheirTTL() async throws {
        _ = try await makePublisher().ingest(group([.firing]), route: nil)
        let maintenance = LedgerMaintenance(store: store, ledger: ledger, policy: LedgerPolicy(entryTTL: .seconds(3600)), clock: clock, logger: Logger(label: "test"))
        clock.advance(by: .seconds(3599))
        await maintenance.sweep()
        #expect(ledger.count == 1 && store.ledgerEntries.count == 1)
        clock.advance(by: .seconds(2))
        await maintenance.sweep()
        #expect(ledger.count == 0 && store.ledgerEntries.isEmpty)
    }

    @Test func queuedWorkWakesTheRoutesLane() async throws {
        #expect(!signal.hasPendingWork(route: "default"))
        _ = try await makePublisher().ingest(group([.firing]), route: nil)
        // Nobody waited, so the notification was remembered for the route's lane, and only for it.
        #expect(signal.hasPendingWork(route: "default"))
        #expect(!signal.hasPendingWork(route: "other"))
        // The lane's next wait returns at once and takes the notice.
        await signal.wait(routes: ["other", "default"])
        #expect(!signal.hasPendingWork(route: "default"))
    }
}
