import AlertmanagerModels
import Foundation
import Logging
import PagerDutyEvents

/// Accepts Alertmanager webhooks: asks the ledger which alerts changed state, writes the resulting events and
/// the ledger entries to the store in one transaction, then wakes the route's dispatcher lane.
///
/// Webhooks are decided one at a time (SQLite has one writer anyway), so two Alertmanager peers sending the
/// same group at once cause one trigger, not two.
public final class AlertPublisher: AlertIngesting {
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
        let routeName = requestedRoute ?? routes.defaultRoute
        guard routes.route(named: routeName) != nil else {
            throw .unknownRoute(routeName)
        }
        let keys = try dedupKeys(of: message)
        let result = try await gate.withGate { () async throws(IngestError) -> IngestResult in
            try await decideAndStore(message, keys: keys, route: routeName)
        }
        if result.queued > 0 {
            signal.notify(route: routeName)
        }
        if let truncated = message.truncatedAlerts, truncated > 0 {
            logger.warning(
                "Alertmanager left alerts out of a webhook (max_alerts); they are not seen here",
                metadata: ["route": "\(routeName)", "truncated_alerts": "\(truncated)"]
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
        route: String
    ) async throws(IngestError) -> IngestResult {
        let now = clock.now
        // Decisions within one webhook see each other: the same alert twice in one body is one transition.
        var working: [LedgerKey: LedgerEntry] = [:]
        var outbox: [OutboxMessage] = []
        for (alert, dedupKey) in zip(message.alerts, keys) {
            let key = LedgerKey(route: route, dedupKey: dedupKey)
            let decision = LedgerRules.decide(
                existing: working[key] ?? ledger.entry(for: key),
                route: route,
                dedupKey: dedupKey,
                status: alert.status,
                startsAt: alert.startsAt,
                now: now,
                policy: policy
            )
            working[key] = decision.entry
            guard let action = decision.action else { continue }
            let event = mapper.event(for: alert, action: action, in: message, dedupKey: dedupKey)
            let body: Data
            do {
                body = Data(try EventEncoding.encode(event))
            } catch {
                throw .invalidAlert(field: "alerts", reason: "the event could not be encoded: \(error)")
            }
            outbox.append(
                OutboxMessage(
                    route: route,
                    kind: OutboxKind(action),
                    dedupKey: dedupKey,
                    severity: action == .trigger ? event.payload?.severity : nil,
                    body: body,
                    createdAt: now
                )
            )
        }
        let entries = Array(working.values)
        do {
            try await store.commit(ledger: entries, outbox: outbox)
        } catch {
            logger.error("Could not store a webhook; answering 503", metadata: ["route": "\(route)", "error": "\(error)"])
            throw .storageUnavailable(reason: Self.reason(of: error))
        }
        ledger.apply(entries)
        return IngestResult(alerts: message.alerts.count, queued: outbox.count, unchanged: message.alerts.count - outbox.count)
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
