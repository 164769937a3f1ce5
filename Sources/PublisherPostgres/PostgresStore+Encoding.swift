import Foundation
import PagerDutyEvents
import PostgresNIO
import PublisherCore

/// A time bound as a `timestamptz`: whole microseconds since 2000-01-01 UTC, rounded to the nearest one.
///
/// postgres-nio's own `Date` encoding truncates, which can lose almost a microsecond; rounding keeps every stored
/// time within half a microsecond (plus the `Double` resolution of `Date`, about 0.1 µs today). Times built from a
/// whole number of microseconds come back exactly.
struct StoredTimestamp: PostgresNonThrowingEncodable, PostgresArrayEncodable {
    static let epochSince1970: Double = 946_684_800

    var microseconds: Int64

    init(_ date: Date) {
        let value = ((date.timeIntervalSince1970 - Self.epochSince1970) * 1_000_000).rounded()
        // Out-of-range values are clamped so the conversion never traps; PostgreSQL refuses them itself.
        if value >= Double(Int64.max) {
            microseconds = .max
        } else if value <= Double(Int64.min) || value.isNaN {
            microseconds = .min
        } else {
            microseconds = Int64(value)
        }
    }

    static var psqlType: PostgresDataType { .timestamptz }
    static var psqlFormat: PostgresFormat { .binary }
    static var psqlArrayType: PostgresDataType { .timestamptzArray }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into byteBuffer: inout ByteBuffer,
        context: PostgresEncodingContext<JSONEncoder>
    ) {
        byteBuffer.writeInteger(microseconds)
    }
}

/// A one-dimensional array parameter whose elements may be `NULL` (postgres-nio's arrays cannot hold `nil`), for
/// the `unnest($1::text[], …)` of the batched statements.
struct NullableArray<Element: PostgresArrayEncodable & PostgresNonThrowingEncodable>: PostgresNonThrowingEncodable {
    var elements: [Element?]

    init(_ elements: [Element?]) {
        self.elements = elements
    }

    static var psqlType: PostgresDataType { Element.psqlArrayType }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer,
        context: PostgresEncodingContext<JSONEncoder>
    ) {
        // The binary array format: dimensions, has-nulls flag, element type, then per dimension its length and
        // lower bound, then each element as a length (-1 for NULL) and its bytes.
        buffer.writeInteger(elements.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(elements.contains { $0 == nil } ? 1 : 0, as: Int32.self)
        buffer.writeInteger(Element.psqlType.rawValue)
        guard !elements.isEmpty else { return }
        buffer.writeInteger(Int32(elements.count))
        buffer.writeInteger(1, as: Int32.self)
        for element in elements {
            guard let element else {
                buffer.writeInteger(-1, as: Int32.self)
                continue
            }
            let lengthIndex = buffer.writerIndex
            buffer.writeInteger(0, as: Int32.self)
            let start = buffer.writerIndex
            element.encode(into: &buffer, context: context)
            buffer.setInteger(Int32(buffer.writerIndex - start), at: lengthIndex)
        }
    }
}

/// Text as PostgreSQL can store it. A `text` value cannot hold the NUL character (PostgreSQL refuses the whole
/// statement), and a sender controls some of the text stored (an alert's summary and source, error messages
/// quoting PagerDuty): each NUL becomes U+FFFD, so such an alert is stored rather than refused on every retry.
/// Routes and dedup_keys are stored as given (changing them would change the key).
enum StorableText {
    static func from(_ text: String) -> String {
        text.utf8.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
    }

    static func from(_ text: String?) -> String? {
        text.map(from)
    }
}

/// Reads and writes ``LedgerEntry`` rows.
enum LedgerRows {
    /// The columns ``entry(from:)`` reads, in this order.
    static let columns = """
        route, dedup_key, last_action, last_action_at, starts_at, last_seen, \
        subject, members, cause, summary, source, severity, resolve_held_until, \
        incident_status, incident_changed_at, incident_changed_by, incident_id, incident_url, \
        own_silence_purpose, own_silence_answering, own_silence_ends_at, own_silence_ids
        """

    /// The same columns qualified by `table`.
    static func columns(of table: String) -> String {
        columns.split(separator: ",").map { "\(table).\($0.trimmingCharacters(in: .whitespaces))" }
            .joined(separator: ", ")
    }

