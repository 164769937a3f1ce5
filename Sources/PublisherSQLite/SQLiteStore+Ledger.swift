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
                    SELECT \(LedgerRow.columns)
                    FROM ledger WHERE last_seen >= ? ORDER BY route, dedup_key
                    """,
                arguments: [StoredTime.encode(date)])
            return try Array(rows.map(LedgerRow.entry(from:)))
        }
    }

    @discardableResult
    public func expireLedger(seenBefore date: Date) async throws(StoreError) -> Int {
        try await writing("expiring ledger entries") { db in
            try db.execute(sql: "DELETE FROM ledger WHERE last_seen < ? AND resolve_held_until IS NULL", arguments: [StoredTime.encode(date)])
            return db.changesCount
        }
    }
}

/// Reads and writes ``LedgerEntry`` rows.
enum LedgerRow {
    /// The columns ``entry(from:)`` reads, in a `SELECT`.
    static let columns = """
        route, dedup_key, last_action, last_action_at, starts_at, last_seen,
        subject, members, cause, summary, source, severity, resolve_held_until,
        incident_status, incident_changed_at, incident_changed_by, incident_id, incident_url,
        own_silence_purpose, own_silence_answering, own_silence_ends_at, own_silence_ids
        """

    /// Inserts an entry, or replaces the one with the same route and dedup_key.
    static let upsertSQL = """
        INSERT INTO ledger (\(columns))
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (route, dedup_key) DO UPDATE SET
            last_action = excluded.last_action,
            last_action_at = excluded.last_action_at,
            starts_at = excluded.starts_at,
            last_seen = excluded.last_seen,
            subject = excluded.subject,
            members = excluded.members,
            cause = excluded.cause,
            summary = excluded.summary,
            source = excluded.source,
            severity = excluded.severity,
            resolve_held_until = excluded.resolve_held_until,
            incident_status = excluded.incident_status,
            incident_changed_at = excluded.incident_changed_at,
            incident_changed_by = excluded.incident_changed_by,
            incident_id = excluded.incident_id,
            incident_url = excluded.incident_url,
            own_silence_purpose = excluded.own_silence_purpose,
            own_silence_answering = excluded.own_silence_answering,
            own_silence_ends_at = excluded.own_silence_ends_at,
            own_silence_ids = excluded.own_silence_ids
        """

    /// The arguments of ``upsertSQL`` for `entry`.
    static func upsertArguments(_ entry: LedgerEntry) -> StatementArguments {
        let (subject, members) = encode(entry.subject)
        return [
            entry.route,
            entry.dedupKey,
            entry.lastAction.rawValue,
            StoredTime.encode(entry.lastActionAt),
            entry.startsAt.map(StoredTime.encode),
            StoredTime.encode(entry.lastSeen),
            subject,
            members,
            entry.cause.rawValue,
            entry.remembered?.summary,
            entry.remembered?.source,
            entry.remembered?.severity.rawValue,
            entry.resolveHeldUntil.map(StoredTime.encode),
            entry.incident?.status.rawValue,
            entry.incident.map { StoredTime.encode($0.changedAt) },
            entry.incident?.changedBy,
            entry.incident?.incidentID,
            entry.incident?.incidentURL,
            entry.ownSilence?.purpose.rawValue,
            entry.ownSilence.map { StoredTime.encode($0.answering) },
            entry.ownSilence.map { StoredTime.encode($0.endsAt) },
            entry.ownSilence.map { $0.storedIDs },
        ]
    }

    /// The entry a `SELECT` of ``columns`` row holds.
    static func entry(from row: Row) throws -> LedgerEntry {
        let actionText: String = row["last_action"]
        guard let action = EventAction(rawValue: actionText) else {
            throw StoreError(reason: "a ledger row has the unknown action '\(actionText)'")
        }
        let causeText: String = row["cause"]
        guard let cause = LedgerCause(rawValue: causeText) else {
            throw StoreError(reason: "a ledger row has the unknown cause '\(causeText)'")
        }
        let startsAt: Double? = row["starts_at"]
        let heldUntil: Double? = row["resolve_held_until"]
        return LedgerEntry(
            route: row["route"],
            dedupKey: row["dedup_key"],
            lastAction: action,
            lastActionAt: StoredTime.decode(row["last_action_at"]),
            startsAt: startsAt.map(StoredTime.decode),
            lastSeen: StoredTime.decode(row["last_seen"]),
            subject: try subject(row["subject"], members: row["members"]),
            cause: cause,
            remembered: remembered(row),
            resolveHeldUntil: heldUntil.map(StoredTime.decode),
            incident: try incident(row),
            ownSilence: try ownSilence(row))
    }

    /// The silence of ours a row records; `nil` when the entry has none.
    private static func ownSilence(_ row: Row) throws -> OwnSilence? {
        guard let purposeText: String = row["own_silence_purpose"] else { return nil }
        guard let purpose = OwnSilence.Purpose(rawValue: purposeText) else {
            throw StoreError(reason: "a ledger row has the unknown silence purpose '\(purposeText)'")
        }
        guard
            let answering: Double = row["own_silence_answering"],
            let endsAt: Double = row["own_silence_ends_at"],
            let idsText: String = row["own_silence_ids"]
        else {
            throw StoreError(reason: "a ledger row has a silence purpose without its times or silence ids")
        }
        return OwnSilence(
            purpose: purpose, answering: StoredTime.decode(answering), endsAt: StoredTime.decode(endsAt),
            ids: try OwnSilence.ids(stored: idsText))
    }

    /// The incident state of a row; `nil` when PagerDuty never reported on it.
    private static func incident(_ row: Row) throws -> IncidentState? {
        guard let statusText: String = row["incident_status"] else { return nil }
        guard let status = IncidentState.Status(rawValue: statusText) else {
            throw StoreError(reason: "a ledger row has the unknown incident status '\(statusText)'")
        }
        guard let changedAt: Double = row["incident_changed_at"], let incidentID: String = row["incident_id"] else {
            throw StoreError(reason: "a ledger row has an incident status without its time or incident id")
        }
        return IncidentState(
            status: status, changedAt: StoredTime.decode(changedAt), changedBy: row["incident_changed_by"],
            incidentID: incidentID, incidentURL: row["incident_url"])
    }

    private static func encode(_ subject: LedgerSubject) -> (String, String?) {
        switch subject {
        case .alert: ("alert", nil)
        case .change: ("change", nil)
        case .group(let members): ("group", members.sorted().joined(separator: ","))
        }
    }

    private static func subject(_ text: String, members: String?) throws -> LedgerSubject {
        switch text {
        case "alert": return .alert
        case "change": return .change
        case "group":
            let fingerprints = (members ?? "").split(separator: ",").map(String.init)
            return .group(members: Set(fingerprints))
        default: throw StoreError(reason: "a ledger row has the unknown subject '\(text)'")
        }
    }

    private static func remembered(_ row: Row) -> RememberedPayload? {
        guard
            let summary: String = row["summary"],
            let source: String = row["source"],
            let severityText: String = row["severity"],
            let severity = Severity(rawValue: severityText)
        else { return nil }
        return RememberedPayload(summary: summary, source: source, severity: severity)
    }
}

