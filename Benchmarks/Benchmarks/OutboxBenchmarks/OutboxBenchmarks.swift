import Benchmark
import Foundation
import GRDB
import PagerDutyEvents
import Synchronization

// Durable writes through GRDB with the daemon's connection settings: a file-backed DatabasePool in WAL mode,
// busy timeout 5 s, foreign keys on, and `PRAGMA synchronous = FULL` set on the writer after opening (what
// PublisherSQLite's SQLiteStore does). The outbox and ledger tables are copies of the store's v1 schema.
//
// These are the BASELINE for the store's own enqueue (`SQLiteStore.commit(ledger:outbox:)`, in
// StoreBenchmarks.swift, run in the same process). The `synchronous = NORMAL` runs show how much of each
// figure is the fsync of the commit.
//
// The database files go to $BENCHMARK_DATABASE_DIR, else the system temporary directory (it must be a real
// disk, not tmpfs, or fsync costs nothing). Run: `swift package benchmark --target OutboxBenchmarks`.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        maxDuration: .seconds(5),
        maxIterations: 2_000
    )

    for synchronous in ["FULL", "NORMAL"] {
        for rowCount in [1, 1_000] {
            // One database per benchmark, opened by its setup and shared by all its samples (as the daemon keeps
            // one open), so the figures include WAL growth and automatic checkpoints but not opening a file.
            let outboxOnly = DatabaseSlot(synchronous: synchronous)
            let ledgerAndOutbox = DatabaseSlot(synchronous: synchronous)
            let rows = OutboxDatabase.rows(count: rowCount)

            /// Measures one write transaction inserting `rowCount` outbox rows (JSON trigger events with 10 custom
            /// details as bodies) with a cached prepared statement, then committing: the outbox half of the daemon's enqueue.
            Benchmark(
                "GRDB outbox insert ×\(rowCount) in one transaction (WAL, synchronous=\(synchronous))"
            ) { benchmark in
                for _ in benchmark.scaledIterations {
                    try outboxOnly.database().insertOutbox(rows)
                }
            } setup: {
                try outboxOnly.open()
            } teardown: {
                outboxOnly.remove()
            }

            /// Measures the same transaction plus an upsert of one ledger row per message: the full shape of
            /// `SQLiteStore.commit(ledger:outbox:)`. The ledger rows exist after the first iteration, so this
            /// measures the re-notified (update) path of the upsert.
            Benchmark(
                "GRDB ledger upsert + outbox insert ×\(rowCount) in one transaction (WAL, synchronous=\(synchronous))"
            ) { benchmark in
                for _ in benchmark.scaledIterations {
                    try ledgerAndOutbox.database().commitLedgerAndOutbox(rows)
                }
            } setup: {
                try ledgerAndOutbox.open()
            } teardown: {
                ledgerAndOutbox.remove()
            }
        }
    }

    registerStoreBenchmarks()
}

/// Holds the database of one benchmark from its setup to its teardown, so that only the benchmark that runs
/// creates a file.
final class DatabaseSlot: Sendable {
    private let synchronous: String
    private let current = Mutex<OutboxDatabase?>(nil)

    init(synchronous: String) {
        self.synchronous = synchronous
    }

    /// Creates the database file.
    func open() throws {
        let database = try OutboxDatabase(synchronous: synchronous)
        current.withLock { $0 = database }
    }

    /// The open database; fails when ``open()`` has not run.
    func database() throws -> OutboxDatabase {
        guard let database = current.withLock({ $0 }) else {
            throw DatabaseError(message: "the benchmark database was not opened by the setup")
        }
        return database
    }

    /// Deletes the database file, if one was opened.
    func remove() {
        current.withLock { database in
            database?.remove()
            database = nil
        }
    }
}

/// One outbox message as the store writes it.
struct OutboxRowValues: Sendable {
    var route: String
    var dedupKey: String
    var body: Data
    var createdAt: Double
}

/// A fresh database file with the store's tables and connection settings.
final class OutboxDatabase: Sendable {
    let path: String
    let pool: DatabasePool