    /// Appends the statement that upserts `entries` (one row per key: the last entry of a key wins, as if written
    /// one after another) to `query`.
    static func appendUpsert(_ entries: [LedgerEntry], to query: inout PostgresQuery.StringInterpolation) {
        var lastIndex: [LedgerKey: Int] = [:]
        for (index, entry) in entries.enumerated() { lastIndex[entry.key] = index }
        // In key order, so that two transactions upserting overlapping rows lock them in the same order and never
        // deadlock (decisions are serialised by their advisory locks already; plain commits are not).
        let unique = entries.indices.filter { lastIndex[entries[$0].key] == $0 }.map { entries[$0] }
            .sorted { ($0.route, $0.dedupKey) < ($1.route, $1.dedupKey) }
        let subjects = unique.map { encode($0.subject) }
        query.appendLiteral("INSERT INTO ledger (\(columns)) SELECT * FROM unnest(")
        query.appendInterpolation(unique.map(\.route))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(unique.map(\.dedupKey))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(unique.map(\.lastAction.rawValue))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(unique.map { StoredTimestamp($0.lastActionAt) })
        query.appendLiteral("::timestamptz[], ")
        query.appendInterpolation(NullableArray(unique.map { $0.startsAt.map(StoredTimestamp.init) }))
        query.appendLiteral("::timestamptz[], ")
        query.appendInterpolation(unique.map { StoredTimestamp($0.lastSeen) })
        query.appendLiteral("::timestamptz[], ")
        query.appendInterpolation(subjects.map(\.0))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(subjects.map { StorableText.from($0.1) }))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(unique.map(\.cause.rawValue))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(unique.map { StorableText.from($0.remembered?.summary) }))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(unique.map { StorableText.from($0.remembered?.source) }))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(unique.map { $0.remembered?.severity.rawValue }))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(unique.map { $0.resolveHeldUntil.map(StoredTimestamp.init) }))
        query.appendLiteral("::timestamptz[], ")
        query.appendInterpolation(NullableArray(unique.map { $0.incident?.status.rawValue }))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(unique.map { $0.incident.map { StoredTimestamp($0.changedAt) } }))
        query.appendLiteral("::timestamptz[], ")
        query.appendInterpolation(NullableArray(unique.map { StorableText.from($0.incident?.changedBy) }))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(unique.map { StorableText.from($0.incident?.incidentID) }))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(unique.map { StorableText.from($0.incident?.incidentURL) }))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(unique.map { $0.ownSilence?.purpose.rawValue }))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(unique.map { $0.ownSilence.map { StoredTimestamp($0.answering) } }))
        query.appendLiteral("::timestamptz[], ")
        query.appendInterpolation(NullableArray(unique.map { $0.ownSilence.map { StoredTimestamp($0.endsAt) } }))
        query.appendLiteral("::timestamptz[], ")
        query.appendInterpolation(NullableArray(unique.map { $0.ownSilence.map { $0.storedIDs } }))
        query.appendLiteral(
            """
            ::text[])
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
            """)
    }

    /// The entry a row of ``columns`` holds.
    static func entry(from row: PostgresRow) throws -> LedgerEntry {
        let (route, dedupKey, actionText, actionAt, startsAt, lastSeen, subjectText, members, causeText, summary,
            source, severityText, heldUntil, incidentStatus, incidentChangedAt, incidentChangedBy, incidentID,
            incidentURL, silencePurpose, silenceAnswering, silenceEndsAt, silenceIDs) = try row.decode(
                (String, String, String, Date, Date?, Date, String, String?, String, String?, String?, String?, Date?,
                    String?, Date?, String?, String?, String?, String?, Date?, Date?, String?).self)
        guard let action = EventAction(rawValue: actionText) else {
            throw StoreError(reason: "a ledger row has the unknown action '\(actionText)'")
        }
        guard let cause = LedgerCause(rawValue: causeText) else {
            throw StoreError(reason: "a ledger row has the unknown cause '\(causeText)'")
        }
        var remembered: RememberedPayload?
        if let summary, let source, let severityText, let severity = Severity(rawValue: severityText) {
            remembered = RememberedPayload(summary: summary, source: source, severity: severity)
        }
        return LedgerEntry(
            route: route,
            dedupKey: dedupKey,
            lastAction: action,
            lastActionAt: actionAt,
            startsAt: startsAt,
            lastSeen: lastSeen,
            subject: try subject(subjectText, members: members),
            cause: cause,
            remembered: remembered,
            resolveHeldUntil: heldUntil,
            incident: try incident(
                status: incidentStatus, changedAt: incidentChangedAt, changedBy: incidentChangedBy, id: incidentID,
                url: incidentURL),
            ownSilence: try ownSilence(
                purpose: silencePurpose, answering: silenceAnswering, endsAt: silenceEndsAt, ids: silenceIDs))
    }

    /// The silence of ours a row's columns record; `nil` when the entry has none.
    private static func ownSilence(purpose: String?, answering: Date?, endsAt: Date?, ids: String?) throws -> OwnSilence? {
        guard let purpose else { return nil }
        guard let parsed = OwnSilence.Purpose(rawValue: purpose) else {
            throw StoreError(reason: "a ledger row has the unknown silence purpose '\(purpose)'")
        }
        guard let answering, let endsAt, let ids else {
            throw StoreError(reason: "a ledger row has a silence purpose without its times or silence ids")
        }
        return OwnSilence(purpose: parsed, answering: answering, endsAt: endsAt, ids: try OwnSilence.ids(stored: ids))
    }

    /// The incident state of a row's columns; `nil` when PagerDuty never reported on the entry.
    private static func incident(
        status: String?, changedAt: Date?, changedBy: String?, id: String?, url: String?
    ) throws -> IncidentState? {
        guard let status else { return nil }
        guard let parsed = IncidentState.Status(rawValue: status) else {
            throw StoreError(reason: "a ledger row has the unknown incident status '\(status)'")
        }
        guard let changedAt, let id else {
            throw StoreError(reason: "a ledger row has an incident status without its time or incident id")
        }
        return IncidentState(status: parsed, changedAt: changedAt, changedBy: changedBy, incidentID: id, incidentURL: url)
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
}

