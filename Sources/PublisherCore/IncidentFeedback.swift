import Foundation
import Logging

/// One change of an incident's state that PagerDuty reported in a signed v3 webhook.
public struct IncidentUpdate: Sendable, Hashable {
    /// PagerDuty's id of the webhook event; a replay carries the same id.
    public var eventID: String
    /// The incident's `incident_key`: the dedup_key this daemon sent.
    public var dedupKey: String
    /// What PagerDuty says now.
    public var state: IncidentState

    public init(eventID: String, dedupKey: String, state: IncidentState) {
        self.eventID = eventID
        self.dedupKey = dedupKey
        self.state = state
    }
}

/// What an ``IncidentUpdate`` did to the ledger.
public enum IncidentUpdateOutcome: String, Sendable, Hashable, CaseIterable {
    /// The state of at least one entry changed.
    case applied
    /// Every entry already had this state (PagerDuty sends one event per change, but a replay can repeat it).
    case unchanged
    /// Every entry had a state from a later event: events can arrive out of order; the later one wins.
    case stale
    /// No ledger entry has this dedup_key: an incident this daemon did not open, or one whose entry expired.
    case unmatched
    /// The event id was applied before: a replay of a delivery PagerDuty retried.
    case duplicate
}

/// Records what PagerDuty's webhooks say about incidents (acknowledged, resolved, reopened by a responder) on
/// their ledger entries.
public protocol IncidentUpdateReceiving: Sendable {
    /// Applies `update` to the entries of its dedup_key on every route, durably, once per event id. Throws
    /// ``IngestError/storageUnavailable(reason:)`` when the store fails (PagerDuty then retries the delivery).
    func apply(_ update: IncidentUpdate) async throws(IngestError) -> IncidentUpdateOutcome
}

/// The pure rule of incident state: a state replaces the one recorded unless it is older.
public enum IncidentStateRules {
    /// `entry` with `state` recorded, or why not.
    public static func applying(_ state: IncidentState, to entry: LedgerEntry) -> (entry: LedgerEntry, outcome: IncidentUpdateOutcome) {
        if let recorded = entry.incident {
            if state.changedAt < recorded.changedAt { return (entry, .stale) }
            if recorded == state { return (entry, .unchanged) }
        }
        var updated = entry
        updated.incident = state
        return (updated, .applied)
    }

    /// The outcome of applying one update to several entries: applied if any changed, otherwise unchanged if any
    /// was already so, otherwise stale.
    static func combined(_ outcomes: [IncidentUpdateOutcome]) -> IncidentUpdateOutcome {
        if outcomes.isEmpty { return .unmatched }
        if outcomes.contains(.applied) { return .applied }
        if outcomes.contains(.unchanged) { return .unchanged }
        return .stale
    }
}

/// Applies ``IncidentUpdate``s to the ledger: under the ledger's gate, through the store's decision (so another
/// replica's concurrent write of the same entry is never lost), and remembers each event id for
/// ``InboundEvents/retention`` so a replayed delivery changes nothing.
///
/// The event id is remembered after the entries are written, never before: if the store fails in between,
/// PagerDuty's retry applies the event again, which the state rule makes harmless (the same state, or an older
/// one, changes nothing).
public struct IncidentFeedback: IncidentUpdateReceiving {
    private let store: any PublisherStore
    private let ledger: LedgerCache
    private let gate: AsyncGate
    private let clock: any PublisherClock
    private let logger: Logger

    public init(store: any PublisherStore, ledger: LedgerCache, gate: AsyncGate, clock: any PublisherClock, logger: Logger) {
        self.store = store
        self.ledger = ledger
        self.gate = gate
        self.clock = clock
        self.logger = logger
    }

    public func apply(_ update: IncidentUpdate) async throws(IngestError) -> IncidentUpdateOutcome {
        do {
            if try await store.hasInboundEvent(id: update.eventID, at: clock.now) { return .duplicate }
            // A shared store is read before the gate: the decision looks at each entry again as stored.
            var sharedKeys: Set<LedgerKey>?
            if let shared = store as? any SharedPublisherStore {
                sharedKeys = Set(try await shared.ledgerEntries(dedupKey: update.dedupKey).map(\.key))
            }
            let result = try await gate.withGate { () async throws -> (outcome: IncidentUpdateOutcome, changed: [LedgerEntry]) in
                let keys = sharedKeys ?? Set(ledger.entries { $0.dedupKey == update.dedupKey }.map(\.key))
                guard !keys.isEmpty else { return (.unmatched, []) }
                let state = update.state
                let decided = try await store.decide(keys: keys, cache: ledger) { stored in
                    var changed: [LedgerEntry] = []
                    var outcomes: [IncidentUpdateOutcome] = []
                    for entry in stored.values.sorted(by: { $0.route < $1.route }) {
                        let (updated, outcome) = IncidentStateRules.applying(state, to: entry)
                        outcomes.append(outcome)
                        if outcome == .applied { changed.append(updated) }
                    }
                    let outcome = IncidentStateRules.combined(outcomes)
                    return LedgerChanges(ledger: changed, outbox: [], outcome: (outcome: outcome, changed: changed))
                }
                ledger.apply(decided.changed)
                return decided
            }
            try await store.rememberInboundEvent(id: update.eventID, at: clock.now)
            log(update, result.outcome, changed: result.changed)
            return result.outcome
        } catch {
            throw .storageUnavailable(reason: "\(error)")
        }
    }

    /// One line per entry whose state changed, and one for an update that matched nothing.
    private func log(_ update: IncidentUpdate, _ outcome: IncidentUpdateOutcome, changed: [LedgerEntry]) {
        var metadata: Logger.Metadata = [
            "dedup_key": "\(update.dedupKey)", "incident_id": "\(update.state.incidentID)",
            "state": "\(update.state.status.rawValue)", "event_id": "\(update.eventID)",
        ]
        if let by = update.state.changedBy { metadata["by"] = "\(by)" }
        switch outcome {
        case .applied:
            for entry in changed {
                metadata["route"] = "\(entry.route)"
                logger.info("PagerDuty changed an incident's state", metadata: metadata)
            }
        case .unmatched:
            logger.info("PagerDuty reported on an incident this daemon does not know; nothing changed", metadata: metadata)
        case .unchanged, .stale, .duplicate:
            metadata["outcome"] = "\(outcome.rawValue)"
            logger.debug("PagerDuty's incident state needed no change", metadata: metadata)
        }
    }
}
