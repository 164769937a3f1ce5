import Foundation
import PagerDutyEvents

/// Work that one replica at a time may do: deliver a routing key's events, or run the Alertmanager sync.
public enum OwnedWork: Sendable, Hashable, CustomStringConvertible {
    /// Delivering the events of one dispatcher lane; `lane` is ``DeliveryLaneName`` of its routing key, never
    /// the key.
    case delivery(lane: String)
    /// Polling the Alertmanagers and acting on silences, inhibitions and vanished alerts.
    case alertmanagerSync

    /// The name stored for the work (a lease row, a log line, a metric label). Never a secret.
    public var description: String {
        switch self {
        case .delivery(let lane): "delivery:\(lane)"
        case .alertmanagerSync: "alertmanager-sync"
        }
    }
}

/// Decides which replica does each piece of ``OwnedWork``. Per-dedup_key order and the rate limit hold across
/// replicas because only the owner of a routing key delivers its events.
public protocol WorkOwnership: Sendable {
    /// Whether this process owns `work` now, taking it when nobody holds it (or its holder stopped renewing).
    /// Cheap when already owned: callers ask before every delivery.
    func claim(_ work: OwnedWork) async -> Bool

    /// Forgets that this process owns `work`: the store refused a write that needs it (``WorkNoLongerOwned``), so
    /// another process holds it now. The next ``claim(_:)`` asks again instead of trusting what it remembered.
    func relinquish(_ work: OwnedWork) async
}

/// A store refused a write that only the owner of `work` may make (recording a delivery request's start): another
/// process owns it now. Nothing was written; the caller must not do the work.
public struct WorkNoLongerOwned: Error, CustomStringConvertible, Sendable {
    /// The work this process no longer owns.
    public let work: OwnedWork

    public init(work: OwnedWork) {
        self.work = work
    }

    public var description: String { "This replica no longer owns \(work); another replica does the work now." }
}

/// The ownership of a store that one process writes (SQLite, which one process locks): it
/// owns everything.
public struct SoleReplica: WorkOwnership {
    public init() {}

    public func claim(_ work: OwnedWork) async -> Bool { true }

    public func relinquish(_ work: OwnedWork) async {}
}

/// The name of a dispatcher lane, safe to store and print: a short SHA-256 of the routing key, or the name of
/// a route that is no longer configured.
public enum DeliveryLaneName {
    /// The lane of every configured route whose routing key is `routingKey`.
    public static func forRoutingKey(_ routingKey: String) -> String {
        "key-" + TextDigest.sha256Hex(routingKey).prefix(16)
    }

    /// The lane that dead-letters the events of `route`, which is no longer configured.
    public static func forUnconfiguredRoute(_ route: String) -> String {
        "route-" + route
    }
}
