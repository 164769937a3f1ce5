import AlertmanagerModels
import Foundation
import Logging
import PagerDutyEvents
import PublisherCore
import Testing

extension DispatcherHarness {
    /// Queues an alert event whose outbox message carries `severity` whatever the action (as ingest does).
    func enqueue(_ action: EventAction, _ dedupKey: String, carrying severity: Severity) async throws {
        let event = AlertEvent(
            routingKey: "", eventAction: action, dedupKey: dedupKey,
            payload: AlertPayload(summary: "disk \(dedupKey)", source: "host", severity: severity)
        )
        let message = OutboxMessage(
            route: "default", kind: OutboxKind(action), dedupKey: dedupKey, severity: severity,
            body: Data(try EventEncoding.encode(event)), createdAt: clock.now
        )
        try await store.commit(ledger: [], outbox: [message])
        signal.notify(route: "default")
    }

    /// The dedup_key of every request sent, in order.
    var sentKeys: [String] { transport.requests.map { $0.json["dedup_key"] as? String ?? "?" } }
}

@Suite("Dispatcher priority during a backlog", .timeLimit(.minutes(2)))
struct DispatcherPriorityTests {
    @Test func aCriticalAlertArrivingDuringABacklogOvertakesOlderWarnings() async throws {
        let harness = try DispatcherHarness(rateLimit: 3)
        let warnings = (0..<30).map { "w\($0)" }
        for key in warnings { try await harness.enqueue(.trigger, key, carrying: .warning) }
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("the budget to run out") {
            harness.transport.requests.count == 3 && harness.clock.sleeperCount > 0
        }

        try await harness.enqueue(.trigger, "urgent", carrying: .critical)
        try await harness.drive(until: "the backlog to drain") { harness.store.outbox.isEmpty }

        let sent = harness.sentKeys
        // The lane had planned one batch before the critical arrived; the next plan puts it first.
        let batchSize = DispatcherConfiguration().batchSize
        #expect(sent.firstIndex(of: "urgent") == batchSize)
        #expect(sent.filter { $0 != "urgent" } == warnings, "the warnings keep their order")
    }

    @Test func aTriggerAndItsResolveStayInOrderWhileSeverityReordersTheRest() async throws {
        let harness = try DispatcherHarness()
        try await harness.enqueue(.trigger, "w0", carrying: .warning)
        try await harness.enqueue(.trigger, "pair", carrying: .info)
        try await harness.enqueue(.trigger, "w1", carrying: .warning)
        try await harness.enqueue(.trigger, "urgent", carrying: .critical)
        try await harness.enqueue(.resolve, "pair", carrying: .critical)
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("five deliveries") { harness.store.outbox.isEmpty }

        // The critical resolve pulls its info trigger ahead with it, in order; then the older warnings.
        #expect(harness.sentKeys == ["pair", "urgent", "pair", "w0", "w1"])
        let actions = harness.transport.requests.map { $0.json["event_action"] as? String }
        #expect(actions == ["trigger", "trigger", "resolve", "trigger", "trigger"])
    }

    @Test func aMessageBeingRetriedStaysFirstWhenACriticalArrives() async throws {
        let harness = try DispatcherHarness()
        harness.transport.enqueue([.status(503, body: "unavailable"), .status(502, body: "bad gateway")])
        try await harness.enqueue(.trigger, "slow", carrying: .info)
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("the first attempt to fail and back off") {
            harness.transport.requests.count == 1 && harness.clock.sleeperCount > 0
        }

        try await harness.enqueue(.trigger, "urgent", carrying: .critical)
        try await harness.drive(until: "both delivered") { harness.store.outbox.isEmpty }

        #expect(harness.sentKeys == ["slow", "slow", "slow", "urgent"])
    }

    @Test func acknowledgesAndResolvesCarryTheirSeverityIntoTheOutbox() async throws {
        let store = InMemoryStore()
        let publisher = AlertPublisher(
            store: store,
            routes: RouteTable(routes: [Route(name: "default", routingKey: String(repeating: "k", count: 32))]),
            ledger: LedgerCache(),
            mapper: EventMapper(),
            policy: LedgerPolicy(),
            clock: ManualClock(),
            signal: WorkSignal(),
            logger: Logger(label: "test")
        )
        func webhook(_ status: AlertStatus) -> WebhookMessage {
            WebhookMessage(
                groupKey: "{}:{alertname=\"Disk\"}",
                status: status,
                alerts: [
                    Alert(
                        status: status, labels: ["alertname": "Disk", "severity": "warning"],
                        startsAt: Date(timeIntervalSince1970: 1_799_000_000), fingerprint: "00000000000000aa")
                ]
            )
        }
        _ = try await publisher.ingest(webhook(.firing), route: nil)
        _ = try await publisher.ingest(webhook(.resolved), route: nil)

        #expect(store.outbox.map(\.message.kind) == [.trigger, .resolve])
        #expect(store.outbox.map(\.message.severity) == [.warning, .warning])
    }

    @Test func onlyTriggersAreCountedWithASeverityLabel() async throws {
        let harness = try DispatcherHarness()
        try await harness.enqueue(.trigger, "a", carrying: .warning)
        try await harness.enqueue(.resolve, "a", carrying: .warning)
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("both delivered") { harness.store.outbox.isEmpty }

        let text = harness.metricsText
        #expect(text.contains(#"pagerduty_events_triggered_total{routing_key="default",severity="warning"} 1"#))
        #expect(text.contains(#"pagerduty_events_resolved_total{routing_key="default"} 1"#))
        #expect(!text.contains(#"pagerduty_events_resolved_total{routing_key="default",severity"#))
    }
}
