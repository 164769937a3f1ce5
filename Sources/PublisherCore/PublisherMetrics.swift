import CoreMetrics
import Metrics
import PagerDutyEvents
import Synchronization

/// The eight `pagerduty_*` metrics of the design, plus the publisher's own gauges.
///
/// Every `routing_key` label carries a route name, never a key. Metric objects are created once per label set
/// and reused.
public final class PublisherMetrics: Sendable {
    /// The metric names, as exposed.
    public enum Name {
        public static let eventsTriggered = "pagerduty_events_triggered_total"
        public static let eventsAcknowledged = "pagerduty_events_acknowledged_total"
        public static let eventsResolved = "pagerduty_events_resolved_total"
        public static let changeEvents = "pagerduty_change_events_total"
        public static let apiRequests = "pagerduty_api_requests_total"
        public static let apiErrors = "pagerduty_api_errors_total"
        public static let apiDuration = "pagerduty_api_duration_seconds"
        public static let rateLimitHits = "pagerduty_rate_limit_hits_total"
        public static let queueDepth = "pagerduty_publisher_queue_depth"
        public static let oldestPendingAge = "pagerduty_publisher_oldest_pending_age_seconds"
        public static let deadLetters = "pagerduty_publisher_dead_letters"
        public static let ledgerEntries = "pagerduty_publisher_ledger_entries"
        public static let flappingAlerts = "pagerduty_publisher_flapping_alerts"
        public static let alertmanagerUp = "pagerduty_publisher_alertmanager_up"
        public static let syncActions = "pagerduty_publisher_alertmanager_sync_actions_total"
        public static let inboundWebhooks = "pagerduty_publisher_inbound_webhooks_total"
        public static let incidents = "pagerduty_publisher_incidents"
        public static let silences = "pagerduty_publisher_silences_total"
    }

    /// The `error_type` values of `pagerduty_api_errors_total`.
    public static let errorTypes = ["client_error", "rate_limited", "server_error", "unexpected_status", "timeout", "network"]

    private let factory: any MetricsFactory
    private let counters = MetricCache<Counter>()
    private let timers = MetricCache<Timer>()
    private let queueDepthGauge: Gauge
    private let oldestPendingAgeGauge: Gauge
    private let deadLettersGauge: Gauge
    private let ledgerEntriesGauge: Gauge
    private let flappingAlertsGauge: Gauge
    private let gauges = MetricCache<Gauge>()

    /// Creates the metrics with `factory`, pre-registering series for `routes` so every metric is visible
    /// from the first scrape.
    public init(factory: any MetricsFactory, routes: [String]) {
        self.factory = factory
        self.queueDepthGauge = Gauge(label: Name.queueDepth, dimensions: [], factory: factory)
        self.oldestPendingAgeGauge = Gauge(label: Name.oldestPendingAge, dimensions: [], factory: factory)
        self.deadLettersGauge = Gauge(label: Name.deadLetters, dimensions: [], factory: factory)
        self.ledgerEntriesGauge = Gauge(label: Name.ledgerEntries, dimensions: [], factory: factory)
        self.flappingAlertsGauge = Gauge(label: Name.flappingAlerts, dimensions: [], factory: factory)
        for route in routes {
            for severity in Severity.allCases {
                _ = counter(Name.eventsTriggered, [("routing_key", route), ("severity", severity.rawValue)])
            }
            _ = counter(Name.eventsAcknowledged, [("routing_key", route)])
            _ = counter(Name.eventsResolved, [("routing_key", route)])
            _ = counter(Name.changeEvents, [("routing_key", route)])
            _ = counter(Name.rateLimitHits, [("routing_key", route)])
        }
        for endpoint in EventsEndpoint.allCases {
            _ = counter(Name.apiRequests, [("endpoint", endpoint.rawValue), ("status", "202")])
            _ = timer(Name.apiDuration, [("endpoint", endpoint.rawValue)])
        }
        for errorType in Self.errorTypes {
            _ = counter(Name.apiErrors, [("error_type", errorType)])
        }
        for action in SilenceAction.allCases {
            _ = counter(Name.silences, [("action", action.rawValue)])
        }
        queueDepthGauge.record(0)
        oldestPendingAgeGauge.record(0)
        deadLettersGauge.record(0)
        ledgerEntriesGauge.record(0)
        flappingAlertsGauge.record(0)
    }

    /// Pre-registers the Alertmanager sync's series for `alertmanagers` (display names, never credentials),
    /// each reported down until its first successful poll.
    public func registerAlertmanagers(_ alertmanagers: [String]) {
        for name in alertmanagers {
            recordAlertmanager(name, isUp: false)
        }
        for (action, cause) in [
            (EventAction.trigger, "unmuted"), (.acknowledge, "silenced"), (.acknowledge, "inhibited"),
            (.resolve, "silenced"), (.resolve, "inhibited"), (.resolve, "reconciled"),
        ] {
            _ = counter(Name.syncActions, [("action", action.rawValue), ("cause", cause)])
        }
    }

