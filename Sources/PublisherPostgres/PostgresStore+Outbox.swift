import Foundation
import PostgresNIO
import PublisherCore

extension PostgresStore {
    /// Upserts the entries and appends the messages in one statement and one transaction, which also notifies each
    /// route appended to; returns once `COMMIT` is done. Entries are written as they are (the last writer wins):
    /// decisions that depend on the stored entries go through ``decide(keys:cache:_:)``.
    @discardableResult
    public func commit(ledger: [LedgerEntry], outbox: [OutboxMessage]) async throws(StoreError) -> [Int64] {
        if ledger.isEmpty && outbox.isEmpty { return [] }
        return try await transaction(
            "committing \(ledger.count) ledger entries and \(outbox.count) outbox messages"
        ) { connection, logger in
            try await Self.write(ledger: ledger, outbox: outbox, on: connection, logger: logger)
        }
    }

    /// Writes `ledger` and `outbox` with ``WriteStatement`` (in the caller's transaction, if any); returns the
    /// messages' ids, in order.
    @discardableResult
    static func write(
        ledger: [LedgerEntry],
        outbox: [OutboxMessage],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Int64] {
        guard let (shape, statement) = WriteStatement.make(ledger: ledger, outbox: outbox, channel: notificationChannel)
        else {
            return []
        }
        switch shape {
        case .ledger:
            _ = try await connection.execute(PreparedWrite<LedgerWrite>(bindings: statement.binds), logger: logger)
            return []
        case .outbox:
            return try await ids(
                of: connection.execute(PreparedWrite<OutboxWrite>(bindings: statement.binds), logger: logger),
                expecting: outbox.count)
        case .ledgerAndOutbox:
            return try await ids(
                of: connection.execute(PreparedWrite<LedgerAndOutboxWrite>(bindings: statement.binds), logger: logger),
                expecting: outbox.count)
        }
    }

    /// The outbox ids among a write's rows, sorted.
    private static func ids(
        of rows: some AsyncSequence<(Int64, Int), any Error>, expecting count: Int
    ) async throws -> [Int64] {
        var ids: [Int64] = []
        ids.reserveCapacity(count)
        for try await (id, _) in rows {
            ids.append(id)
        }
        ids.sort()
        return ids
    }

    /// `NOTIFY pagerduty_publisher_outbox, '<route>'` once per distinct route; delivered at commit.
    static func notify(routes: some Sequence<String>, on connection: PostgresConnection, logger: Logger) async throws {
        let distinct = Array(Set(routes)).sorted()
        guard !distinct.isEmpty else { return }
        try await connection.query(
            """
            SELECT count(pg_notify(\(notificationChannel), route)) FROM unnest(\(distinct)::text[]) AS routes(route)
            """,
            logger: logger)
    }

    /// Walks the index `outbox_route_summary` from one route to the next (a loose index scan), so the cost grows
    /// with the number of routes, not of pending messages.
    public func routesWithPendingMessages() async throws(StoreError) -> [String] {
        try await fetch(
            "listing routes with pending messages",
            """
            WITH RECURSIVE routes(route) AS (
                (SELECT route FROM outbox ORDER BY route LIMIT 1)
                UNION ALL
                SELECT (SELECT o.route FROM outbox o WHERE o.route > routes.route ORDER BY o.route LIMIT 1)
                FROM routes WHERE routes.route IS NOT NULL
            )
            SELECT route FROM routes WHERE route IS NOT NULL
            """,
            { try $0.decode(String.self) })
    }

    public func pendingMessages(route: String, limit: Int) async throws(StoreError) -> [OutboxRecord] {
        guard limit > 0 else { return [] }
        return try await fetch(
            "reading pending messages",
            "SELECT \(unescaped: OutboxRows.columns) FROM outbox WHERE route = \(route) ORDER BY id LIMIT \(limit)",
            OutboxRows.record(from:))
    }

    /// Reads the index `outbox_route_summary` (it holds every column asked for), never a body.
    public func pendingSummaries(route: String, limit: Int) async throws(StoreError) -> [PendingMessageSummary] {
        guard limit > 0 else { return [] }
        return try await fetch(
            "reading pending message summaries",
            """
            SELECT \(unescaped: OutboxRows.summaryColumns) FROM outbox WHERE route = \(route) ORDER BY id LIMIT \(limit)
            """,
            OutboxRows.summary(from:))
    }

    public func pendingMessages(ids: [Int64]) async throws(StoreError) -> [OutboxRecord] {
        if ids.isEmpty { return [] }
        let found = try await fetch(
            "reading \(ids.count) pending messages",
            "SELECT \(unescaped: OutboxRows.columns) FROM outbox WHERE id = ANY(\(ids)::bigint[])",
            OutboxRows.record(from:))
        let byID = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return ids.compactMap { byID[$0] }
    }

    /// Deletes the message; a message already gone is not an error (delivery is at-least-once).
    public func markDelivered(id: Int64) async throws(StoreError) {
        try await execute("marking message \(id) delivered", "DELETE FROM outbox WHERE id = \(id)")
    }

    /// Counts the attempt; does nothing when the message is no longer pending.
    public func recordFailedAttempt(id: Int64, error: String) async throws(StoreError) {
        try await execute(
            "recording a failed attempt of message \(id)",
            "UPDATE outbox SET attempts = attempts + 1, last_error = \(StorableText.from(error)) WHERE id = \(id)")
    }

    /// Moves the message with its attempt count and last error, in one statement; does nothing when it is no
    /// longer pending.
    public func moveToDeadLetters(id: Int64, reason: String, at date: Date) async throws(StoreError) {
        try await execute(
            "moving message \(id) to the dead letters",
            """
            WITH moved AS (DELETE FROM outbox WHERE id = \(id) RETURNING \(unescaped: OutboxRows.columns))
            INSERT INTO dead_letters (\(unescaped: OutboxRows.columns), reason, failed_at)
            SELECT \(unescaped: OutboxRows.columns), \(StorableText.from(reason)), \(StoredTimestamp(date)) FROM moved
            """)
    }

    public func deadLetters(limit: Int) async throws(StoreError) -> [DeadLetter] {
        guard limit > 0 else { return [] }
        return try await fetch(
            "reading dead letters",
            """
            SELECT \(unescaped: OutboxRows.columns), reason, failed_at FROM dead_letters
            ORDER BY failed_at DESC, id DESC LIMIT \(limit)
            """,
            OutboxRows.deadLetter(from:))
    }

    public func queueStats() async throws(StoreError) -> QueueStats {
        let rows = try await fetch(
            "reading queue statistics",
            """
            SELECT (SELECT count(*) FROM outbox), (SELECT min(created_at) FROM outbox),
                (SELECT count(*) FROM dead_letters),
                (SELECT count(*) FROM ledger WHERE incident_status = 'triggered'),
                (SELECT count(*) FROM ledger WHERE incident_status = 'acknowledged'),
                (SELECT count(*) FROM ledger WHERE incident_status = 'resolved')
            """,
            { row in try row.decode((Int, Date?, Int, Int, Int, Int).self) })
        guard let figures = rows.first else {
            return QueueStats(pending: 0, oldestPendingCreatedAt: nil, deadLetters: 0)
        }
        var incidents: [IncidentState.Status: Int] = [:]
        for (status, count) in [(IncidentState.Status.triggered, figures.3), (.acknowledged, figures.4), (.resolved, figures.5)]
        where count > 0 {
            incidents[status] = count
        }
        return QueueStats(
            pending: figures.0, oldestPendingCreatedAt: figures.1, deadLetters: figures.2, incidents: incidents)
    }
}
