import Foundation
import PostgresNIO
import PublisherCore

extension PostgresStore: QueueAdministration {
    public func routeQueueFigures() async throws(StoreError) -> [RouteQueueFigures] {
        try await fetch(
            "reading queue figures per route", timeout: bulkTimeout,
            """
            SELECT route, sum(pending)::bigint, sum(dead)::bigint, min(oldest) FROM (
                SELECT route, count(*) AS pending, 0 AS dead, min(created_at) AS oldest FROM outbox GROUP BY route
                UNION ALL
                SELECT route, 0, count(*), NULL FROM dead_letters GROUP BY route
            ) figures GROUP BY route ORDER BY route
            """,
            { row in
                let (route, pending, dead, oldest) = try row.decode((String, Int, Int, Date?).self)
                return RouteQueueFigures(
                    route: route, pending: pending, deadLetters: dead, oldestPendingCreatedAt: oldest)
            })
    }

    public func pendingMessages(limit: Int) async throws(StoreError) -> [OutboxRecord] {
        guard limit > 0 else { return [] }
        return try await fetch(
            "listing pending messages", timeout: bulkTimeout,
            "SELECT \(unescaped: OutboxRows.columns) FROM outbox ORDER BY id LIMIT \(limit)",
            OutboxRows.record(from:))
    }

    /// One read through the partial index `ledger_incident_status`.
    public func incidentEntries(status: IncidentState.Status?, limit: Int) async throws(StoreError) -> [LedgerEntry] {
        guard limit > 0 else { return [] }
        let query: PostgresQuery =
            if let status {
                """
                SELECT \(unescaped: LedgerRows.columns) FROM ledger WHERE incident_status = \(status.rawValue)
                ORDER BY incident_changed_at DESC, route, dedup_key LIMIT \(limit)
                """
            } else {
                """
                SELECT \(unescaped: LedgerRows.columns) FROM ledger WHERE incident_status IS NOT NULL
                ORDER BY incident_changed_at DESC, route, dedup_key LIMIT \(limit)
                """
            }
        return try await fetch("listing incidents PagerDuty reported", timeout: bulkTimeout, query, LedgerRows.entry(from:))
    }

    /// Moves the dead letters to the end of the outbox (new ids, in the order of their old ones, attempts reset)
    /// and notifies their routes, in one transaction.
    public func requeueDeadLetters(ids: [Int64]?) async throws(StoreError) -> Int {
        if let ids, ids.isEmpty { return 0 }
        return try await transaction("moving dead letters back to the outbox", timeout: bulkTimeout) {
            connection, logger in
            let selection: PostgresQuery =
                if let ids {
                    "DELETE FROM dead_letters WHERE id = ANY(\(ids)::bigint[]) RETURNING \(unescaped: OutboxRows.columns)"
                } else {
                    "DELETE FROM dead_letters RETURNING \(unescaped: OutboxRows.columns)"
                }
            var routes: [String] = []
            let rows = try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        WITH moved AS (\(selection.sql))
                        INSERT INTO outbox (route, kind, dedup_key, severity, body, created_at, trace_context)
                        SELECT route, kind, dedup_key, severity, body, created_at, trace_context FROM moved ORDER BY id
                        RETURNING route
                        """,
                    binds: selection.binds),
                logger: logger)
            for try await route in rows.decode(String.self) { routes.append(route) }
            try await Self.notify(routes: routes, on: connection, logger: logger)
            return routes.count
        }
    }

    public func purge(_ scope: QueuePurgeScope) async throws(StoreError) -> Int {
        try await transaction("purging \(scope.rawValue) messages", timeout: bulkTimeout) { connection, logger in
            var deleted = 0
            if scope == .pending || scope == .all {
                let rows = try await connection.query(
                    "WITH gone AS (DELETE FROM outbox RETURNING 1) SELECT count(*) FROM gone", logger: logger)
                for try await count in rows.decode(Int.self) { deleted += count }
            }
            if scope == .dead || scope == .all {
                let rows = try await connection.query(
                    "WITH gone AS (DELETE FROM dead_letters RETURNING 1) SELECT count(*) FROM gone", logger: logger)
                for try await count in rows.decode(Int.self) { deleted += count }
            }
            return deleted
        }
    }
}
