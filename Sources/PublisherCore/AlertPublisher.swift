import AlertmanagerModels
import Foundation
import Logging
import PagerDutyEvents

/// Accepts Alertmanager webhooks: asks the ledger which alerts changed state, writes the resulting events and
/// the ledger entries to the store in one transaction, then wakes the route's dispatcher lane.
///
/// Webhooks are decided one at a time (SQLite has one writer anyway), so two Alertmanager peers sending the
/// same group at once cause one trigger, not two.
///
/// Alerts labelled ``changeEventLabel``=`"true"` (a deploy or a configuration change announced through
/// Prometheus) become change events, never triggers: the ledger decides as for any alert, and where it would
/// trigger, a change event is queued instead. It is queued once per occurrence of the alert (a new `startsAt`);
/// repeats of a still-firing alert are not re-sent after the re-trigger interval, and a resolved one queues
/// nothing (a change has no end in PagerDuty), though the ledger remembers it so the next occurrence counts.
public final class AlertPublisher: AlertIngesting {
    /// The label that turns an alert into a change event when its value is `"true"`.
    public static let changeEventLabel = "change_event"

    private let store: any PublisherStore
    private let routes: RouteTable
    private let ledger: LedgerCache
    private let mapper: EventMapper
    private let policy: LedgerPolicy
    private let clock: any PublisherClock
    private let signal: WorkSignal
    private let logger: Logger
    private let gate = AsyncGate()

    public init(
        store: any PublisherStore,
        routes: RouteTable,
        ledger: LedgerCache,
        mapper: EventMapper,
        policy: LedgerPolicy,
        clock: any PublisherClock,
        signal: WorkSignal,
        logger: Logger
    ) {
        self.store = store
        self.routes = routes
        self.ledger = ledger
        self.mapper = mapper
        self.policy = policy
        self.clock = clock
        self.signal = signal
        self.logger = logger
    }

    public func ingest(_ message: WebhookMessage, route requestedRoute: String?) async throws(IngestError) -> IngestResult {
        if let requestedRoute, routes.route(named: requestedRoute) == nil {
            throw .unknownRoute(requestedRoute)
        }
        let keys = try dedupKeys(of: message)
        // The path's route takes every alert; without one each alert goes where the route matchers send it.
        let destinations = message.alerts.map { alert in
            requestedRoute.flatMap(routes.route(named:)) ?? routes.selectRoute(for: alert.labels)
        }
        let (result, touchedRoutes) = try await gate.withGate { () async throws(IngestError) -> (IngestResult, Set<String>) in
            try await decideAndStore(message, keys: keys, destinations: destinations)
        }
        for route in touchedRoutes.sorted() {
            signal.notify(route: route)
        }
        if result.unrouted > 0 {
            logger.warning(
                "No route takes some alerts and there is no default route; they are not sent",
                metadata: ["unrouted_alerts": "\(result.unrouted)", "receiver": "\(message.receiver ?? "")"]
            )
        }
        if let truncated = message.truncatedAlerts, truncated > 0 {
            logger.warning(
                "Alertmanager left alerts out of a webhook (max_alerts); they are not seen here",
                metadata: ["route": "\(requestedRoute ?? "by matchers")", "truncated_alerts": "\(truncated)"]
            )
        }
        return result
    }

    private func dedupKeys(of message: WebhookMessage) throws(IngestError) -> [String] {
        var keys: [String] = []
        keys.reserveCapacity(message.alerts.count)
        for (index, alert) in message.alerts.enumerated() {
            do {
                keys.append(try DedupKey.of(alert))
            } catch {
                throw .invalidAlert(field: "alerts[\(index)]", reason: error.reason)
            }
        }
        return keys
    }

    private func decideAndStore(
        _ message: WebhookMessage,
        keys: [String],
        destinations: [Route?]
    ) async throws(IngestError) -> (IngestResult, Set<String>) {
        let now = clock.now
        // Decisions within one webhook see each other: the same alert twice in one body is one transition.
        var working: [LedgerKey: LedgerEntry] = [:]
        var outbox: [OutboxMessage] = []
        var unrouted = 0
        for (index, ((alert, dedupKey), destination)) in zip(zip(message.alerts, keys), destinations).enumerated() {
            guard let destination else {
                unrouted += 1
                continue
            }
            let route = destination.name
            let routeMapper = destination.mapper ?? mapper
            let key = LedgerKey(route: route, dedupKey: dedupKey)
            let isChange = Self.isChangeEvent(alert)
            var alertPolicy = policy
            if isChange { alertPolicy.retriggerInterval = nil }
            let decision = LedgerRules.decide(
                existing: working[key] ?? ledger.entry(for: key),
                route: route,
                dedupKey: dedupKey,
                status: alert.status,
                startsAt: alert.startsAt,
                now: now,
                policy: alertPolicy
            )
            working[key] = decision.entry
            guard let action = decision.action else { continue }
            if isChange {
                guard action == .trigger else { continue }
                do throws(IngestError) {
                    let event = routeMapper.changeEvent(for: alert, in: message)
                    outbox.append(try .change(event, route: route, at: now))
                } catch .invalidAlert(_, let reason) {
                    throw .invalidAlert(field: "alerts[\(index)]", reason: reason)
                } catch {
                    throw error
                }
                continue
            }
            let event: AlertEvent
            let body: Data
            do {
                let encoded = try routeMapper.encodedEvent(for: alert, action: action, in: message, dedupKey: dedupKey)
                event = encoded.event
                body = Data(encoded.body)
            } catch {
                throw .invalidAlert(field: "alerts", reason: "the event could not be encoded: \(error)")
            }
            outbox.append(
                OutboxMessage(
                    route: route,
                    kind: OutboxKind(action),
                    dedupKey: dedupKey,
                    severity: event.payload?.severity,
                    body: body,
                    createdAt: now
                )
            )
        }
        let entries = Array(working.values)
        do {
            try await store.commit(ledger: entries, outbox: outbox)
        } catch {
            logger.error("Could not store a webhook; answering 503", metadata: ["error": "\(error)"])
            throw .storageUnavailable(reason: Self.reason(of: error))
        }
        ledger.apply(entries)
        let result = IngestResult(
            alerts: message.alerts.count,
            queued: outbox.count,
            unchanged: message.alerts.count - outbox.count - unrouted,
            unrouted: unrouted
        )
        return (result, Set(outbox.map(\.route)))
    }

    /// Whether `alert` announces a change (``changeEventLabel`` is `"true"`) rather than a problem.
    public static func isChangeEvent(_ alert: Alert) -> Bool {
        alert.labels[changeEventLabel] == "true"
    }

    private static func reason(of error: any Error) -> String {
        (error as? StoreError)?.reason ?? "\(error)"
    }
}

extension OutboxKind {
    /// The outbox kind of an alert event action.
    public init(_ action: EventAction) {
        switch action {
        case .trigger: self = .trigger
        case .acknowledge: self = .acknowledge
        case .resolve: self = .resolve
        }
    }
}
