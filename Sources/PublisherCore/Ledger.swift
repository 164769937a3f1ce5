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
/// - firing, acknowledged (a silence or inhibition seen through the Alertmanager API) → trigger: Alertmanager
///   leaves muted alerts out of its webhooks, so a webhook naming the alert means it is no longer muted;
/// - firing, resolved by the Alertmanager sync (silenced, inhibited or reconciled) → trigger;
/// - resolved, not resolved yet → resolve (also with no entry at all: the dedup_key is deterministic), or, for a
///   flapping alert when damping is on, a resolve held back until ``LedgerEntry/resolveHeldUntil``;
/// - firing while a resolve is held → the hold is dropped and nothing is sent (the incident never closed);
/// - resolved, already resolved → no call;
/// - a sighting older than the occurrence the ledger holds (a late duplicate from an HA peer) → no call.
public enum LedgerRules {
    /// Two sightings whose `startsAt` differ by less than this are the same occurrence. Alertmanager writes
    /// nanoseconds, PostgreSQL keeps microseconds: without it, every repeated notification of an alert read back
    /// from PostgreSQL looked like a new occurrence and triggered again. A new occurrence starts at least one rule
    /// evaluation (seconds) later.
    public static let sameOccurrenceTolerance: TimeInterval = 0.001

    public static func decide(
        existing: LedgerEntry?,
        route: String,
        dedupKey: String,
        status: AlertStatus,
        startsAt: Date?,
        now: Date,
        policy: LedgerPolicy,
        subject: LedgerSubject = .alert,
        holdResolveFor hold: Duration? = nil
    ) -> LedgerDecision {
        var entry =
            existing
            ?? LedgerEntry(
                route: route,
                dedupKey: dedupKey,
                lastAction: .resolve,
                lastActionAt: .distantPast,
                startsAt: nil,
                lastSeen: now,
                subject: subject
            )
        entry.lastSeen = max(entry.lastSeen, now)
        entry.subject = subject
        let tolerance = Self.sameOccurrenceTolerance
        let isOlderOccurrence = startsAt.map { sighted in entry.startsAt.map { sighted < $0 - tolerance } ?? false } ?? false
        let isNewerOccurrence = startsAt.map { sighted in entry.startsAt.map { sighted > $0 + tolerance } ?? true } ?? false

        if entry.resolveHeldUntil != nil, entry.lastAction != .resolve {
            // A damped resolve is pending, so the incident is still open: firing again keeps it open for free.
            if status == .firing && !isOlderOccurrence {
                entry.resolveHeldUntil = nil
                if let startsAt { entry.startsAt = startsAt }
            }
            return LedgerDecision(action: nil, entry: entry)
        }

        let action: EventAction?
        switch (status, existing?.lastAction) {
        case (.firing, nil):
            action = .trigger
        case (.firing, .resolve?):
            // A firing sighting of the occurrence a webhook already resolved is a late duplicate; one the sync
            // resolved (silenced, inhibited, reconciled) is back.
            let isSameOccurrence = startsAt != nil && entry.startsAt != nil && !isNewerOccurrence
            action = isSameOccurrence && entry.cause == .webhook ? nil : .trigger
        case (.firing, .acknowledge?):
            action = isOlderOccurrence ? nil : .trigger
        case (.firing, .trigger?):
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
            if isOlderOccurrence {
                action = nil
            } else if let hold, existing != nil {
                entry.resolveHeldUntil = now.addingTimeInterval(hold.seconds)
                action = nil
            } else {
                action = .resolve
            }
        }

        if let action {
            entry.lastAction = action
            entry.lastActionAt = now
            entry.cause = .webhook
            if let startsAt { entry.startsAt = startsAt }
        }
        return LedgerDecision(action: action, entry: entry)
    }

