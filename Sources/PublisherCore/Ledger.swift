import AlertmanagerModels
import Foundation
import PagerDutyEvents
import Synchronization

/// How long the ledger remembers alerts and when a firing alert is sent again.
public struct LedgerPolicy: Sendable, Hashable {
    /// An entry is forgotten this long after a webhook last mentioned its alert.
    public var entryTTL: Duration
    /// A still-firing alert is triggered again this long after its last trigger (so an incident closed by hand
    /// re-opens, like Alertmanager's repeat_interval). `nil` never re-triggers.
    public var retriggerInterval: Duration?

    public init(entryTTL: Duration = .seconds(24 * 3600), retriggerInterval: Duration? = .seconds(4 * 3600)) {
        self.entryTTL = entryTTL
        self.retriggerInterval = retriggerInterval
    }
}

/// The transition an alert sighting causes.
public struct LedgerDecision: Sendable, Hashable {
    /// The event to queue, or `nil` when PagerDuty's state is already right.
    public var action: EventAction?
    /// The entry to remember (and write through).
    public var entry: LedgerEntry
}

/// The rules that turn an alert sighting and what the ledger knows into at most one event.
///
/// - firing, never triggered (or resolved before, for an earlier occurrence) → trigger;
/// - firing, already triggered → no call, unless ``LedgerPolicy/retriggerInterval`` has passed or the alert
///   started again after the occurrence we triggered;
/// - resolved, not resolved yet → resolve (also with no entry at all: the dedup_key is deterministic);
/// - resolved, already resolved → no call;
/// - a sighting older than the occurrence the ledger holds (a late duplicate from an HA peer) → no call.
public enum LedgerRules {
    public static func decide(
        existing: LedgerEntry?,
        route: String,
        dedupKey: String,
        status: AlertStatus,
        startsAt: Date?,
        now: Date,
        policy: LedgerPolicy
    ) -> LedgerDecision {
        var entry =
            existing
            ?? LedgerEntry(
                route: route,
                dedupKey: dedupKey,
                lastAction: .resolve,
                lastActionAt: .distantPast,
                startsAt: nil,
                lastSeen: now
            )
        entry.lastSeen = max(entry.lastSeen, now)
        let isOlderOccurrence = startsAt.map { sighted in entry.startsAt.map { sighted < $0 } ?? false } ?? false
        let isNewerOccurrence = startsAt.map { sighted in entry.startsAt.map { sighted > $0 } ?? true } ?? false

        let action: EventAction?
        switch (status, existing?.lastAction) {
        case (.firing, nil):
            action = .trigger
        case (.firing, .resolve?):
            // A firing sighting of the occurrence already resolved is a late duplicate.
            let isSameOccurrence = startsAt != nil && entry.startsAt != nil && !isNewerOccurrence
            action = isSameOccurrence ? nil : .trigger
        case (.firing, .trigger?), (.firing, .acknowledge?):
            if isOlderOccurrence {
                action = nil
            } else if isNewerOccurrence && entry.startsAt != nil {
                action = .trigger
            } else if let interval = policy.retriggerInterval, now.timeIntervalSince(entry.lastActionAt) >= interval.seconds {
                action = .trigger
            } else {
                action = nil
            }
        case (.resolved, .resolve?):
            action = nil
        case (.resolved, _):
            action = isOlderOccurrence ? nil : .resolve
        }

        if let action {
            entry.lastAction = action
            entry.lastActionAt = now
            if let startsAt { entry.startsAt = startsAt }
        }
        return LedgerDecision(action: action, entry: entry)
    }
}

/// Identifies a ledger entry: one alert on one route.
public struct LedgerKey: Sendable, Hashable {
    public var route: String
    public var dedupKey: String

    public init(route: String, dedupKey: String) {
        self.route = route
        self.dedupKey = dedupKey
    }
}

/// The in-memory side of the ledger: fingerprint → last action, written through to the store by its callers
/// and reloaded from it at start. Lookups and updates are O(1); nothing on the hot path scans it.
public final class LedgerCache: Sendable {
    private let entries = Mutex<[LedgerKey: LedgerEntry]>([:])

    public init() {}

    /// The entry for `key`, if remembered.
    public func entry(for key: LedgerKey) -> LedgerEntry? {
        entries.withLock { $0[key] }
    }

    /// Remembers `newEntries`, replacing entries with the same key.
    public func apply(_ newEntries: [LedgerEntry]) {
        entries.withLock { entries in
            for entry in newEntries {
                entries[LedgerKey(route: entry.route, dedupKey: entry.dedupKey)] = entry
            }
        }
    }

    /// Forgets entries last seen before `date`; returns how many.
    @discardableResult
    public func expire(seenBefore date: Date) -> Int {
        entries.withLock { entries in
            let before = entries.count
            entries = entries.filter { $0.value.lastSeen >= date }
            return before - entries.count
        }
    }

    /// How many entries are remembered.
    public var count: Int {
        entries.withLock { $0.count }
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
