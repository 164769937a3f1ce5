import Foundation
import GRDB
import PublisherCore

extension SQLiteStore: QueueAdministration {
    public func routeQueueFigures() async throws(StoreError) -> [RouteQueueFigures] {
        try await reading("reading queue figures per route") { db in
            var figures: [String: RouteQueueFigures] = [:]
            let pending = try Row.fetchAll(db, sql: "SELECT route, COUNT(*), MIN(created_at) FROM outbox GROUP BY route")
            for row in pending {
                let route: String = row[0]
                let oldest: Double? = row[2]
                figures[route] = RouteQueueFigures(
                    route: route, pending: row[1], deadLetters: 0, oldestPendingCreatedAt: oldest.map(StoredTime.decode))
            }
            let dead = try Row.fetchAll(db, sql: "SELECT route, COUNT(*) FROM dead_letters GROUP BY route")
            for row in dead {
                let route: String = row[0]
                figures[route, default: RouteQueueFigures(route: route, pending: 0, deadLetters: 0, oldestPendingCreatedAt: nil)]
                    .deadLetters = row[1]
            }
            return figures.values.sorted { $0.route < $1.route }
        }
    }

    public func pendingMessages(limit: Int) async throws(StoreError) -> [OutboxRecord] {
        guard limit > 0 else { return [] }
        return try await reading("listing pending messages") { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT \(OutboxRow.columns) FROM outbox ORDER BY id LIMIT ?", arguments: [limit])
            return try Array(rows.map(OutboxRow.record(from:)))
        }
    }

    /// One read through the partial index `ledger_incident_status`.
    public func incidentEntries(status: IncidentState.Status?, limit: Int) async throws(StoreError) -> [LedgerEntry] {
        guard limit > 0 else { return [] }
        return try await reading("listing incidents PagerDuty reported") { db in
            let selection = status == nil ? "incident_status IS NOT NULL" : "incident_status = ?"
            var arguments = StatementArguments()
            if let status { arguments += [status.rawValue] }
            arguments += [limit]
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT \(LedgerRow.columns) FROM ledger WHERE \(selection)
                    ORDER BY incident_changed_at DESC, route, dedup_key LIMIT ?
                    """,
                arguments: arguments)
            return try Array(rows.map(LedgerRow.entry(from:)))
        }
    }

    public func requeueDeadLetters(ids: [Int64]?) async throws(StoreError) -> Int {
        if let ids, ids.isEmpty { return 0 }
        return try await writing("moving dead letters back to the outbox") { db in
            let selection: String
            var arguments = StatementArguments()
            if let ids {
                selection = "WHERE id IN (\(databaseQuestionMarks(count: ids.count)))"
                arguments = StatementArguments(ids)
            } else {
                selection = ""
            }
            try db.execute(
                sql: """
                    INSERT INTO outbox (route, kind, dedup_key, severity, body, created_at, trace_context)
                    SELECT route, kind, dedup_key, severity, body, created_at, trace_context FROM dead_letters \(selection) ORDER BY id
                    """,
                arguments: arguments)
            let moved = db.changesCount
            try db.execute(sql: "DELETE FROM dead_letters \(selection)", arguments: arguments)
            return moved
        }
    }

    public func purge(_ scope: QueuePurgeScope) async throws(StoreError) -> Int {
        try await writing("purging \(scope.rawValue) messages") { db in
            var deleted = 0
            if scope == .pending || scope == .all {
                try db.execute(sql: "DELETE FROM outbox")
                deleted += db.changesCount
            }
            if scope == .dead || scope == .all {
                try db.execute(sql: "DELETE FROM dead_letters")
                deleted += db.changesCount
            }
            return deleted
        }
    }
}
