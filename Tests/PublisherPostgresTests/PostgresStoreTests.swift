import Foundation
import Logging
import PagerDutyEvents
import PostgresNIO
import PublisherCore
import PublisherSQLite
@testable import PublisherPostgres
import PublisherTestSupport
import Synchronization
import Testing

@Suite(
    "PostgreSQL store: schema, shared-store reads, notifications, readiness",
    .enabled(if: PostgresAvailability.isConfigured, Comment(rawValue: PostgresAvailability.reason)),
    .timeLimit(.minutes(5)))
struct PostgresStoreTests {
    @Test("migrate is idempotent and records its named migrations")
    func migrateIsIdempotent() async throws {
        try await withPostgresDatabase(label: "migrate") { database in
            try await withPostgresStore(database) { store in
                try await store.migrate()
                try await store.migrate()
                #expect(try await store.appliedMigrations() == ["v1", "v2-incident-state", "v3-own-silence", "v4-trace-context", "v5-locked-ledger-read"])
                let tables = try database.psql(
                    "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")
                #expect(tables == "dead_letters,heartbeat,inbound_events,ledger,outbox,request_times,schema_migrations")
            }
        }
    }

    @Test("three replicas migrating a fresh database at once all succeed, and the schema is created once")
    func concurrentMigrations() async throws {
        try await withPostgresDatabase(label: "migrate_race") { database in
            let settings = try PostgresSettings(url: database.url)
            try await withPostgresClient(settings.clientConfiguration) { first in
                try await withPostgresClient(settings.clientConfiguration) { second in
                    try await withPostgresClient(settings.clientConfiguration) { third in
                        let stores = [first, second, third].map { PostgresStore(client: $0, logger: testLogger) }
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for store in stores {
                                group.addTask { try await store.migrate() }
                            }
                            try await group.waitForAll()
                        }
                        for store in stores {
                            #expect(try await store.appliedMigrations() == ["v1", "v2-incident-state", "v3-own-silence", "v4-trace-context", "v5-locked-ledger-read"])
                            try await store.checkWritable()
                        }
                    }
                }
            }
        }
    }

    @Test("a database migrated by a newer version is refused with a sentence")
    func newerSchemaIsRefused() async throws {
        try await withPostgresDatabase(label: "newer") { database in
            try await withPostgresStore(database) { store in
                try database.psql("INSERT INTO schema_migrations (name) VALUES ('v99-from-the-future')")
                let error = await #expect(throws: StoreError.self) { try await store.migrate() }
                #expect(error?.reason.contains("newer version") == true)
                #expect(error?.reason.contains("v99-from-the-future") == true)
            }
        }
    }

    @Test("decide reads PostgreSQL's rows, never the cache it is handed")
    func decideIgnoresTheCache() async throws {
        try await withPostgresDatabase(label: "cache") { database in
            try await withPostgresStore(database) { store in
                let stored = ledgerEntry(dedupKey: "a", action: .resolve)
                try await store.commit(ledger: [stored], outbox: [])
                let staleCache = LedgerCache()
                staleCache.apply([ledgerEntry(dedupKey: "a", action: .trigger), ledgerEntry(dedupKey: "b")])
                let seen = try await store.decide(
                    keys: [LedgerKey(route: "default", dedupKey: "a"), LedgerKey(route: "default", dedupKey: "b")],
                    cache: staleCache
                ) { entries in
                    LedgerChanges(ledger: [], outbox: [], outcome: entries)
                }
                #expect(seen == [LedgerKey(route: "default", dedupKey: "a"): stored])
            }
        }
    }

    @Test("the locked read looks keys up by the primary key, even with a plan its session made when the ledger was empty")
    func theLockedReadNeverScansTheLedger() async throws {
        try await withPostgresDatabase(label: "lockedread") { database in
            try await withPostgresStore(database) { store in
                try await store.migrate()
            }
            // One session: PL/pgSQL keeps the read's plan, made (generic, as after a few calls) on the empty
            // ledger; then the ledger grows. In one transaction, pg_stat_xact_user_tables counts its scans.
            let output = try database.psql(
                """
                SET plan_cache_mode = force_generic_plan;
                SELECT count(*) FROM ledger_locked_rows('{1}', '{default}', '{none}');
                INSERT INTO ledger (route, dedup_key, last_action, last_action_at, last_seen)
                    SELECT 'default', 'k' || i, 'trigger', now(), now() FROM generate_series(1, 5000) AS i;
                CREATE TEMPORARY TABLE scans_before AS
                    SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'ledger';
                SELECT count(*) FROM ledger_locked_rows('{2,3,4}', '{default,default,default}', '{k1,k2,missing}');
                SELECT (SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'ledger')
                    - (SELECT seq_scan FROM scans_before);
                """)
            let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(lines.suffix(2) == ["2", "0"], "rows found, then sequential scans of the ledger: \(lines)")
        }
    }

    @Test("ledgerEntries(dedupKey:) returns that dedup_key's entry on every route and nothing else")
    func entriesByDedupKey() async throws {
        try await withPostgresDatabase(label: "bykey") { database in
            try await withPostgresStore(database) { store in
                let db = ledgerEntry(route: "db", dedupKey: "shared")
                let web = ledgerEntry(route: "web", dedupKey: "shared")
                try await store.commit(ledger: [web, db, ledgerEntry(route: "db", dedupKey: "other")], outbox: [])
                #expect(try await store.ledgerEntries(dedupKey: "shared") == [db, web])
                #expect(try await store.ledgerEntries(dedupKey: "missing").isEmpty)
            }
        }
    }

    @Test("syncCandidates and heldResolves select exactly what the in-memory path selects")
    func sharedStoreSelections() async throws {
        // Every combination of subject, last action, cause, hold (past, due now, future) and silence of ours.
        var entries: [LedgerEntry] = []
        let subjects: [LedgerSubject] = [.alert, .group(members: ["f1", "f2"]), .change]
        let holds: [Date?] = [nil, Times.at(-5), Times.at(0), Times.at(5)]
        let silences: [OwnSilence?] = [
            nil, OwnSilence(purpose: .manualResolve, answering: Times.at(-1), endsAt: Times.at(60), ids: ["am": "s-1"]),
        ]
        for (s, subject) in subjects.enumerated() {
            for action in [EventAction.trigger, .acknowledge, .resolve] {
                for cause in LedgerCause.allCases {
                    for (h, hold) in holds.enumerated() {
                        for (o, silence) in silences.enumerated() {
                            var entry = ledgerEntry(
                                route: s % 2 == 0 ? "db" : "web",
                                dedupKey: "\(s)-\(action.rawValue)-\(cause.rawValue)-\(h)-\(o)", action: action)
                            entry.subject = subject
                            entry.cause = cause
                            entry.resolveHeldUntil = hold
                            entry.ownSilence = silence
                            entries.append(entry)
                        }
                    }
                }
            }
        }
        let cache = LedgerCache()
        cache.apply(entries)
        // AlertmanagerSync's filter over its cache (AlertmanagerSync.isCandidate).
        let expectedCandidates = cache.entries { entry in
            guard entry.subject != .change else { return false }
            if entry.ownSilence != nil { return true }
            guard entry.resolveHeldUntil == nil else { return false }
            return entry.isOpen || (entry.lastAction == .resolve && (entry.cause == .silenced || entry.cause == .inhibited))
        }
        // FlapDamping's read of the cache. A held resolve on an entry already resolved is not a resolve to send
        // (LedgerRules only hold the resolve of an open entry, so such a row never arises).
        let expectedHeld = cache.heldResolves(dueAt: Times.at(0)).filter { $0.lastAction != .resolve }
        #expect(!expectedCandidates.isEmpty && !expectedHeld.isEmpty)

        try await withPostgresDatabase(label: "selections") { database in
            try await withPostgresStore(database) { store in
                try await store.commit(ledger: entries, outbox: [])
                let candidates = try await store.syncCandidates()
                #expect(Set(candidates) == Set(expectedCandidates))
                #expect(candidates.count == expectedCandidates.count)
                let held = try await store.heldResolves(dueAt: Times.at(0))
                #expect(Set(held) == Set(expectedHeld))
                #expect(held.count == expectedHeld.count)
                #expect(held.allSatisfy { $0.resolveHeldUntil! <= Times.at(0) })
                #expect(try await store.heldResolves(dueAt: Times.at(-100)).isEmpty)
            }
        }
    }

    @Test("a resolved entry with a silence of ours is a sync candidate, even with a resolve held; without one it is not")
    func resolvedEntriesWithOwnSilenceAreCandidates() async throws {
        try await withPostgresDatabase(label: "silence_candidates") { database in
            try await withPostgresStore(database) { store in
                var silenced = ledgerEntry(dedupKey: "silenced", action: .resolve)
                silenced.ownSilence = OwnSilence(
                    purpose: .manualResolve, answering: Times.at(1), endsAt: Times.at(3601), ids: ["am": "s-1"])
                var held = ledgerEntry(dedupKey: "held")
                held.resolveHeldUntil = Times.at(30)
                held.ownSilence = OwnSilence(purpose: .acknowledged, answering: Times.at(2), endsAt: Times.at(602))
                var change = ledgerEntry(dedupKey: "change")
                change.subject = .change
                change.ownSilence = silenced.ownSilence
                let plain = ledgerEntry(dedupKey: "plain", action: .resolve)
                try await store.commit(ledger: [silenced, held, change, plain], outbox: [])
                #expect(try await store.syncCandidates() == [held, silenced])

                // Its silence ended: a plain resolved entry again.
                silenced.ownSilence = nil
                try await store.commit(ledger: [silenced], outbox: [])
                #expect(try await store.syncCandidates() == [held])
            }
        }
    }

    @Test("a silence of ours is stored as its columns (ids as a JSON object, keys sorted) and cleared to NULLs")
    func ownSilenceColumns() async throws {
        try await withPostgresDatabase(label: "silence_columns") { database in
            try await withPostgresStore(database) { store in
                var entry = ledgerEntry(dedupKey: "a", action: .acknowledge)
                entry.ownSilence = OwnSilence(
                    purpose: .manualResolve, answering: Times.at(1), endsAt: Times.at(3601),
                    ids: ["west": "s-2", "east": "s-1"])
                try await store.commit(ledger: [entry], outbox: [])
                let row = try database.psql(
                    """
                    SELECT own_silence_purpose, own_silence_answering = to_timestamp(\(Times.at(1).timeIntervalSince1970)),
                        own_silence_ends_at = to_timestamp(\(Times.at(3601).timeIntervalSince1970)), own_silence_ids
                    FROM ledger
                    """)
                #expect(row == #"manual_resolve|t|t|{"east":"s-1","west":"s-2"}"#)

                entry.ownSilence = nil
                try await store.commit(ledger: [entry], outbox: [])
                let cleared = try database.psql(
                    """
                    SELECT own_silence_purpose IS NULL AND own_silence_answering IS NULL AND own_silence_ends_at IS NULL
                        AND own_silence_ids IS NULL
                    FROM ledger
                    """)
                #expect(cleared == "t")
                let refused = #expect(throws: PostgresTestDatabaseError.self) {
                    try database.psql("UPDATE ledger SET own_silence_purpose = 'acknowledged'")
                }
                #expect(refused?.reason.contains("ledger_own_silence_complete") == true, "\(String(describing: refused))")
                #expect(throws: PostgresTestDatabaseError.self) {
                    try database.psql(
                        """
                        UPDATE ledger SET own_silence_purpose = 'snoozed', own_silence_answering = now(),
                            own_silence_ends_at = now(), own_silence_ids = '{}'
                        """)
                }
            }
        }
    }

    @Test("a database of the previous schema keeps its rows (without silences of ours) and gets the new candidates index")
    func upgradesTheIncidentStateSchema() async throws {
        try await withPostgresDatabase(label: "upgrade_v3") { database in
            try database.psql(PostgresSchema.createMigrationsTable)
            for migration in PostgresSchema.migrations.prefix(while: { $0.name != "v3-own-silence" }) {
                for statement in migration.statements { try database.psql(statement) }
                try database.psql("INSERT INTO schema_migrations (name) VALUES ('\(migration.name)')")
            }
            try database.psql(
                """
                INSERT INTO ledger (route, dedup_key, last_action, last_action_at, last_seen, cause,
                    incident_status, incident_changed_at, incident_id)
                VALUES ('default', 'a', 'acknowledge', now(), now(), 'webhook', 'acknowledged', now(), 'PQ1'),
                    ('default', 'b', 'resolve', now(), now(), 'silenced', NULL, NULL, NULL),
                    ('default', 'c', 'resolve', now(), now(), 'webhook', 'resolved', now(), 'PQ2')
                """)
            try await withPostgresStore(database) { store in
                #expect(try await store.appliedMigrations() == ["v1", "v2-incident-state", "v3-own-silence", "v4-trace-context", "v5-locked-ledger-read"])
                let ledger = try await store.loadLedger(seenSince: .distantPast)
                #expect(ledger.map(\.dedupKey) == ["a", "b", "c"])
                #expect(ledger.allSatisfy { $0.ownSilence == nil })
                #expect(ledger.first?.incident?.incidentID == "PQ1" && ledger.last?.incident?.status == .resolved)
                #expect(try await store.syncCandidates().map(\.dedupKey) == ["a", "b"])

                var c = try #require(ledger.last)
                c.ownSilence = OwnSilence(purpose: .manualResolve, answering: Times.at(1), endsAt: Times.at(61))
                try await store.commit(ledger: [c], outbox: [])
                #expect(try await store.syncCandidates().map(\.dedupKey) == ["a", "b", "c"])
                let index = try database.psql(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'ledger_sync_candidates'")
                #expect(index.contains("own_silence_purpose IS NOT NULL"), "\(index)")
            }
        }
    }

    @Test("migrate-store carries each entry's incident state and silence of ours from SQLite to PostgreSQL")
    func transferCarriesOwnSilences() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("publisher-transfer-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try SQLiteStore(path: directory.appendingPathComponent("source.sqlite").path)
        defer { try? source.close() }
        var acknowledged = ledgerEntry(dedupKey: "a", action: .acknowledge)
        acknowledged.incident = IncidentState(
            status: .acknowledged, changedAt: Times.at(3), changedBy: "Ada", incidentID: "PQ1", incidentURL: nil)
        acknowledged.ownSilence = OwnSilence(
            purpose: .acknowledged, answering: Times.at(3), endsAt: Times.at(603), ids: ["east": "s-1", "west": "s-2"])
        var resolved = ledgerEntry(dedupKey: "b", action: .resolve)
        resolved.ownSilence = OwnSilence(purpose: .manualResolve, answering: Times.at(4), endsAt: Times.at(7204))
        let plain = ledgerEntry(dedupKey: "c")
        try await source.commit(ledger: [acknowledged, resolved, plain], outbox: [])

        try await withPostgresDatabase(label: "transfer") { database in
            try await withPostgresStore(database) { target in
                let report = try await StoreTransfer.copy(from: source, to: target)
                #expect(report.ledgerEntries == 3)
                #expect(try await target.loadLedger(seenSince: .distantPast) == [acknowledged, resolved, plain])
                #expect(try await target.syncCandidates() == [acknowledged, resolved, plain])
            }
        }
    }

    @Test("the summary, sync-candidate and held-resolve reads use their indexes")
    func readsUseTheirIndexes() async throws {
        try await withPostgresDatabase(label: "plans") { database in
            try await withPostgresStore(database) { _ in
                func plan(_ query: String) throws -> String {
                    try database.psql("SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN (COSTS OFF) \(query)")
                }
                let summaries = try plan(
                    "SELECT id, kind, dedup_key, severity FROM outbox WHERE route = 'db' ORDER BY id LIMIT 100")
                #expect(summaries.contains("outbox_route_summary"), "\(summaries)")
                #expect(!summaries.contains("Sort"), "\(summaries)")
                let candidates = try plan(
                    """
                    SELECT * FROM ledger WHERE subject <> 'change' AND (own_silence_purpose IS NOT NULL \
                    OR (resolve_held_until IS NULL AND (last_action <> 'resolve' OR cause IN ('silenced', 'inhibited')))) \
                    ORDER BY route, dedup_key
                    """)
                #expect(candidates.contains("ledger_sync_candidates"), "\(candidates)")
                let held = try plan(
                    """
                    SELECT * FROM ledger WHERE resolve_held_until IS NOT NULL AND last_action <> 'resolve' \
                    AND resolve_held_until <= now()
                    """)
                #expect(held.contains("ledger_held_resolves"), "\(held)")
                let times = try plan(
                    "SELECT finished_at FROM request_times WHERE lane = 'x' AND finished_at >= now() ORDER BY finished_at")
                #expect(times.contains("request_times_lane"), "\(times)")
            }
        }
    }

    @Test("appends NOTIFY their routes at commit, once per route; a transaction that fails at COMMIT notifies nothing")
    func notificationsAtCommit() async throws {
        try await withPostgresDatabase(label: "notify") { database in
            try await withPostgresStore(database) { store in
                // Rows of the route "doomed" fail a deferred check, which runs at COMMIT, after the NOTIFY.
                try database.psql(
                    """
                    CREATE FUNCTION refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'doomed route refused at commit'; END $$;
                    CREATE CONSTRAINT TRIGGER doomed AFTER INSERT ON outbox DEFERRABLE INITIALLY DEFERRED
                    FOR EACH ROW WHEN (NEW.route = 'doomed') EXECUTE FUNCTION refuse_doomed();
                    """)
                let listener = try await NotificationRecorder.start(database: database)
                defer { listener.stop() }

                let error = await #expect(throws: StoreError.self) {
                    try await store.commit(ledger: [], outbox: [outboxMessage(route: "doomed")])
                }
                #expect(error?.reason.contains("doomed route refused at commit") == true)
                try await store.commit(ledger: [], outbox: [
                    outboxMessage(route: "db", dedupKey: "1"),
                    outboxMessage(route: "web", dedupKey: "2"),
                    outboxMessage(route: "db", dedupKey: "3"),
                ])
                let alerts = AlertDecisions(store: store, route: "mail")
                _ = try await alerts.send([("m1", .firing), ("m2", .firing)], at: Times.at(0))
                _ = try await alerts.send([("m1", .firing)], at: Times.at(1))  // No change: no append, no NOTIFY.
                try await store.moveToDeadLetters(id: 1_000_000, reason: "absent", at: Times.at(2))
                let moved = try await store.commit(ledger: [], outbox: [outboxMessage(route: "dead")])
                try await store.moveToDeadLetters(id: moved[0], reason: "HTTP 400", at: Times.at(3))
                #expect(try await store.requeueDeadLetters(ids: nil) == 1)

                #expect(await eventually { listener.payloads.count >= 5 })
                #expect(listener.payloads == ["db", "web", "mail", "dead", "dead"])
            }
        }
    }

    @Test("a write that fails at COMMIT reports it and leaves nothing (writes never run in autocommit)")
    func failuresAtCommitAreReported() async throws {
        try await withPostgresDatabase(label: "commit_failure") { database in
            try await withPostgresStore(database) { store in
                try database.psql(
                    """
                    CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
                    CREATE CONSTRAINT TRIGGER doomed_dead AFTER INSERT ON dead_letters DEFERRABLE INITIALLY DEFERRED
                    FOR EACH ROW WHEN (NEW.reason = 'doomed') EXECUTE FUNCTION refuse();
                    CREATE CONSTRAINT TRIGGER doomed_times AFTER INSERT ON request_times DEFERRABLE INITIALLY DEFERRED
                    FOR EACH ROW WHEN (NEW.lane = 'doomed') EXECUTE FUNCTION refuse();
                    CREATE CONSTRAINT TRIGGER doomed_ledger AFTER INSERT OR UPDATE ON ledger
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.route = 'doomed') EXECUTE FUNCTION refuse();
                    """)
                let ids = try await store.commit(ledger: [], outbox: [outboxMessage()])
                let deadLetter = await #expect(throws: StoreError.self) {
                    try await store.moveToDeadLetters(id: ids[0], reason: "doomed", at: Times.at(1))
                }
                #expect(deadLetter?.reason.contains("refused at commit") == true)
                #expect(try await store.pendingMessages(ids: ids).map(\.id) == ids)
                #expect(try await store.deadLetters(limit: 10).isEmpty)

                await #expect(throws: StoreError.self) {
                    try await store.recordRequest(lane: "doomed", finishedAt: Times.at(2))
                }
                #expect(try await store.requestTimes(lane: "doomed", since: .distantPast).isEmpty)
                await #expect(throws: StoreError.self) {
                    try await store.commit(ledger: [ledgerEntry(route: "doomed", dedupKey: "a")], outbox: [])
                }
                #expect(try await store.loadLedger(seenSince: .distantPast).isEmpty)
            }
        }
    }

    @Test("a NUL in text a sender controls is stored as U+FFFD instead of failing every retry")
    func nulCharacters() async throws {
        try await withPostgresDatabase(label: "nul") { database in
            try await withPostgresStore(database) { store in
                var entry = ledgerEntry(dedupKey: "a")
                entry.remembered = RememberedPayload(summary: "disk\u{0}full", source: "db\u{0}1", severity: .error)
                let ids = try await store.commit(ledger: [entry], outbox: [outboxMessage(dedupKey: "a")])
                let stored = try #require(try await store.loadLedger(seenSince: .distantPast).first)
                #expect(stored.remembered?.summary == "disk\u{FFFD}full")
                #expect(stored.remembered?.source == "db\u{FFFD}1")
                try await store.recordFailedAttempt(id: ids[0], error: "HTTP 400: bad\u{0}byte")
                #expect(try await store.pendingMessages(ids: ids).first?.lastError == "HTTP 400: bad\u{FFFD}byte")
                try await store.moveToDeadLetters(id: ids[0], reason: "refused\u{0}", at: Times.at(1))
                #expect(try await store.deadLetters(limit: 1).first?.reason == "refused\u{FFFD}")
            }
        }
    }

    @Test("checkWritable fails on a read-only database and on a connection with synchronous_commit off")
    func checkWritableFailures() async throws {
        try await withPostgresDatabase(label: "readonly") { database in
            try await withPostgresStore(database) { store in try await store.checkWritable() }

            var unsynchronised = try PostgresSettings(url: database.url).clientConfiguration
            unsynchronised.options.additionalStartupParameters = [("synchronous_commit", "off")]
            try await withPostgresClient(unsynchronised) { client in
                let store = PostgresStore(client: client, logger: testLogger)
                let error = await #expect(throws: StoreError.self) { try await store.checkWritable() }
                #expect(error?.reason.contains("synchronous_commit=off") == true)
            }

            try database.psql("ALTER DATABASE \(database.name) SET default_transaction_read_only = on")
            try await withPostgresClient(try PostgresSettings(url: database.url).clientConfiguration) { client in
                let store = PostgresStore(client: client, logger: testLogger)
                let error = await #expect(throws: StoreError.self) { try await store.checkWritable() }
                #expect(error?.reason.contains("read-only") == true)
                #expect(error?.reason.contains("25006") == true)
                await #expect(throws: StoreError.self) {
                    try await store.commit(ledger: [], outbox: [outboxMessage()])
                }
            }
        }
    }
}

/// Listens on the store's channel on a plain connection of its own and records the payloads received.
final class NotificationRecorder: Sendable {
    private let received = Mutex<[String]>([])
    private let task: Mutex<Task<Void, any Error>?> = Mutex(nil)

    var payloads: [String] { received.withLock { $0 } }

    static func start(database: PostgresTestDatabase) async throws -> NotificationRecorder {
        let recorder = NotificationRecorder()
        let settings = try PostgresSettings(url: database.url)
        let configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: nil,
            database: settings.database, tls: .disable)
        let listening = AsyncStream<Void>.makeStream()
        let task = Task {
            let connection = try await PostgresConnection.connect(
                configuration: configuration, id: 1, logger: testLogger)
            defer { Task { try? await connection.close() } }
            try await connection.listen(on: PostgresStore.notificationChannel) { notifications in
                listening.continuation.yield()
                for try await notification in notifications {
                    recorder.received.withLock { $0.append(notification.payload) }
                }
            }
        }
        recorder.task.withLock { $0 = task }
        for await _ in listening.stream { break }
        return recorder
    }

    func stop() {
        task.withLock { $0?.cancel() }
    }
}
