import Foundation
import GRDB
import PublisherCore
import Testing
@testable import PublisherSQLite

/// Migration `v3-checks-without-in-lists`: the ledger and the outbox are rebuilt with their enumeration checks
/// written as comparisons, which SQLite evaluates without a temporary B-tree per row.
@Suite("Schema v3: checks without IN lists", .timeLimit(.minutes(5)))
struct SQLiteSchemaRebuildTests {
    /// The opcodes of `sql` as SQLite would run it.
    static func opcodes(of sql: String, in db: Database) throws -> [String] {
        let statement = try db.makeStatement(sql: "EXPLAIN " + sql)
        let placeholders = StatementArguments(Array(repeating: nil as String?, count: sql.filter { $0 == "?" }.count))
        return try Row.fetchAll(statement, arguments: placeholders).map { $0["opcode"] as String }
    }

    @Test("writing a ledger entry and an outbox message builds no temporary B-tree")
    func writesBuildNoTemporaryBTree() async throws {
        try await withTemporaryStore { store, _ in
            // On the writer: reader connections compile no CHECK code at all.
            let opcodes = try await store.pool.write { db in
                (try Self.opcodes(of: LedgerRow.upsertSQL, in: db), try Self.opcodes(of: OutboxRow.insertSQL, in: db))
            }
            #expect(opcodes.0.contains("Insert") || opcodes.0.contains("IdxInsert"), "the upsert was explained")
            #expect(opcodes.1.contains("Insert"), "the insert was explained")
            #expect(!opcodes.0.contains("OpenEphemeral"), "the ledger upsert builds a temporary B-tree")
            #expect(!opcodes.1.contains("OpenEphemeral"), "the outbox insert builds a temporary B-tree")
        }
    }

    @Test(
        "the rewritten checks still refuse values outside each enumeration",
        arguments: [
            "INSERT INTO outbox (route, kind, dedup_key, body, created_at) VALUES ('r', 'bogus', 'k', x'00', 1)",
            "INSERT INTO outbox (route, kind, dedup_key, severity, body, created_at) VALUES ('r', 'trigger', 'k', 'loud', x'00', 1)",
            "INSERT INTO outbox (route, kind, body, created_at) VALUES ('r', 'trigger', x'00', 1)",
            "INSERT INTO ledger (route, dedup_key, last_action, last_action_at, last_seen) VALUES ('r', 'k', 'snooze', 1, 1)",
            "INSERT INTO ledger (route, dedup_key, last_action, last_action_at, last_seen, subject) VALUES ('r', 'k', 'trigger', 1, 1, 'team')",
            "INSERT INTO ledger (route, dedup_key, last_action, last_action_at, last_seen, cause) VALUES ('r', 'k', 'trigger', 1, 1, 'whim')",
            "INSERT INTO ledger (route, dedup_key, last_action, last_action_at, last_seen, incident_status) VALUES ('r', 'k', 'trigger', 1, 1, 'snoozed')",
            "INSERT INTO ledger (route, dedup_key, last_action, last_action_at, last_seen, own_silence_purpose) VALUES ('r', 'k', 'trigger', 1, 1, 'snoozed')",
            "INSERT INTO ledger (route, dedup_key, last_action, last_action_at, last_seen, severity) VALUES ('r', 'k', 'trigger', 1, 1, 'loud')",
        ]
    )
    func checksStillRefuse(_ sql: String) async throws {
        _ = try await withTemporaryStore { store, _ in
            await #expect(throws: DatabaseError.self) {
                try await store.pool.write { db in try db.execute(sql: sql) }
            }
        }
    }

    @Test("a database of the previous schema keeps its rows, its indexes and its id sequence")
    func upgradesThePreviousSchema() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("previous.sqlite")
        try await writeDatabase(
            at: path, migratedUpTo: "outbox-summary-index",
            sql: """
                INSERT INTO ledger (route, dedup_key, last_action, last_action_at, starts_at, last_seen, subject,
                    members, cause, summary, source, severity, resolve_held_until)
                VALUES ('default', 'a', 'acknowledge', 10, 5, 20, 'alert', NULL, 'silenced', 'Disk full', 'db-1',
                    'critical', NULL),
                    ('default', 'g', 'trigger', 11, NULL, 21, 'group', '["x","y"]', 'webhook', NULL, NULL, NULL, 99);
                INSERT INTO outbox (route, kind, dedup_key, severity, body, created_at, attempts, last_error)
                VALUES ('default', 'trigger', 'a', 'critical', x'7B7D', 1, 3, 'HTTP 502'),
                    ('other', 'change', NULL, NULL, x'00FF', 2, 0, NULL),
                    ('default', 'resolve', 'a', NULL, x'01', 3, 0, NULL);
                DELETE FROM outbox WHERE id = 3;
                """)
        let store = try SQLiteStore(path: path)
        defer { try? store.close() }

        let ledger = try await store.loadLedger(seenSince: .distantPast).sorted { $0.dedupKey < $1.dedupKey }
        #expect(ledger.map(\.dedupKey) == ["a", "g"])
        #expect(ledger.first?.lastAction == .acknowledge && ledger.first?.cause == .silenced)
        #expect(ledger.first?.remembered?.summary == "Disk full" && ledger.first?.remembered?.severity == .critical)
        #expect(ledger.last?.resolveHeldUntil == Date(timeIntervalSince1970: 99))

        let pending = try await store.pendingMessages(route: "default", limit: 10)
        #expect(pending.map(\.id) == [1])
        #expect(pending.first?.attempts == 3 && pending.first?.lastError == "HTTP 502")
        #expect(pending.first?.message.body == Data([0x7B, 0x7D]))
        #expect(try await store.pendingMessages(route: "other", limit: 10).map(\.id) == [2])

        let next = try await store.commit(
            ledger: [],
            outbox: [
                OutboxMessage(
                    route: "default", kind: .trigger, dedupKey: "b", severity: .warning, body: Data([0x7B]),
                    createdAt: Date(timeIntervalSince1970: 4))
            ])
        #expect(next == [4], "id 3 was given before the rebuild, so it is never given again")

        let schema = try await store.pool.read { db in
            (
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"),
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_sequence ORDER BY name"),
                try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE name IN ('ledger', 'outbox')")
            )
        }
        #expect(schema.0 == [
            "dead_letters_failed_at", "inbound_events_applied_at", "ledger_dedup_key", "ledger_incident_status",
            "ledger_last_seen", "outbox_route_summary", "request_times_lane",
        ])
        #expect(schema.1 == ["outbox"])
        #expect(schema.2.count == 2 && schema.2.allSatisfy { !$0.contains(" IN (") })
    }
}
