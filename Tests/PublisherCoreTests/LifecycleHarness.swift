import AlertmanagerModels
import Foundation
import Logging
import PagerDutyEvents
import Prometheus
import PublisherCore
import Synchronization

/// An Alertmanager API the test scripts: the alerts it reports, or a failure.
final class ScriptedAlertmanager: AlertmanagerObserving {
    let displayName: String
    private let answer = Mutex<Result<[ObservedAlert], ScriptedFailure>>(.success([]))

    struct ScriptedFailure: Error, CustomStringConvertible {
        var description: String { "connection refused (scripted)" }
    }

    init(_ displayName: String = "am-1:9093") {
        self.displayName = displayName
    }

    func report(_ alerts: [ObservedAlert]) { answer.withLock { $0 = .success(alerts) } }
    func goDown() { answer.withLock { $0 = .failure(ScriptedFailure()) } }

    func currentAlerts() async throws -> [ObservedAlert] {
        try answer.withLock { $0 }.get()
    }
}

/// A webhook publisher, an Alertmanager sync and flap damping over one in-memory store, ledger and gate.
struct LifecycleHarness {
    static let startsAt = Date(timeIntervalSince1970: 1_799_000_000)

    let store = InMemoryStore()
    let clock = ManualClock()
    let signal = WorkSignal()
    let ledger = LedgerCache()
    let gate = AsyncGate()
    let registry = PrometheusCollectorRegistry()
    let metrics: PublisherMetrics
    let routes: RouteTable
    let flaps: FlapDetector
    let alertmanagers: [ScriptedAlertmanager]
    let publisher: AlertPublisher
    let sync: AlertmanagerSync
    let damping: FlapDamping
    let feedback: IncidentFeedback

    init(
        mutePolicy: MutePolicy = MutePolicy(),
        incidentPer: IncidentGrouping = .alert,
        alertmanagers: [ScriptedAlertmanager] = [ScriptedAlertmanager()],
        flapPolicy: FlapPolicy = .off,
        gracePeriod: Duration = .seconds(300),
        sharedStore: Bool = false,
        ownership: any WorkOwnership = SoleReplica()
    ) {
        // A shared store decides on its own rows, as with several replicas on PostgreSQL.
        let backing: any PublisherStore = sharedStore ? SharedMemoryStore(store) : store
        routes = RouteTable(routes: [
            Route(
                name: "default", routingKey: String(repeating: "k", count: 32), mutePolicy: mutePolicy,
                incidentPer: incidentPer)
        ])
        metrics = PublisherMetrics(factory: PrometheusMetricsFactory(registry: registry), routes: routes.names)
        flaps = FlapDetector(policy: flapPolicy)
        self.alertmanagers = alertmanagers
        let logger = Logger(label: "test")
        publisher = AlertPublisher(
            store: backing, routes: routes, ledger: ledger, mapper: EventMapper(), policy: LedgerPolicy(), clock: clock,
            signal: signal, logger: logger, flaps: flaps, gate: gate)
        sync = AlertmanagerSync(
            sources: alertmanagers, store: backing, routes: routes, ledger: ledger, mapper: EventMapper(),
            policy: LedgerPolicy(), configuration: AlertmanagerSyncConfiguration(gracePeriod: gracePeriod),
            clock: clock, signal: signal, metrics: metrics, gate: gate, ownership: ownership, logger: logger)
        damping = FlapDamping(
            store: backing, ledger: ledger, flaps: flaps, clock: clock, signal: signal, metrics: metrics, gate: gate,
            logger: logger)
        feedback = IncidentFeedback(store: backing, ledger: ledger, gate: gate, clock: clock, logger: logger)
    }

    static func alert(
        _ fingerprint: String,
        _ status: AlertStatus = .firing,
        startsAt: Date = LifecycleHarness.startsAt,
        severity: String = "critical"
    ) -> Alert {
        Alert(
            status: status,
            labels: ["alertname": "DiskFull", "instance": "host-\(fingerprint)", "severity": severity],
            annotations: ["summary": "Disk full on host-\(fingerprint)"],
            startsAt: startsAt,
            fingerprint: fingerprint
        )
    }

    /// Sends a webhook of `alerts` in one group.
    @discardableResult
    func webhook(_ alerts: [Alert], groupKey: String = "{}:{alertname=\"DiskFull\"}") async throws -> IngestResult {
        try await publisher.ingest(
            WebhookMessage(
                groupKey: groupKey, status: alerts.contains { $0.status == .firing } ? .firing : .resolved,
                receiver: "pagerduty", alerts: alerts),
            route: nil)
    }

    static func silenced(_ fingerprint: String, by silence: String = "silence-1") -> ObservedAlert {
        ObservedAlert(alert: alert(fingerprint), silencedBy: [silence])
    }

    static func inhibited(_ fingerprint: String) -> ObservedAlert {
        ObservedAlert(alert: alert(fingerprint), inhibitedBy: ["0123456789abcdef"])
    }

    static func active(_ fingerprint: String) -> ObservedAlert {
        ObservedAlert(alert: alert(fingerprint))
    }

    /// The kinds of the queued events, in order.
    var queuedKinds: [OutboxKind] { store.outbox.map(\.message.kind) }

    /// The ledger entry of `dedupKey` on the default route.
    func entry(_ dedupKey: String) -> LedgerEntry? {
        ledger.entry(for: LedgerKey(route: "default", dedupKey: dedupKey))
    }

    /// The decoded event of the outbox message at `index`.
    func event(at index: Int) throws -> AlertEvent {
        try JSONDecoder().decode(AlertEvent.self, from: store.outbox[index].message.body)
    }

    /// The exposition text of the metrics.
    var metricsText: String { registry.emitToString() }
}
