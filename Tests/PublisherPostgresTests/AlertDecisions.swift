import AlertmanagerModels
import Foundation
import PagerDutyEvents
import PublisherCore

/// Drives ``PublisherStore/decide(keys:cache:_:)`` as the publisher does: ``LedgerRules`` for each alert sighting,
/// one message per action, and the process's cache updated after the decision (which only a store answering from
/// the cache reads). One instance stands for one replica.
struct AlertDecisions: Sendable {
    /// What one call saw and decided.
    struct Result: Sendable {
        /// The stored entries the decision was given, by dedup_key.
        var seen: [String: LedgerEntry]
        /// The actions it queued, by dedup_key.
        var actions: [String: EventAction]
    }

    let store: any PublisherStore
    let cache = LedgerCache()
    var route = "default"
    var policy = LedgerPolicy()

    init(store: any PublisherStore, route: String = "default") {
        self.store = store
        self.route = route
    }

    /// Decides on `alerts` (dedup_key and status) seen at `now`, each with `startsAt` as its occurrence.
    func send(_ alerts: [(String, AlertStatus)], at now: Date, startsAt: Date? = nil) async throws -> Result {
        let route = self.route
        let policy = self.policy
        let keys = Set(alerts.map { LedgerKey(route: route, dedupKey: $0.0) })
        let (result, entries) = try await store.decide(keys: keys, cache: cache) { stored in
            var current = stored
            var ledger: [LedgerEntry] = []
            var outbox: [OutboxMessage] = []
            var actions: [String: EventAction] = [:]
            for (dedupKey, status) in alerts {
                let key = LedgerKey(route: route, dedupKey: dedupKey)
                let decision = LedgerRules.decide(
                    existing: current[key], route: route, dedupKey: dedupKey, status: status, startsAt: startsAt,
                    now: now, policy: policy)
                current[key] = decision.entry
                ledger.append(decision.entry)
                if let action = decision.action {
                    actions[dedupKey] = action
                    outbox.append(
                        OutboxMessage(
                            route: route, kind: OutboxKind(action), dedupKey: dedupKey, severity: .critical,
                            body: Data(#"{"event_action":"\#(action.rawValue)","dedup_key":"\#(dedupKey)"}"#.utf8),
                            createdAt: now))
                }
            }
            let seen = Dictionary(uniqueKeysWithValues: stored.map { ($0.key.dedupKey, $0.value) })
            return LedgerChanges(ledger: ledger, outbox: outbox, outcome: (Result(seen: seen, actions: actions), ledger))
        }
        cache.apply(entries)
        return result
    }
}