/// The one statement that writes what a commit or a decision returns: the ledger upsert, the outbox append with
/// its ids, and `NOTIFY pagerduty_publisher_outbox` once per route appended to (data-modifying common table
/// expressions, so the whole write is one round trip, and one transaction on its own).
enum WriteStatement {
    /// What a write holds, which decides the statement's text: each shape is one prepared statement.
    enum Shape: String, CaseIterable, Sendable {
        case ledger
        case outbox
        case ledgerAndOutbox
    }

    /// The statement for `ledger` and `outbox`, with its shape; `nil` when both are empty. Its rows are the new
    /// ids (in any order) and the number of notifications sent; a write of ledger entries alone returns none.
    static func make(ledger: [LedgerEntry], outbox: [OutboxMessage], channel: String) -> (Shape, PostgresQuery)? {
        switch (ledger.isEmpty, outbox.isEmpty) {
        case (true, true): return nil
        case (false, true): return (.ledger, make(.ledger, ledger: ledger, outbox: outbox, channel: channel))
        case (true, false): return (.outbox, make(.outbox, ledger: ledger, outbox: outbox, channel: channel))
        case (false, false):
            return (.ledgerAndOutbox, make(.ledgerAndOutbox, ledger: ledger, outbox: outbox, channel: channel))
        }
    }

    /// The text of the statement of `shape`: the same whatever the number of entries and messages, since every
    /// value, counts included, is a parameter.
    static func sql(of shape: Shape) -> String {
        make(shape, ledger: [], outbox: [], channel: "").sql
    }

    private static func make(_ shape: Shape, ledger: [LedgerEntry], outbox: [OutboxMessage], channel: String) -> PostgresQuery {
        var query = PostgresQuery.StringInterpolation(literalCapacity: 2048, interpolationCount: 22)
        guard shape != .ledger else {
            LedgerRows.appendUpsert(ledger, to: &query)
            return PostgresQuery(stringInterpolation: query)
        }
        query.appendLiteral("WITH ")
        if shape == .ledgerAndOutbox {
            query.appendLiteral("upserted AS (")
            LedgerRows.appendUpsert(ledger, to: &query)
            query.appendLiteral("), ")
        }
        OutboxRows.appendInsert(outbox, to: &query)
        // An uncorrelated subquery: evaluated once, when the first id is returned.
        query.appendLiteral("\nSELECT id, (SELECT count(pg_notify(")
        query.appendInterpolation(channel)
        query.appendLiteral(", route)) FROM unnest(")
        query.appendInterpolation(Array(Set(outbox.map(\.route))).sorted())
        query.appendLiteral("::text[]) AS routes(route)) FROM inserted")
        return PostgresQuery(stringInterpolation: query)
    }
}

/// Reads and writes outbox and dead-letter rows.
enum OutboxRows {
    /// The columns the outbox and dead-letter tables share, in this order.
    static let columns = "id, route, kind, dedup_key, severity, body, created_at, attempts, last_error, trace_context"

