import PostgresNIO

/// The store's tables and their migrations.
///
/// Conventions: times are `timestamptz` (microseconds; the store rounds to the nearest one); enumerations are
/// stored as their raw strings and checked by `CHECK` constraints; a group's members are its fingerprints joined by
/// commas, as in the SQLite store. Migrations are append-only and named: never edit a registered one, append a new
/// one. `schema_migrations` records the names applied; ``PostgresStore/migrate()`` runs the missing ones, each in
/// its own transaction, under the advisory lock ``migrationLock``.
enum PostgresSchema {
    /// One named migration: statements run in order in one transaction.
    struct Migration {
        var name: String
        var statements: [String]
    }

    /// The session-level advisory lock every replica takes while it migrates, so that whichever starts first
    /// migrates and the others wait, then find nothing left to do. A fixed constant ("pd-pub-m" in ASCII).
    static let migrationLock: Int64 = 0x7064_2D70_7562_2D6D

    /// Creates the table of applied migrations (under the migration lock: two `CREATE TABLE IF NOT EXISTS`
    /// racing each other can fail).
    static let createMigrationsTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            name text PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """

    /// Every migration, in order.
    static let migrations: [Migration] = [version1, incidentState, ownSilence, traceContext, lockedLedgerRead]

    private static let action = "'trigger', 'acknowledge', 'resolve'"
    private static let severity = "'critical', 'error', 'warning', 'info'"

    /// The predicate of the Alertmanager sync's candidates (``PostgresStore/syncCandidates()``), shared by the
    /// partial index and the query so the planner can use one for the other: `AlertmanagerSync.isCandidate`.
    /// Not a change announcement, and either a silence of ours to extend or expire, or no resolve held and open
    /// (last action not a resolve) or resolved by the sync because the alert was silenced or inhibited.
    static let syncCandidatePredicate = """
        subject <> 'change' AND (own_silence_purpose IS NOT NULL OR (resolve_held_until IS NULL \
        AND (last_action <> 'resolve' OR cause IN ('silenced', 'inhibited'))))
        """

    /// The predicate of `ledger_sync_candidates` as migration `v1` created it (before silences of ours); kept
    /// so that migration stays as it ran. `v3-own-silence` recreates the index with ``syncCandidatePredicate``.
    private static let syncCandidatePredicateVersion1 = """
        subject <> 'change' AND resolve_held_until IS NULL \
        AND (last_action <> 'resolve' OR cause IN ('silenced', 'inhibited'))
        """

    /// The predicate of the entries with a resolve held back, shared by the partial index and the query.
    static let heldResolvePredicate = "resolve_held_until IS NOT NULL AND last_action <> 'resolve'"

    private static let version1 = Migration(
        name: "v1",
        statements: [
            // The ledger: the last action queued per alert and route, with what the sync, group mode and flap
            // damping need.
            """
            CREATE TABLE ledger (
                route text NOT NULL,
                dedup_key text NOT NULL,
                last_action text NOT NULL CHECK (last_action IN (\(action))),
                last_action_at timestamptz NOT NULL,
                starts_at timestamptz,
                last_seen timestamptz NOT NULL,
                subject text NOT NULL DEFAULT 'alert' CHECK (subject IN ('alert', 'group', 'change')),
                members text CHECK (members IS NULL OR subject = 'group'),
                cause text NOT NULL DEFAULT 'webhook'
                    CHECK (cause IN ('webhook', 'silenced', 'inhibited', 'reconciled')),
                summary text,
                source text,
                severity text CHECK (severity IN (\(severity))),
                resolve_held_until timestamptz,
                PRIMARY KEY (route, dedup_key),
                CHECK ((summary IS NULL) = (source IS NULL) AND (source IS NULL) = (severity IS NULL))
            )
            """,
            "CREATE INDEX ledger_last_seen ON ledger (last_seen)",
            "CREATE INDEX ledger_sync_candidates ON ledger (route, dedup_key) WHERE \(syncCandidatePredicateVersion1)",
            "CREATE INDEX ledger_held_resolves ON ledger (resolve_held_until) WHERE \(heldResolvePredicate)",
            // Outbox ids come from a sequence: never given twice, so they stay a delivery order and a dead
            // letter's id names one message forever.
            "CREATE SEQUENCE outbox_ids AS bigint",
            """
            CREATE TABLE outbox (
                id bigint PRIMARY KEY DEFAULT nextval('outbox_ids'),
                route text NOT NULL,
                kind text NOT NULL CHECK (kind IN ('trigger', 'acknowledge', 'resolve', 'change')),
                dedup_key text CHECK (kind = 'change' OR dedup_key IS NOT NULL),
                severity text CHECK (severity IN (\(severity))),
                body bytea NOT NULL,
                created_at timestamptz NOT NULL,
                attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                last_error text
            )
            """,
            "ALTER SEQUENCE outbox_ids OWNED BY outbox.id",
            // The dispatcher plans a lane from the summaries of its oldest pending messages: this index holds
            // every summary column, so the plan never reads a body.
            "CREATE INDEX outbox_route_summary ON outbox (route, id) INCLUDE (kind, dedup_key, severity)",
            // Dead letters keep the outbox id of the message they were.
            """
            CREATE TABLE dead_letters (
                id bigint PRIMARY KEY,
                route text NOT NULL,
                kind text NOT NULL,
                dedup_key text,
                severity text,
                body bytea NOT NULL,
                created_at timestamptz NOT NULL,
                attempts integer NOT NULL,
                last_error text,
                reason text NOT NULL,
                failed_at timestamptz NOT NULL
            )
            """,
            "CREATE INDEX dead_letters_failed_at ON dead_letters (failed_at DESC, id DESC)",
            // When each request to PagerDuty finished, per dispatcher lane (a hash of the routing key, never the
            // key), so the limiter's 60-second window survives a restart or a handover.
            """
            CREATE TABLE request_times (
                lane text NOT NULL,
                finished_at timestamptz NOT NULL
            )
            """,
            "CREATE INDEX request_times_lane ON request_times (lane, finished_at)",
            // One row, rewritten by the readiness check to prove the database takes writes.
            """
            CREATE TABLE heartbeat (
                id integer PRIMARY KEY CHECK (id = 1),
                checked_at timestamptz NOT NULL
            )
            """,
        ])

    /// What PagerDuty's webhooks say about each entry's incident, the lookup of an entry by dedup_key (they name
    /// nothing else), and the ids of the webhook events applied (replays are recognised for 24 h).
    private static let incidentState = Migration(
        name: "v2-incident-state",
        statements: [
            """
            ALTER TABLE ledger
                ADD COLUMN incident_status text
                    CHECK (incident_status IN ('triggered', 'acknowledged', 'resolved')),
                ADD COLUMN incident_changed_at timestamptz,
                ADD COLUMN incident_changed_by text,
                ADD COLUMN incident_id text,
                ADD COLUMN incident_url text,
                ADD CONSTRAINT ledger_incident_complete CHECK (
                    (incident_status IS NULL) = (incident_changed_at IS NULL)
                    AND (incident_status IS NULL) = (incident_id IS NULL))
            """,
            "CREATE INDEX ledger_dedup_key ON ledger (dedup_key)",
            "CREATE INDEX ledger_incident_status ON ledger (incident_status) WHERE incident_status IS NOT NULL",
            """
            CREATE TABLE inbound_events (
                id text PRIMARY KEY,
                applied_at timestamptz NOT NULL
            )
            """,
            "CREATE INDEX inbound_events_applied_at ON inbound_events (applied_at)",
        ])

    /// The silence this daemon keeps in Alertmanager for an entry (``OwnSilence``): why (`acknowledged` or
    /// `manual_resolve`), the PagerDuty state it answers, when it ends, and its id on each Alertmanager as a JSON
    /// object (keys sorted). All `NULL` while the entry has none. An entry with one is a sync candidate even when
    /// resolved or with a resolve held (the silence must be extended or expired), so the candidates' partial index
    /// is recreated with the new predicate.
    private static let ownSilence = Migration(
        name: "v3-own-silence",
        statements: [
            """
            ALTER TABLE ledger
                ADD COLUMN own_silence_purpose text
                    CHECK (own_silence_purpose IN ('acknowledged', 'manual_resolve')),
                ADD COLUMN own_silence_answering timestamptz,
                ADD COLUMN own_silence_ends_at timestamptz,
                ADD COLUMN own_silence_ids text,
                ADD CONSTRAINT ledger_own_silence_complete CHECK (
                    (own_silence_purpose IS NULL) = (own_silence_answering IS NULL)
                    AND (own_silence_purpose IS NULL) = (own_silence_ends_at IS NULL)
                    AND (own_silence_purpose IS NULL) = (own_silence_ids IS NULL))
            """,
            "DROP INDEX ledger_sync_candidates",
            "CREATE INDEX ledger_sync_candidates ON ledger (route, dedup_key) WHERE \(syncCandidatePredicate)",
        ])

    /// The W3C `traceparent` of the webhook that queued a message (``OutboxMessage/traceContext``), kept with the
    /// message (and its dead letter) so a delivery span links to that webhook's trace, also after a restart.
    /// `NULL` when tracing was off.
    private static let traceContext = Migration(
        name: "v4-trace-context",
        statements: [
            "ALTER TABLE outbox ADD COLUMN trace_context text",
            "ALTER TABLE dead_letters ADD COLUMN trace_context text",
        ])

    /// `ledger_locked_rows(lock_ids, routes, dedup_keys)`: takes the transaction-level advisory locks `lock_ids`
    /// in the order given, then returns the ledger rows of the keys `(routes[i], dedup_keys[i])`. One round trip
    /// instead of two for ``PostgresStore/decide(keys:cache:_:)``. The read is a statement of its own inside a
    /// volatile function, so its snapshot is taken after the locks: it sees what the previous holder committed
    /// (one statement that locked and read would read a snapshot taken before its locks).
    ///
    /// The read is one primary-key lookup per key (a lateral subquery with `LIMIT 1`, which the planner cannot
    /// turn into a join), because PL/pgSQL keeps a statement's plan for the whole session: a join planned while the
    /// ledger was small scans the whole table, and measured 100 ms per call with 200,000 rows, against 0.2–0.5 ms
    /// for the lookups.
    private static let lockedLedgerRead = Migration(
        name: "v5-locked-ledger-read",
        statements: [
            """
            CREATE FUNCTION ledger_locked_rows(lock_ids bigint[], routes text[], dedup_keys text[])
            RETURNS SETOF ledger LANGUAGE plpgsql VOLATILE AS $body$
            BEGIN
                PERFORM pg_advisory_xact_lock(locks.id) FROM unnest(lock_ids) AS locks(id);
                RETURN QUERY SELECT found.* FROM unnest(routes, dedup_keys) AS wanted(route, dedup_key)
                    CROSS JOIN LATERAL (
                        SELECT * FROM ledger
                        WHERE ledger.route = wanted.route AND ledger.dedup_key = wanted.dedup_key LIMIT 1
                    ) AS found;
            END
            $body$
            """,
        ])
}