    init(synchronous: String) throws {
        let directory = ProcessInfo.processInfo.environment["BENCHMARK_DATABASE_DIR"] ?? NSTemporaryDirectory()
        path = (directory as NSString).appendingPathComponent("outbox-benchmark-\(UUID().uuidString).sqlite")
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.foreignKeysEnabled = true
        configuration.journalMode = .wal
        pool = try DatabasePool(path: path, configuration: configuration)
        try pool.write { db in
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
        }
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        let applied = try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        let expected = synchronous == "FULL" ? 2 : 1
        guard applied == expected else {
            throw DatabaseError(message: "PRAGMA synchronous is \(String(describing: applied)), not \(synchronous)")
        }
    }

    /// `count` distinct messages of a realistic size, spread over 10 routes.
    static func rows(count: Int) -> [OutboxRowValues] {
        (0..<count).map { index in
            let event = AlertEvent(
                routingKey: "R0123456789ABCDEF0123456789ABCDE",
                eventAction: .trigger,
                dedupKey: String(format: "%016llx", UInt64(index) &* 0x9E37_79B9_7F4A_7C15),
                payload: AlertPayload(
                    summary: "Disk almost full on db-\(index): 97% of /var/lib/postgresql used",
                    source: "db-\(index).prod.example:9100",
                    severity: .critical,
                    timestamp: "2026-11-23T13:52:16.045Z",
                    component: "node",
                    group: "eu-west-1",
                    class: "DiskAlmostFull",
                    customDetails: [
                        "alertname": "DiskAlmostFull", "instance": .string("db-\(index).prod.example:9100"),
                        "job": "node", "severity": "critical", "team": "storage", "cluster": "eu-west-1",
                        "device": "/dev/nvme0n1", "mountpoint": "/var/lib/postgresql",
                        "annotation_description": "The file system will be full within 4 hours at the current rate.",
                        "annotation_runbook_url": "https://runbooks.example/storage/disk-almost-full",
                    ]
                ),
                client: "Alertmanager",
                clientURL: "http://alertmanager.example:9093",
                links: [Link(href: "http://prometheus.example:9090/graph?g0.expr=node_filesystem", text: "Source")]
            )
            return OutboxRowValues(
                route: "route-\(index % 10)",
                dedupKey: event.dedupKey!,
                body: Data(try! EventEncoding.encode(event)),
                createdAt: 1_795_000_000 + Double(index)
            )
        }
    }

    /// Inserts `rows` into the outbox in one write transaction.
    func insertOutbox(_ rows: [OutboxRowValues]) throws {
        try pool.write { db in
            let insert = try db.cachedStatement(sql: Self.insertSQL)
            for row in rows {
                try insert.execute(arguments: Self.insertArguments(row))
                blackHole(db.lastInsertedRowID)
            }
        }
    }

    /// Upserts one ledger row per message and inserts the messages, in one write transaction.
    func commitLedgerAndOutbox(_ rows: [OutboxRowValues]) throws {
        try pool.write { db in
            let upsert = try db.cachedStatement(sql: Self.upsertSQL)
            for row in rows {
                try upsert.execute(arguments: [
                    row.route, row.dedupKey, "trigger", row.createdAt, row.createdAt, row.createdAt,
                ])
            }
            let insert = try db.cachedStatement(sql: Self.insertSQL)
            for row in rows {
                try insert.execute(arguments: Self.insertArguments(row))
                blackHole(db.lastInsertedRowID)
            }
        }
    }

    /// Closes the pool and deletes the database with its WAL and shared-memory files.
    func remove() {
        try? pool.close()
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: path + suffix)
        }
    }

    private static let insertSQL = """
        INSERT INTO outbox (route, kind, dedup_key, severity, body, created_at) VALUES (?, ?, ?, ?, ?, ?)
        """

    private static let upsertSQL = """
        INSERT INTO ledger (route, dedup_key, last_action, last_action_at, starts_at, last_seen)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (route, dedup_key) DO UPDATE SET
            last_action = excluded.last_action,
            last_action_at = excluded.last_action_at,
            starts_at = excluded.starts_at,
            last_seen = excluded.last_seen
        """

    private static func insertArguments(_ row: OutboxRowValues) -> StatementArguments {
        [row.route, "trigger", row.dedupKey, "critical", row.body, row.createdAt]
    }
}
