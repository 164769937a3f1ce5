import GRDB

/// The store's tables and their migrations.
///
/// Conventions: times are `REAL` seconds since 1970-01-01 UTC (see ``StoredTime``); enumerations are stored as
/// their raw strings and checked by `CHECK` constraints; tables are `STRICT` so a wrong type is an error, not a
/// silent conversion. Migrations are append-only: never edit a registered one, register `v2` and so on.
enum SQLiteSchema {
    /// The migrator with every migration of the store, in order.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: createVersion1)
        migrator.registerMigration("v2-ledger-lifecycle", migrate: addLedgerLifecycle)
        migrator.registerMigration("outbox-summary-index", migrate: createOutboxSummaryIndex)
        migrator.registerMigration("v3-checks-without-in-lists", migrate: rewriteChecksWithoutInLists)
        migrator.registerMigration("v4-request-times", migrate: createRequestTimes)
        migrator.registerMigration("v5-incident-state", migrate: addIncidentState)
        migrator.registerMigration("v6-own-silence", migrate: addOwnSilence)
        migrator.registerMigration("v7-trace-context", migrate: addTraceContext)
        return migrator
    }

    /// When each request to PagerDuty finished, per dispatcher lane (a hash of the routing key, never the key),
    /// so the rate limiter's 60-second window survives a restart. Rows older than the window are pruned as new
    /// ones are written.
    private static func createRequestTimes(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE request_times (
                    lane TEXT NOT NULL,
                    finished_at REAL NOT NULL
                ) STRICT;
                CREATE INDEX request_times_lane ON request_times (lane, finished_at);
                """)
    }

    /// SQLite evaluates a `CHECK (x IN ('a', 'b', …))` by building a temporary B-tree of the list for every row
    /// written: six per new alert stored (four ledger columns, two outbox columns), more when the ledger upsert
    /// takes its update path, and together they cost more than the rows' own B-tree inserts. The same rules written as `x = 'a' OR x = 'b' …` are plain comparisons.
    /// SQLite cannot change a constraint in place, so the two tables are rebuilt with their rows, their indexes
    /// and the outbox's id sequence (ids are never given twice, even across this rebuild).
    private static func rewriteChecksWithoutInLists(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE ledger_rebuilt (
                route TEXT NOT NULL,
                dedup_key TEXT NOT NULL,
                last_action TEXT NOT NULL
                    CHECK (last_action = 'trigger' OR last_action = 'acknowledge' OR last_action = 'resolve'),
                last_action_at REAL NOT NULL,
                starts_at REAL,
                last_seen REAL NOT NULL,
                subject TEXT NOT NULL DEFAULT 'alert'
                    CHECK (subject = 'alert' OR subject = 'group' OR subject = 'change'),
                members TEXT,
                cause TEXT NOT NULL DEFAULT 'webhook'
                    CHECK (cause = 'webhook' OR cause = 'silenced' OR cause = 'inhibited' OR cause = 'reconciled'),
                summary TEXT,
                source TEXT,
                severity TEXT CHECK (
                    severity IS NULL OR severity = 'critical' OR severity = 'error' OR severity = 'warning'
                    OR severity = 'info'),
                resolve_held_until REAL,
                PRIMARY KEY (route, dedup_key)
            ) STRICT, WITHOUT ROWID;
            INSERT INTO ledger_rebuilt (\(ledgerColumns)) SELECT \(ledgerColumns) FROM ledger;
            DROP TABLE ledger;
            ALTER TABLE ledger_rebuilt RENAME TO ledger;
            CREATE INDEX ledger_last_seen ON ledger (last_seen);

            CREATE TABLE outbox_rebuilt (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                route TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (kind = 'trigger' OR kind = 'acknowledge' OR kind = 'resolve' OR kind = 'change'),
                dedup_key TEXT CHECK (kind = 'change' OR dedup_key IS NOT NULL),
                severity TEXT CHECK (
                    severity IS NULL OR severity = 'critical' OR severity = 'error' OR severity = 'warning'
                    OR severity = 'info'),
                body BLOB NOT NULL,
                created_at REAL NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                last_error TEXT
            ) STRICT;
            INSERT INTO outbox_rebuilt (\(outboxColumns)) SELECT \(outboxColumns) FROM outbox;
            DELETE FROM sqlite_sequence WHERE name = 'outbox_rebuilt';
            INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox_rebuilt', seq FROM sqlite_sequence WHERE name = 'outbox';
            DROP TABLE outbox;
            ALTER TABLE outbox_rebuilt RENAME TO outbox;
            CREATE INDEX outbox_route_summary ON outbox (route, id, kind, dedup_key, severity);
            """)
    }

    private static let ledgerColumns = """
        route, dedup_key, last_action, last_action_at, starts_at, last_seen, subject, members, cause, summary, source, \
        severity, resolve_held_until
        """

    private static let outboxColumns = "id, route, kind, dedup_key, severity, body, created_at, attempts, last_error"

    /// The dispatcher plans a lane from the summaries of up to thousands of pending messages, again every few
    /// deliveries: an index holding every summary column answers that without reading a single row (and its
    /// body). It starts with `(route, id)`, so it replaces `outbox_route_id`.
    private static func createOutboxSummaryIndex(_ db: Database) throws {
        try db.execute(sql: """
            CREATE INDEX outbox_route_summary ON outbox (route, id, kind, dedup_key, severity);
            DROP INDEX outbox_route_id;
            """)
    }

    private static func createVersion1(_ db: Database) throws {
        // The ledger: the last action queued per alert and route.
        try db.execute(sql: """
            CREATE TABLE ledger (
                route TEXT NOT NULL,
                dedup_key TEXT NOT NULL,
                last_action TEXT NOT NULL CHECK (last_action IN ('trigger', 'acknowledge', 'resolve')),
                last_action_at REAL NOT NULL,
                starts_at REAL,
                last_seen REAL NOT NULL,
                PRIMARY KEY (route, dedup_key)
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX ledger_last_seen ON ledger (last_seen);
            """)
        // The outbox. AUTOINCREMENT: an id is never given twice, even after the newest row was delivered,
        // so ids stay a delivery order and a dead letter's id names one message forever.
        try db.execute(sql: """
            CREATE TABLE outbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                route TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('trigger', 'acknowledge', 'resolve', 'change')),
                dedup_key TEXT CHECK (kind = 'change' OR dedup_key IS NOT NULL),
                severity TEXT CHECK (severity IS NULL OR severity IN ('critical', 'error', 'warning', 'info')),
                body BLOB NOT NULL,
                created_at REAL NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                last_error TEXT
            ) STRICT;
            CREATE INDEX outbox_route_id ON outbox (route, id);
            """)
        // Dead letters keep the outbox id of the message they were.
        try db.execute(sql: """
            CREATE TABLE dead_letters (
                id INTEGER PRIMARY KEY,
                route TEXT NOT NULL,
                kind TEXT NOT NULL,
                dedup_key TEXT,
                severity TEXT,
                body BLOB NOT NULL,
                created_at REAL NOT NULL,
                attempts INTEGER NOT NULL,
                last_error TEXT,
                reason TEXT NOT NULL,
                failed_at REAL NOT NULL
            ) STRICT;
            CREATE INDEX dead_letters_failed_at ON dead_letters (failed_at);
            """)
        // One row, rewritten by the readiness check to prove the file takes writes.
        try db.execute(sql: """
            CREATE TABLE heartbeat (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                checked_at REAL NOT NULL
            ) STRICT;
            """)
    }

    /// What the Alertmanager sync, group mode and flap damping need to know per ledger entry.
    private static func addLedgerLifecycle(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE ledger ADD COLUMN subject TEXT NOT NULL DEFAULT 'alert'
                CHECK (subject IN ('alert', 'group', 'change'));
            ALTER TABLE ledger ADD COLUMN members TEXT;
            ALTER TABLE ledger ADD COLUMN cause TEXT NOT NULL DEFAULT 'webhook'
                CHECK (cause IN ('webhook', 'silenced', 'inhibited', 'reconciled'));
            ALTER TABLE ledger ADD COLUMN summary TEXT;
            ALTER TABLE ledger ADD COLUMN source TEXT;
            ALTER TABLE ledger ADD COLUMN severity TEXT
                CHECK (severity IS NULL OR severity IN ('critical', 'error', 'warning', 'info'));
            ALTER TABLE ledger ADD COLUMN resolve_held_until REAL;
            """)
    }

    /// What PagerDuty's webhooks say about each entry's incident, the lookup of an entry by dedup_key (they name
    /// nothing else), and the ids of the webhook events applied (replays are recognised for 24 h). The check is
    /// written as comparisons, not an `IN` list, which SQLite would evaluate with a temporary B-tree per row (see
    /// `v3-checks-without-in-lists`).
    private static func addIncidentState(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE ledger ADD COLUMN incident_status TEXT
                CHECK (incident_status IS NULL OR incident_status = 'triggered' OR incident_status = 'acknowledged'
                    OR incident_status = 'resolved');
            ALTER TABLE ledger ADD COLUMN incident_changed_at REAL;
            ALTER TABLE ledger ADD COLUMN incident_changed_by TEXT;
            ALTER TABLE ledger ADD COLUMN incident_id TEXT;
            ALTER TABLE ledger ADD COLUMN incident_url TEXT;
            CREATE INDEX ledger_dedup_key ON ledger (dedup_key);
            CREATE INDEX ledger_incident_status ON ledger (incident_status) WHERE incident_status IS NOT NULL;
            CREATE TABLE inbound_events (
                id TEXT PRIMARY KEY,
                applied_at REAL NOT NULL
            ) STRICT;
            CREATE INDEX inbound_events_applied_at ON inbound_events (applied_at);
            """)
    }

    /// The silence this daemon keeps in Alertmanager for an entry (``OwnSilence``): why (`acknowledged` or
    /// `manual_resolve`), the PagerDuty state it answers, when it ends, and its id on each Alertmanager as a JSON
    /// object (keys sorted). All `NULL` while the entry has none. The check is written as comparisons, not an `IN`
    /// list, which SQLite would evaluate with a temporary B-tree per row (see `v3-checks-without-in-lists`).
    private static func addOwnSilence(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE ledger ADD COLUMN own_silence_purpose TEXT
                CHECK (own_silence_purpose IS NULL OR own_silence_purpose = 'acknowledged'
                    OR own_silence_purpose = 'manual_resolve');
            ALTER TABLE ledger ADD COLUMN own_silence_answering REAL;
            ALTER TABLE ledger ADD COLUMN own_silence_ends_at REAL;
            ALTER TABLE ledger ADD COLUMN own_silence_ids TEXT;
            """)
    }

    /// The W3C `traceparent` of the webhook that queued a message (``OutboxMessage/traceContext``), kept with the
    /// message (and its dead letter) so a delivery span links to that webhook's trace, also after a restart.
    /// `NULL` when tracing was off.
    private static func addTraceContext(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE outbox ADD COLUMN trace_context TEXT;
                ALTER TABLE dead_letters ADD COLUMN trace_context TEXT;
                """)
    }
}