    /// The columns of a ``PendingMessageSummary``, all in the index `outbox_route_summary`.
    static let summaryColumns = "id, kind, dedup_key, severity"

    /// Appends the common table expressions that append `messages` to `query`: `drawn` takes one id per message from
    /// the sequence, `inserted` gives them to the messages in increasing order and returns them (so the ids,
    /// sorted, are the messages' ids in order).
    static func appendInsert(_ messages: [OutboxMessage], to query: inout PostgresQuery.StringInterpolation) {
        query.appendLiteral("drawn AS MATERIALIZED (SELECT nextval('outbox_ids') AS id FROM generate_series(1, ")
        query.appendInterpolation(messages.count)
        query.appendLiteral(
            """
            )), numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM drawn),
            inserted AS (
                INSERT INTO outbox (id, route, kind, dedup_key, severity, body, created_at, trace_context)
                SELECT numbered.id, m.route, m.kind, m.dedup_key, m.severity, m.body, m.created_at, m.trace_context
                FROM unnest(
            """)
        query.appendInterpolation(messages.map(\.route))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(messages.map(\.kind.rawValue))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(messages.map(\.dedupKey)))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(NullableArray(messages.map { $0.severity?.rawValue }))
        query.appendLiteral("::text[], ")
        query.appendInterpolation(messages.map { ByteBuffer(bytes: $0.body) })
        query.appendLiteral("::bytea[], ")
        query.appendInterpolation(messages.map { StoredTimestamp($0.createdAt) })
        query.appendLiteral("::timestamptz[], ")
        query.appendInterpolation(NullableArray(messages.map(\.traceContext)))
        query.appendLiteral(
            """
            ::text[]) WITH ORDINALITY AS m(route, kind, dedup_key, severity, body, created_at, trace_context, n)
                JOIN numbered ON numbered.n = m.n
                RETURNING id
            )
            """)
    }

    /// The record a row of ``columns`` holds.
    static func record(from row: PostgresRow) throws -> OutboxRecord {
        let (id, route, kind, dedupKey, severity, body, createdAt, attempts, lastError, traceContext) = try row.decode(
            (Int64, String, String, String?, String?, Data, Date, Int, String?, String?).self)
        return OutboxRecord(
            id: id,
            message: try message(
                id: id, route: route, kind: kind, dedupKey: dedupKey, severity: severity, body: body,
                createdAt: createdAt, traceContext: traceContext),
            attempts: attempts,
            lastError: lastError)
    }

    /// The summary a row of ``summaryColumns`` holds.
    static func summary(from row: PostgresRow) throws -> PendingMessageSummary {
        let (id, kind, dedupKey, severity) = try row.decode((Int64, String, String?, String?).self)
        return PendingMessageSummary(
            id: id, kind: try decodeKind(kind, id: id), dedupKey: dedupKey,
            severity: try decodeSeverity(severity, id: id))
    }

    /// The dead letter a row of ``columns``, `reason`, `failed_at` holds.
    static func deadLetter(from row: PostgresRow) throws -> DeadLetter {
        let (id, route, kind, dedupKey, severity, body, createdAt, attempts, _, traceContext, reason, failedAt) =
            try row.decode((Int64, String, String, String?, String?, Data, Date, Int, String?, String?, String, Date).self)
        return DeadLetter(
            id: id,
            message: try message(
                id: id, route: route, kind: kind, dedupKey: dedupKey, severity: severity, body: body,
                createdAt: createdAt, traceContext: traceContext),
            attempts: attempts,
            reason: reason,
            failedAt: failedAt)
    }

    private static func message(
        id: Int64, route: String, kind: String, dedupKey: String?, severity: String?, body: Data, createdAt: Date,
        traceContext: String?
    ) throws -> OutboxMessage {
        OutboxMessage(
            route: route,
            kind: try decodeKind(kind, id: id),
            dedupKey: dedupKey,
            severity: try decodeSeverity(severity, id: id),
            body: body,
            createdAt: createdAt,
            traceContext: traceContext)
    }

    private static func decodeKind(_ text: String, id: Int64) throws -> OutboxKind {
        guard let kind = OutboxKind(rawValue: text) else {
            throw StoreError(reason: "message \(id) has the unknown kind '\(text)'")
        }
        return kind
    }

    private static func decodeSeverity(_ text: String?, id: Int64) throws -> Severity? {
        guard let text else { return nil }
        guard let severity = Severity(rawValue: text) else {
            throw StoreError(reason: "message \(id) has the unknown severity '\(text)'")
        }
        return severity
    }
}
