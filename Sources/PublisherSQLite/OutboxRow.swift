import Foundation
import GRDB
import PagerDutyEvents
import PublisherCore

/// Reads and writes outbox and dead-letter rows.
enum OutboxRow {
    /// The columns the outbox and dead-letter tables share, in this order.
    static let columns = "id, route, kind, dedup_key, severity, body, created_at, attempts, last_error"

    /// Appends a message; SQLite gives the id.
    static let insertSQL = """
        INSERT INTO outbox (route, kind, dedup_key, severity, body, created_at) VALUES (?, ?, ?, ?, ?, ?)
        """

    /// The arguments of ``insertSQL`` for `message`.
    static func insertArguments(_ message: OutboxMessage) -> StatementArguments {
        [
            message.route,
            message.kind.rawValue,
            message.dedupKey,
            message.severity?.rawValue,
            message.body,
            StoredTime.encode(message.createdAt),
        ]
    }

    /// The record a `SELECT <columns>` row of the outbox holds.
    static func record(from row: Row) throws -> OutboxRecord {
        OutboxRecord(
            id: row["id"],
            message: try message(from: row),
            attempts: row["attempts"],
            lastError: row["last_error"])
    }

    /// The dead letter a `SELECT <columns>, reason, failed_at` row of the dead letters holds.
    static func deadLetter(from row: Row) throws -> DeadLetter {
        DeadLetter(
            id: row["id"],
            message: try message(from: row),
            attempts: row["attempts"],
            reason: row["reason"],
            failedAt: StoredTime.decode(row["failed_at"]))
    }

    private static func message(from row: Row) throws -> OutboxMessage {
        let id: Int64 = row["id"]
        let kindText: String = row["kind"]
        guard let kind = OutboxKind(rawValue: kindText) else {
            throw StoreError(reason: "message \(id) has the unknown kind '\(kindText)'")
        }
        let severityText: String? = row["severity"]
        var severity: Severity?
        if let severityText {
            guard let known = Severity(rawValue: severityText) else {
                throw StoreError(reason: "message \(id) has the unknown severity '\(severityText)'")
            }
            severity = known
        }
        let body: Data = row["body"]
        return OutboxMessage(
            route: row["route"],
            kind: kind,
            dedupKey: row["dedup_key"],
            severity: severity,
            body: body,
            createdAt: StoredTime.decode(row["created_at"]))
    }
}