    /// The decision for an Alertmanager group on a route with `incident_per: group`: one incident for the
    /// group, firing while any of its alerts fires, resolved when all are. A trigger is also sent when an alert
    /// joins the firing set, so the incident shows it; alerts leaving the set cost no call.
    public static func decideGroup(
        existing: LedgerEntry?,
        route: String,
        dedupKey: String,
        firingMembers: Set<String>,
        now: Date,
        policy: LedgerPolicy,
        holdResolveFor hold: Duration? = nil
    ) -> LedgerDecision {
        let isFiring = !firingMembers.isEmpty
        var previousMembers: Set<String> = []
        if case .group(let members)? = existing?.subject { previousMembers = members }
        var decision = decide(
            existing: existing,
            route: route,
            dedupKey: dedupKey,
            status: isFiring ? .firing : .resolved,
            startsAt: nil,
            now: now,
            policy: policy,
            subject: .group(members: isFiring ? firingMembers : previousMembers),
            holdResolveFor: hold
        )
        let hasNewMember = !firingMembers.isSubset(of: previousMembers)
        if isFiring, decision.action == nil, hasNewMember, decision.entry.lastAction == .trigger,
            decision.entry.resolveHeldUntil == nil
        {
            decision.action = .trigger
            decision.entry.lastActionAt = now
            decision.entry.cause = .webhook
        }
        return decision
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
/// and reloaded from it at start. Lookups and updates are O(1); nothing on the webhook path scans it.
///
/// The entries are spread over ``shardCount`` dictionaries, each behind its own lock. A dictionary that outgrows
/// its storage rehashes every entry while its lock is held, and ``expire(seenBefore:)`` walks every entry: with
/// one dictionary of 500,000 entries either held every lookup, and with them the threads of the Swift
/// concurrency pool, for over half a second. A shard holds a 64th of the entries, so it grows and is swept in a
/// 64th of the time, and only lookups of that shard wait.
///
/// An ``apply(_:)`` of several entries updates the shards one after another, so a reader can see some of them
/// before the others; the writers decide under the ledger gate, which serialises them.
public final class LedgerCache: Sendable {
    private struct Shard {
        var entries: [LedgerKey: LedgerEntry] = [:]
        /// Entries with a damped resolve pending, so releasing them never scans everything.
        var held: Set<LedgerKey> = []

        mutating func remember(_ entry: LedgerEntry) {
            let key = entry.key
            entries[key] = entry
            if entry.resolveHeldUntil != nil {
                held.insert(key)
            } else {
                held.remove(key)
            }
        }
    }

    /// One shard behind its lock (a `Mutex` cannot be an array element itself).
    private final class LockedShard: Sendable {
        private let shard = Mutex(Shard())

        func withLock<T>(_ body: (inout Shard) -> T) -> T {
            shard.withLock { body(&$0) }
        }
    }

    /// How many shards the entries are spread over.
    public static let shardCount = 64

    private let shards: [LockedShard]

    public init() {
        shards = (0..<Self.shardCount).map { _ in LockedShard() }
    }

    private func shard(for key: LedgerKey) -> Int {
        // `hashValue` is seeded per process, which only changes which shard a key lands in.
        Int(UInt(bitPattern: key.hashValue) % UInt(Self.shardCount))
    }

    /// The entry for `key`, if remembered.
    public func entry(for key: LedgerKey) -> LedgerEntry? {
        shards[shard(for: key)].withLock { $0.entries[key] }
    }

    /// Remembers `newEntries`, replacing entries with the same key.
    public func apply(_ newEntries: [LedgerEntry]) {
        // One short, uncontended lock per entry: measured as fast as grouping a batch by shard first.
        for entry in newEntries {
            shards[shard(for: entry.key)].withLock { $0.remember(entry) }
        }
    }

    /// Forgets entries last seen before `date`, except those with a resolve still held; returns how many.
    @discardableResult
    public func expire(seenBefore date: Date) -> Int {
        shards.reduce(0) { forgotten, shard in
            forgotten + shard.withLock { shard in
                let before = shard.entries.count
                shard.entries = shard.entries.filter { $0.value.lastSeen >= date || $0.value.resolveHeldUntil != nil }
                return before - shard.entries.count
            }
        }
    }

    /// The entries `isIncluded` picks (a copy: the Alertmanager sync walks it without holding a lock).
    public func entries(where isIncluded: (LedgerEntry) -> Bool) -> [LedgerEntry] {
        shards.flatMap { shard in
            shard.withLock { shard in shard.entries.values.filter(isIncluded) }
        }
    }

    /// Entries whose held resolve is due at `date`.
    public func heldResolves(dueAt date: Date) -> [LedgerEntry] {
        shards.flatMap { shard in
            shard.withLock { shard in
                shard.held.compactMap { key in
                    guard let entry = shard.entries[key], let due = entry.resolveHeldUntil, due <= date else {
                        return nil
                    }
                    return entry
                }
            }
        }
    }

    /// How many entries are remembered.
    public var count: Int {
        shards.reduce(0) { count, shard in count + shard.withLock { $0.entries.count } }
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
