import Foundation
import GRDB
import PublisherCore

extension SQLiteStore {
    /// How long request times are kept: the limiter looks back 60 s; the margin covers clock steps.
    static let requestTimeRetention: TimeInterval = 120

    public func recordRequest(lane: String, finishedAt date: Date) async throws(StoreError) {
        try await writing("recording a request time") { db in
            try db.cachedStatement(sql: "INSERT INTO request_times (lane, finished_at) VALUES (?, ?)")
                .execute(arguments: [lane, StoredTime.encode(date)])
            try db.cachedStatement(sql: "DELETE FROM request_times WHERE lane = ? AND finished_at < ?")
                .execute(arguments: [lane, StoredTime.encode(date) - Self.requestTimeRetention])
        }
    }

    public func requestTimes(lane: String, since date: Date) async throws(StoreError) -> [Date] {
        try await reading("reading request times") { db in
            try Double.fetchAll(
                db,
                sql: "SELECT finished_at FROM request_times WHERE lane = ? AND finished_at >= ? ORDER BY finished_at",
                arguments: [lane, StoredTime.encode(date)]
            ).map(StoredTime.decode)
        }
    }

    /// Reads the id's time, not just its row: a row older than the window may still be there (the next
    /// ``rememberInboundEvent(id:at:)`` prunes it).
    public func hasInboundEvent(id: String, at now: Date) async throws(StoreError) -> Bool {
        try await reading("looking up a PagerDuty webhook event") { db in
            try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM inbound_events WHERE id = ? AND applied_at >= ?)",
                arguments: [id, StoredTime.encode(InboundEvents.oldestRemembered(at: now))]) ?? false
        }
    }

    /// An id still within the window keeps its first time; one applied before the window (a new delivery of an old
    /// event id) is remembered from `date`, so the prune that follows does not take it.
    public func rememberInboundEvent(id: String, at date: Date) async throws(StoreError) {
        let oldest = StoredTime.encode(InboundEvents.oldestRemembered(at: date))
        try await writing("remembering a PagerDuty webhook event") { db in
            try db.cachedStatement(
                sql: """
                    INSERT INTO inbound_events (id, applied_at) VALUES (?, ?)
                    ON CONFLICT (id) DO UPDATE SET applied_at = excluded.applied_at WHERE applied_at < ?
                    """
            ).execute(arguments: [id, StoredTime.encode(date), oldest])
            try db.cachedStatement(sql: "DELETE FROM inbound_events WHERE applied_at < ?").execute(arguments: [oldest])
        }
    }

    /// One writer (this process, under the file lock): the ledger cache is exact.
    public func decide<Outcome: Sendable>(
        keys: Set<LedgerKey>,
        cache: LedgerCache,
        _ decide: @escaping LedgerDecider<Outcome>
    ) async throws -> Outcome {
        try await decideFromCache(keys: keys, cache: cache, decide)
    }
}
