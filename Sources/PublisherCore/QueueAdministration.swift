import Foundation

/// Queue figures of one route.
public struct RouteQueueFigures: Sendable, Hashable {
    public var route: String
    /// Messages waiting for delivery.
    public var pending: Int
    /// Messages PagerDuty refused.
    public var deadLetters: Int
    /// When the oldest waiting message was accepted.
    public var oldestPendingCreatedAt: Date?

    public init(route: String, pending: Int, deadLetters: Int, oldestPendingCreatedAt: Date?) {
        self.route = route
        self.pending = pending
        self.deadLetters = deadLetters
        self.oldestPendingCreatedAt = oldestPendingCreatedAt
    }
}

/// What `queue purge` deletes.
public enum QueuePurgeScope: String, Sendable, Hashable, CaseIterable {
    /// Messages waiting for delivery.
    case pending
    /// Dead letters.
    case dead
    /// Both.
    case all
}

/// The operator's view of the outbox: figures, listings and repairs (`pagerduty-publisher queue ...`).
///
/// Safe while the daemon runs: every call is one short transaction, and a running dispatcher picks up
/// requeued messages at its next poll.
public protocol QueueAdministration: Sendable {
    /// Pending and dead-letter counts per route, sorted by route.
    func routeQueueFigures() async throws -> [RouteQueueFigures]

    /// Pending messages of every route, oldest first, at most `limit`.
    func pendingMessages(limit: Int) async throws -> [OutboxRecord]

    /// Dead letters, newest first, at most `limit`.
    func deadLetters(limit: Int) async throws -> [DeadLetter]

    /// Ledger entries with a state PagerDuty reported for their incident (``LedgerEntry/incident``), the latest
    /// change first (ties by route, then dedup_key); only those whose incident is `status` when it is given; at
    /// most `limit`.
    func incidentEntries(status: IncidentState.Status?, limit: Int) async throws -> [LedgerEntry]

    /// Moves dead letters back to the end of the outbox with their attempts reset: those with `ids`, or all
    /// when `ids` is `nil`. Returns how many moved.
    func requeueDeadLetters(ids: [Int64]?) async throws -> Int

    /// Deletes what `scope` names; returns how many messages were deleted.
    func purge(_ scope: QueuePurgeScope) async throws -> Int
}
