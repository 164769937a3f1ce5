import Foundation
import GRDB
import PublisherCore

extension SQLiteStore {
    @discardableResult
    public func commit(ledger: [LedgerEntry], outbox: [OutboxMessage]) async throws(StoreError) -> [Int64] {
        if ledger.isEmpty && outbox.isEmpty { return [] }
        return try await writing(
            "committing \(ledger.count) ledger entries and \(outbox.count) outbox messages"
        ) { db in
            let upsert = try db.cachedStatement(sql: LedgerRow.upsertSQL)
            for entry in ledger {
                try upsert.execute(arguments: LedgerRow.upsertArguments(entry))
            }
            let insert = try db.cachedStatement(sql: OutboxRow.insertSQL)
            var ids: [Int64] = []
            ids.reserveCapacity(outbox.count)
            for message in outbox {
                try insert.execute(arguments: OutboxRow.insertArguments(message))
                ids.append(db.lastInsertedRowID)
            }
            return ids
        }
    }

    public func routesWithPendingMessages() async throws(StoreError) -> [String] {
        try await reading("listing routes with pending messages") { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT route FROM outbox ORDER BY route")
        }
    }

    public func pendingMessages(route: String, limit: Int) async throws(StoreError) -> [OutboxRecord] {
        guard limit > 0 else { return [] }
        return try await reading("reading pending messages") { db in
            let rows = try Row.fetchCursor(
                db,
                sql: "SELECT \(OutboxRow.columns) FROM outbox WHERE route = ? ORDER BY id LIMIT ?",
                arguments: [route, limit])
            return try Array(rows.map(OutboxRow.record(from:)))
        }
    }

    /// Reads only the index `outbox_route_summary` (it covers the query), never a body.
    public func pendingSummaries(route: String, limit: Int) async throws(StoreError) -> [PendingMessageSummary] {
        guard limit > 0 else { return [] }
        return try await reading("reading pending message summaries") { db in
            let rows = try Row.fetchCursor(
                db,
                sql: "SELECT \(OutboxRow.summaryColumns) FROM outbox WHERE route = ? ORDER BY id LIMIT ?",
                arguments: [route, limit])
            return try Array(rows.map(OutboxRow.summary(from:)))
        }
    }

    /// Reads the ids in groups (SQLite bounds the number of parameters of a statement), in one transaction.
    public func pendingMessages(ids: [Int64]) async throws(StoreError) -> [OutboxRecord] {
        if ids.isEmpty { return [] }
        return try await reading("reading \(ids.count) pending messages") { db in
            var found: [Int64: OutboxRecord] = [:]
            var start = ids.startIndex
            while start < ids.endIndex {
                let group = ids[start..<min(start + OutboxRow.idsPerQuery, ids.endIndex)]
                let placeholders = Array(repeating: "?", count: group.count).joined(separator: ", ")
                let rows = try Row.fetchCursor(
                    db,
                    sql: "SELECT \(OutboxRow.columns) FROM outbox WHERE id IN (\(placeholders))",
                    arguments: StatementArguments(Array(group)))
                while let row = try rows.next() {
                    let record = try OutboxRow.record(from: row)
                    found[record.id] = record
                }
                start = group.endIndex
            }
            return ids.compactMap { found[$0] }
        }
    }

    /// Deletes the message; a message already gone is not an error (delivery is at-least-once).
    public func markDelivered(id: Int64) async throws(StoreError) {
        try await writing("marking message \(id) delivered") { db in
            try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [id])
        }
    }

    /// Counts the attempt; does nothing when the message is no longer pending.
    public func recordFailedAttempt(id: Int64, error: String) async throws(StoreError) {
        try await writing("recording a failed attempt of message \(id)") { db in
            try db.execute(
                sql: "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                arguments: [error, id])
        }
    }

    /// Moves the message with its attempt count and last error; does nothing when it is no longer pending.
    public func moveToDeadLetters(id: Int64, reason: String, at date: Date) async throws(StoreError) {
        try await writing("moving message \(id) to the dead letters") { db in
            try db.execute(
                sql: """
                    INSERT INTO dead_letters (\(OutboxRow.columns), reason, failed_at)
                    SELECT \(OutboxRow.columns), ?, ? FROM outbox WHERE id = ?
                    """,
                arguments: [reason, StoredTime.encode(date), id])
            try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [id])
        }
    }

    public func deadLetters(limit: Int) async throws(StoreError) -> [DeadLetter] {
        guard limit > 0 else { return [] }
        return try await reading("reading dead letters") { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT \(OutboxRow.columns), reason, failed_at FROM dead_letters
                    ORDER BY failed_at DESC, id DESC LIMIT ?
                    """,
                arguments: [limit])
            return try Array(rows.map(OutboxRow.deadLetter(from:)))
        }
    }

    public func queueStats() async throws(StoreError) -> QueueStats {
        try await reading("reading queue statistics") { db in
            let outbox = try Row.fetchOne(db, sql: "SELECT COUNT(*), MIN(created_at) FROM outbox")
            let deadLetters = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM dead_letters") ?? 0
            let oldest: Double? = outbox?[1]
            var incidents: [IncidentState.Status: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: "SELECT incident_status, COUNT(*) FROM ledger WHERE incident_status IS NOT NULL GROUP BY incident_status")
            {
                if let status = IncidentState.Status(rawValue: row[0]) { incidents[status] = row[1] }
            }
            return QueueStats(
                pending: outbox?[0] ?? 0,
                oldestPendingCreatedAt: oldest.map(StoredTime.decode),
                deadLetters: deadLetters,
                incidents: incidents)
        }
    }
}
