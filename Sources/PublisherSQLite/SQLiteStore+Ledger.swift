import Foundation
import GRDB
import PagerDutyEvents
import PublisherCore

extension SQLiteStore {
    public func loadLedger(seenSince date: Date) async throws(StoreError) -> [LedgerEntry] {
        try await reading("loading the ledger") { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT route, dedup_key, last_action, last_action_at, starts_at, last_seen
                    FROM ledger WHERE last_seen >= ? ORDER BY route, dedup_key
                    """,
                arguments: [StoredTime.encode(date)])
            return try Array(rows.map(LedgerRow.entry(from:)))
        }
    }

    @discardableResult
    public func expireLedger(seenBefore date: Date) async throws(StoreError) -> Int {
        try await writing("expiring ledger entries") { db in
            try db.execute(sql: "DELETE FROM ledger WHERE last_seen < ?", arguments: [StoredTime.encode(date)])
            return db.changesCount
        }
    }
}

/// Reads and writes ``LedgerEntry`` rows.
enum LedgerRow {
    /// Inserts an entry, or replaces the one with the same route and dedup_key.
    static let upsertSQL = """
        INSERT INTO ledger (route, dedup_key, last_action, last_action_at, starts_at, last_seen)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (route, dedup_key) DO UPDATE SET
            last_action = excluded.last_action,
            last_action_at = excluded.last_action_at,
            starts_at = excluded.starts_at,
            last_seen = excluded.last_seen
        """

    /// The arguments of ``upsertSQL`` for `entry`.
    static func upsertArguments(_ entry: LedgerEntry) -> StatementArguments {
        [
            entry.route,
            entry.dedupKey,
            entry.lastAction.rawValue,
            StoredTime.encode(entry.lastActionAt),
            entry.startsAt.map(StoredTime.encode),
            StoredTime.encode(entry.lastSeen),
        ]
    }

    /// The entry a `SELECT route, dedup_key, last_action, last_action_at, starts_at, last_seen` row holds.
    static func entry(from row: Row) throws -> LedgerEntry {
        let actionText: String = row["last_action"]
        guard let action = EventAction(rawValue: actionText) else {
            throw StoreError(reason: "a ledger row has the unknown action '\(actionText)'")
        }
        let startsAt: Double? = row["starts_at"]
        return LedgerEntry(
            route: row["route"],
            dedupKey: row["dedup_key"],
            lastAction: action,
            lastActionAt: StoredTime.decode(row["last_action_at"]),
            startsAt: startsAt.map(StoredTime.decode),
            lastSeen: StoredTime.decode(row["last_seen"]))
    }
}
