import AlertmanagerModels
import Foundation
import Logging
import PublisherCore

/// A publisher as the daemon wires it (one default route, the default mapper and ledger policy, the system
/// clock), over a store chosen by the benchmark and a fresh in-memory ledger.
public struct IngestFixture: Sendable {
    /// The publisher under measurement.
    public let publisher: AlertPublisher
    /// Its in-memory ledger, to check what a run left behind.
    public let ledger: LedgerCache

    /// Wires a publisher that writes through `store`.
    public init(store: any PublisherStore) {
        ledger = LedgerCache()
        publisher = AlertPublisher(
            store: store,
            routes: RouteTable(routes: [Route(name: RouteTable.defaultRouteName, routingKey: Self.routingKey)]),
            ledger: ledger,
            mapper: EventMapper(),
            policy: LedgerPolicy(),
            clock: SystemClock(),
            signal: WorkSignal(),
            logger: Logger(label: "benchmark", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// A well-formed, fake routing key (32 characters).
    public static let routingKey = "R0123456789ABCDEF0123456789ABCDE"
}

/// Thrown when a benchmarked operation did not do what the benchmark measures (so a figure never comes from a
/// run that silently did less work).
public struct BenchmarkCheckFailure: Error, CustomStringConvertible {
    /// What was expected and what happened.
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension IngestResult {
    /// Throws unless every alert of the webhook was queued (`queued`) or none was (`!queued`).
    public func expect(allQueued queued: Bool) throws {
        let expected = queued ? alerts : 0
        guard self.queued == expected, unrouted == 0 else {
            throw BenchmarkCheckFailure("expected \(expected) of \(alerts) alerts queued, got \(self)")
        }
    }
}

/// A store that keeps nothing and answers at once: isolates the publisher's CPU work (ledger decisions,
/// mapping, encoding) from SQLite.
public final class DiscardingStore: PublisherStore {
    public init() {}

    public func loadLedger(seenSince date: Date) async throws -> [LedgerEntry] { [] }

    @discardableResult
    public func commit(ledger: [LedgerEntry], outbox: [OutboxMessage]) async throws -> [Int64] {
        outbox.indices.map { Int64($0) }
    }

    public func routesWithPendingMessages() async throws -> [String] { [] }
    public func pendingMessages(route: String, limit: Int) async throws -> [OutboxRecord] { [] }
    public func pendingSummaries(route: String, limit: Int) async throws -> [PendingMessageSummary] { [] }
    public func pendingMessages(ids: [Int64]) async throws -> [OutboxRecord] { [] }
    public func markDelivered(id: Int64) async throws {}
    public func recordFailedAttempt(id: Int64, error: String) async throws {}
    public func moveToDeadLetters(id: Int64, reason: String, at date: Date) async throws {}
    public func deadLetters(limit: Int) async throws -> [DeadLetter] { [] }

    public func queueStats() async throws -> QueueStats {
        QueueStats(pending: 0, oldestPendingCreatedAt: nil, deadLetters: 0)
    }

    @discardableResult
    public func expireLedger(seenBefore date: Date) async throws -> Int { 0 }
    public func checkWritable() async throws {}

    public func decide<Outcome: Sendable>(
        keys: Set<LedgerKey>, cache: LedgerCache, _ decide: @escaping LedgerDecider<Outcome>
    ) async throws -> Outcome {
        try await decideFromCache(keys: keys, cache: cache, decide)
    }

    public func recordRequest(lane: String, finishedAt date: Date) async throws {}
    public func requestTimes(lane: String, since date: Date) async throws -> [Date] { [] }
    public func hasInboundEvent(id: String, at now: Date) async throws -> Bool { false }
    public func rememberInboundEvent(id: String, at date: Date) async throws {}
}
