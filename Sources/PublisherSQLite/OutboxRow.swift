import Foundation
import GRDB
import PagerDutyEvents
import PublisherCore

/// Reads and writes outbox and dead-letter rows.
enum OutboxRow {
    /// The columns the outbox and dead-letter tables share, in this order.
    static let columns = "id, route, kind, dedup_key, severity, body, created_at, attempts, last_error, trace_context"

    /// The columns of a ``PendingMessageSummary``, all in the index `outbox_route_summary`.
    static let summaryColumns = "id, kind, dedup_key, severity"

    /// How many ids one `IN (…)` query binds: well below SQLite's smallest default parameter limit (999).
    static let idsPerQuery = 500

    /// Appends a message; SQLite gives the id.
    static let insertSQL = """
        INSERT INTO outbox (route, kind, dedup_key, severity, body, created_at, trace_context) VALUES (?, ?, ?, ?, ?, ?, ?)
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
            message.traceContext,
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

    /// The summary a `SELECT <summaryColumns>` row of the outbox holds.
    static func summary(from row: Row) throws -> PendingMessageSummary {
        let id: Int64 = row["id"]
        return PendingMessageSummary(
            id: id,
            kind: try kind(from: row, id: id),
            dedupKey: row["dedup_key"],
            severity: try severity(from: row, id: id))
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
        let body: Data = row["body"]
        return OutboxMessage(
            route: row["route"],
            kind: try kind(from: row, id: id),
            dedupKey: row["dedup_key"],
            severity: try severity(from: row, id: id),
            body: body,
            createdAt: StoredTime.decode(row["created_at"]),
            traceContext: row["trace_context"])
    }

    private static func kind(from row: Row, id: Int64) throws -> OutboxKind {
        let kindText: String = row["kind"]
        guard let kind = OutboxKind(rawValue: kindText) else {
            throw StoreError(reason: "message \(id) has the unknown kind '\(kindText)'")
        }
        return kind
    }

    private static func severity(from row: Row, id: Int64) throws -> Severity? {
        let severityText: String? = row["severity"]
        guard let severityText else { return nil }
        guard let severity = Severity(rawValue: severityText) else {
            throw StoreError(reason: "message \(id) has the unknown severity '\(severityText)'")
        }
        return severity
    }
}