    /// Records whether the last poll of `alertmanager` (a display name) succeeded.
    public func recordAlertmanager(_ alertmanager: String, isUp: Bool) {
        gauges.metric(Name.alertmanagerUp, [("alertmanager", alertmanager)]) {
            Gauge(label: $0, dimensions: $1, factory: factory)
        }.record(isUp ? 1 : 0)
    }

    /// Counts an event the Alertmanager sync queued: `action` for `cause` (unmuted, silenced, inhibited,
    /// reconciled).
    public func recordSyncAction(_ action: EventAction, cause: String) {
        counter(Name.syncActions, [("action", action.rawValue), ("cause", cause)]).increment()
    }

    /// Updates the flapping alerts gauge.
    public func recordFlapping(_ alerts: Int) {
        flappingAlertsGauge.record(alerts)
    }

    /// Counts one finished Events API request: requests by status, errors by type, and its duration. A dry-run
    /// request (never sent) is counted with status `dry_run` and no duration.
    public func recordRequest(_ report: DeliveryReport) {
        let endpoint = report.endpoint.rawValue
        counter(Name.apiRequests, [("endpoint", endpoint), ("status", report.statusLabel)]).increment()
        if report.wasSent {
            timer(Name.apiDuration, [("endpoint", endpoint)]).record(duration: report.duration)
        }
        if let errorType = report.outcome.errorType {
            counter(Name.apiErrors, [("error_type", errorType)]).increment()
        }
    }

    /// Counts an event PagerDuty accepted.
    public func recordDelivered(kind: OutboxKind, route: String, severity: Severity?) {
        switch kind {
        case .trigger:
            let severity = (severity ?? .error).rawValue
            counter(Name.eventsTriggered, [("routing_key", route), ("severity", severity)]).increment()
        case .acknowledge:
            counter(Name.eventsAcknowledged, [("routing_key", route)]).increment()
        case .resolve:
            counter(Name.eventsResolved, [("routing_key", route)]).increment()
        case .change:
            counter(Name.changeEvents, [("routing_key", route)]).increment()
        }
    }

    /// Counts a 429 answer on `route`.
    public func recordRateLimitHit(route: String) {
        counter(Name.rateLimitHits, [("routing_key", route)]).increment()
    }

    /// Updates the queue gauges, and the incidents gauge (every state, 0 when no entry has it).
    public func recordQueue(_ stats: QueueStats, oldestPendingAgeSeconds: Double) {
        queueDepthGauge.record(stats.pending)
        oldestPendingAgeGauge.record(oldestPendingAgeSeconds)
        deadLettersGauge.record(stats.deadLetters)
        for status in IncidentState.Status.allCases {
            gauges.metric(Name.incidents, [("state", status.rawValue)]) {
                Gauge(label: $0, dimensions: $1, factory: factory)
            }.record(stats.incidents[status] ?? 0)
        }
    }

    /// Counts one request to `POST /v1/pagerduty`: `eventType` is a bounded label (the five incident types,
    /// `pagey.ping`, `other`, or `unknown` when the request was refused before its type was known); `result` is
    /// what became of it (an ``IncidentUpdateOutcome``, `ignored`, `pong`, or the refusal: `bad_signature`,
    /// `malformed`, `too_large`, `unavailable`).
    public func recordInboundWebhook(eventType: String, result: String) {
        counter(Name.inboundWebhooks, [("event_type", eventType), ("result", result)]).increment()
    }

    /// Counts one change to a silence of this daemon's on one Alertmanager: `created`, `extended`, `expired`,
    /// or `failed` (the Alertmanager could not be asked, or refused; the sync tries again at its next poll). Every
    /// action is exposed from the first scrape, at 0.
    public func recordSilence(_ action: SilenceAction) {
        counter(Name.silences, [("action", action.rawValue)]).increment()
    }

    /// Updates the ledger size gauge.
    public func recordLedgerSize(_ entries: Int) {
        ledgerEntriesGauge.record(entries)
    }

    private func counter(_ name: String, _ dimensions: [(String, String)]) -> Counter {
        counters.metric(name, dimensions) { Counter(label: $0, dimensions: $1, factory: factory) }
    }

    private func timer(_ name: String, _ dimensions: [(String, String)]) -> Timer {
        timers.metric(name, dimensions) { Timer(label: $0, dimensions: $1, factory: factory) }
    }
}

/// Metric objects by name and label set, created on first use and reused after.
private final class MetricCache<Metric: Sendable>: Sendable {
    private struct Key: Hashable {
        var name: String
        var dimensions: [String]
    }

    private let metrics = Mutex<[Key: Metric]>([:])

    func metric(
        _ name: String,
        _ dimensions: [(String, String)],
        make: (String, [(String, String)]) -> Metric
    ) -> Metric {
        let key = Key(name: name, dimensions: dimensions.flatMap { [$0.0, $0.1] })
        return metrics.withLock { metrics in
            if let existing = metrics[key] { return existing }
            let metric = make(name, dimensions)
            metrics[key] = metric
            return metric
        }
    }
}
