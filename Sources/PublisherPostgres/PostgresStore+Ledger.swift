import Foundation
import PostgresNIO
import PublisherCore

extension PostgresStore {
    public func loadLedger(seenSince date: Date) async throws(StoreError) -> [LedgerEntry] {
        try await fetch(
            "loading the ledger", timeout: bulkTimeout,
            """
            SELECT \(unescaped: LedgerRows.columns) FROM ledger
            WHERE last_seen >= \(StoredTimestamp(date)) ORDER BY route, dedup_key
            """,
            LedgerRows.entry(from:))
    }

    @discardableResult
    public func expireLedger(seenBefore date: Date) async throws(StoreError) -> Int {
        try await fetch(
            "expiring ledger entries", timeout: bulkTimeout, writes: true,
            """
            WITH expired AS (
                DELETE FROM ledger WHERE last_seen < \(StoredTimestamp(date)) AND resolve_held_until IS NULL
                RETURNING 1
            )
            SELECT count(*) FROM expired
            """,
            { try $0.decode(Int.self) }
        ).first ?? 0
    }

    /// Decides on the rows of `keys` as PostgreSQL holds them, never on `cache`: one transaction takes a
    /// transaction-level advisory lock per key (``ledgerLockID(route:dedupKey:)``, in increasing order, so two
    /// decisions never deadlock; a key with no row yet is locked too) and reads the rows, both in one call of
    /// `ledger_locked_rows` (its read is a statement of its own, so its snapshot is taken after the locks: it sees
    /// what the previous holder committed), runs `decide` once, then upserts the entries, appends the messages and
    /// notifies their routes in one statement. Four round trips: `BEGIN`, the locked read, the write, `COMMIT`;
    /// the read and the write are prepared statements (``LockedLedgerRead``, ``PreparedWrite``).
    /// The locks end with the transaction.
    public func decide<Outcome: Sendable>(
        keys: Set<LedgerKey>,
        cache: LedgerCache,
        _ decide: @escaping LedgerDecider<Outcome>
    ) async throws -> Outcome {
        let lockIDs = Array(Set(keys.map { Self.ledgerLockID(route: $0.route, dedupKey: $0.dedupKey) })).sorted()
        let routes = keys.map(\.route)
        let dedupKeys = keys.map(\.dedupKey)
        return try await transaction("deciding on \(keys.count) ledger entries") { connection, logger in
            var stored: [LedgerKey: LedgerEntry] = [:]
            if !keys.isEmpty {
                stored.reserveCapacity(keys.count)
                let read = LockedLedgerRead(lockIDs: lockIDs, routes: routes, dedupKeys: dedupKeys)
                for try await entry in try await connection.execute(read, logger: logger) {
                    stored[entry.key] = entry
                }
            }
            let changes = decide(stored)
            try await Self.write(ledger: changes.ledger, outbox: changes.outbox, on: connection, logger: logger)
            return changes.outcome
        }
    }

    /// The entries the Alertmanager sync looks at, as ``AlertmanagerSync`` picks them from its cache: not a change
    /// announcement, and either with a silence of ours (to extend or expire, even resolved or with a resolve held),
    /// or with no resolve held and open (last action not a resolve) or resolved by the sync because the alert was
    /// silenced or inhibited. Read through the partial index `ledger_sync_candidates`.
    public func syncCandidates() async throws(StoreError) -> [LedgerEntry] {
        try await fetch(
            "reading the Alertmanager sync's candidates", timeout: bulkTimeout,
            """
            SELECT \(unescaped: LedgerRows.columns) FROM ledger
            WHERE \(unescaped: PostgresSchema.syncCandidatePredicate) ORDER BY route, dedup_key
            """,
            LedgerRows.entry(from:))
    }

    /// The entries whose held resolve is due at `date` (and not sent yet), through the partial index
    /// `ledger_held_resolves`.
    public func heldResolves(dueAt date: Date) async throws(StoreError) -> [LedgerEntry] {
        try await fetch(
            "reading held resolves",
            """
            SELECT \(unescaped: LedgerRows.columns) FROM ledger
            WHERE \(unescaped: PostgresSchema.heldResolvePredicate) AND resolve_held_until <= \(StoredTimestamp(date))
            ORDER BY resolve_held_until, route, dedup_key
            """,
            LedgerRows.entry(from:))
    }

    /// Every route's entry of `dedupKey`, through the index `ledger_dedup_key`.
    public func ledgerEntries(dedupKey: String) async throws(StoreError) -> [LedgerEntry] {
        try await fetch(
            "reading the ledger entries of a dedup_key",
            "SELECT \(unescaped: LedgerRows.columns) FROM ledger WHERE dedup_key = \(dedupKey) ORDER BY route",
            LedgerRows.entry(from:))
    }

    /// The advisory lock of one ledger key: the 64-bit FNV-1a hash of the route's UTF-8 bytes, a 0xFF byte (which
    /// UTF-8 never contains, so the split is unambiguous) and the dedup_key's UTF-8 bytes, as a signed integer.
    ///
    /// Every replica must compute the same value for a key, across versions: changing this function is a breaking
    /// change for a rolling upgrade. A collision only makes two keys wait for each other.
    public static func ledgerLockID(route: String, dedupKey: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        for byte in route.utf8 { mix(byte) }
        mix(0xFF)
        for byte in dedupKey.utf8 { mix(byte) }
        return Int64(bitPattern: hash)
    }
}
