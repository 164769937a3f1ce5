import AlertmanagerModels
import Foundation
import Logging
import PagerDutyEvents
import Prometheus
import PublisherCore
import Synchronization

/// An Alertmanager API the test scripts: the alerts it reports, or a failure. It also keeps silences as a real
/// one does: a silence whose matchers all equal an alert's labels is listed in that alert's `silencedBy` until it
/// ends or is expired.
final class ScriptedAlertmanager: AlertmanagerObserving, AlertmanagerSilencing {
    let displayName: String
    private let answer = Mutex<Result<[ObservedAlert], ScriptedFailure>>(.success([]))
    private let silenceState = Mutex(SilenceState())
    private let clock: Mutex<(any PublisherClock)?> = Mutex(nil)

    struct SilenceState {
        var silences: [String: SilenceRequest] = [:]
        var expired: [String] = []
        var posts: [SilenceRequest] = []
        var nextID = 1
        var refusing = false
    }

    struct ScriptedFailure: Error, CustomStringConvertible {
        var description: String { "connection refused (scripted)" }
    }

    init(_ displayName: String = "am-1:9093") {
        self.displayName = displayName
    }

    func report(_ alerts: [ObservedAlert]) { answer.withLock { $0 = .success(alerts) } }
    func goDown() { answer.withLock { $0 = .failure(ScriptedFailure()) } }

    func currentAlerts() async throws -> [ObservedAlert] {
        let alerts = try answer.withLock { $0 }.get()
        let now = clock.withLock { $0 }?.now ?? Date()
        let active = silenceState.withLock { $0.silences }.filter { $0.value.startsAt <= now && $0.value.endsAt > now }
        return alerts.map { observed in
            var observed = observed
            for (id, silence) in active.sorted(by: { $0.key < $1.key })
            where silence.matchers.allSatisfy({ observed.alert.labels[$0.name] == $0.value }) {
                observed.silencedBy.append(id)
                // As the API client tells from `GET /api/v2/silences`.
                if silence.createdBy == "pagerduty-publisher" { observed.ownSilences.append(id) }
            }
            return observed
        }
    }

    /// Uses `clock` to tell which silences are in force.
    func use(_ clock: any PublisherClock) { self.clock.withLock { $0 = clock } }

    func postSilence(_ silence: SilenceRequest) async throws -> String {
        try silenceState.withLock { state in
            if state.refusing { throw ScriptedFailure() }
            // A real Alertmanager refuses to replace a silence it does not know (404).
            if let id = silence.id, state.silences[id] == nil { throw ScriptedFailure() }
            state.posts.append(silence)
            let id = silence.id ?? "own-\(displayName)-\(state.nextID)"
            if silence.id == nil { state.nextID += 1 }
            state.silences[id] = silence
            return id
        }
    }

    func expireSilence(id: String) async throws {
        try silenceState.withLock { state in
            if state.refusing { throw ScriptedFailure() }
            state.silences[id] = nil
            state.expired.append(id)
        }
    }

    /// Forgets every silence, as an Alertmanager restarted without its data does.
    func forgetSilences() { silenceState.withLock { $0.silences.removeAll() } }

    /// Refuses (or accepts again) every silence call.
    func refuseSilences(_ refusing: Bool) { silenceState.withLock { $0.refusing = refusing } }
    /// The silences it holds (ended ones included until expired), by id.
    var silences: [String: SilenceRequest] { silenceState.withLock { $0.silences } }
    /// Every silence posted, in order.
    var silencePosts: [SilenceRequest] { silenceState.withLock { $0.posts } }
    /// The ids expired through the API, in order.
    var expiredSilences: [String] { silenceState.withLock { $0.expired } }
    /// A silence someone else created, matching `labels`.
    func addForeignSilence(id: String, labels: [String: String], endsAt: Date) {
        addSilence(id: id, labels: labels, endsAt: endsAt, createdBy: "ops")
    }

    /// A silence matching `labels` that the test puts there directly (not through ``postSilence(_:)``).
    func addSilence(id: String, labels: [String: String], endsAt: Date, createdBy: String) {
        silenceState.withLock {
            $0.silences[id] = SilenceRequest(
                matchers: SilenceRequest.matchers(exactly: labels), startsAt: .distantPast, endsAt: endsAt,
                createdBy: createdBy, comment: "maintenance")
        }
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
        ownership: any WorkOwnership = SoleReplica(),
        feedbackPolicy: FeedbackPolicy = FeedbackPolicy(),
        acknowledgedSilenceDuration: Duration = .seconds(3600)
    ) {
        // A shared store decides on its own rows, as with several replicas on PostgreSQL.
        let backing: any PublisherStore = sharedStore ? SharedMemoryStore(store) : store
        routes = RouteTable(routes: [
            Route(
                name: "default", routingKey: String(repeating: "k", count: 32), mutePolicy: mutePolicy,
                incidentPer: incidentPer, feedbackPolicy: feedbackPolicy)
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
            policy: LedgerPolicy(),
            configuration: AlertmanagerSyncConfiguration(
                gracePeriod: gracePeriod, acknowledgedSilenceDuration: acknowledgedSilenceDuration),
            clock: clock, signal: signal, metrics: metrics, gate: gate, ownership: ownership, silencers: alertmanagers,
            logger: logger)
        for alertmanager in alertmanagers { alertmanager.use(clock) }
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
