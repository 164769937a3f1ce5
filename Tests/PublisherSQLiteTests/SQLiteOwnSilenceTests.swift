import Foundation
import GRDB
import PublisherCore
import Testing
@testable import PublisherSQLite

/// Migration `v6-own-silence`: the silence this daemon keeps in Alertmanager for an entry, in four nullable
/// columns of the ledger.
@Suite("Schema v6: silences of ours on the ledger", .timeLimit(.minutes(5)))
struct SQLiteOwnSilenceTests {
    /// The four columns of the entry `dedupKey`, as stored.
    static func columns(of dedupKey: String, in store: SQLiteStore) async throws -> Row? {
        try await store.pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT own_silence_purpose, own_silence_answering, own_silence_ends_at, own_silence_ids
                    FROM ledger WHERE dedup_key = ?
                    """,
                arguments: [dedupKey])
        }
    }

    @Test("a silence of ours is stored as its columns (ids as a JSON object, keys sorted) and cleared to NULLs")
    func columnsAreWrittenAndCleared() async throws {
        try await withTemporaryStore { store, _ in
            var entry = ledgerEntry(dedupKey: "a", action: .acknowledge)
            entry.ownSilence = OwnSilence(
                purpose: .manualResolve, answering: Times.at(1), endsAt: Times.at(3601),
                ids: ["west": "s-2", "east": "s-1", "north/1": "s-3"])
            try await store.commit(ledger: [entry], outbox: [])
            let written = try #require(try await Self.columns(of: "a", in: store))
            #expect(written[0] as String? == "manual_resolve")
            #expect(written[1] as Double? == StoredTime.encode(Times.at(1)))
            #expect(written[2] as Double? == StoredTime.encode(Times.at(3601)))
            #expect(written[3] as String? == #"{"east":"s-1","north/1":"s-3","west":"s-2"}"#)
            #expect(try await store.loadLedger(seenSince: .distantPast) == [entry])

            entry.ownSilence = nil
            try await store.commit(ledger: [entry], outbox: [])
            let cleared = try #require(try await Self.columns(of: "a", in: store))
            #expect((0..<4).allSatisfy { cleared.hasNull(atIndex: $0) })
            #expect(try await store.loadLedger(seenSince: .distantPast) == [entry])
        }
    }

    @Test("a row with a silence purpose but no ids, or ids that are not JSON, is an error rather than a guess",
        arguments: [
            "UPDATE ledger SET own_silence_purpose = 'acknowledged', own_silence_answering = 1, own_silence_ends_at = 2",
            """
            UPDATE ledger SET own_silence_purpose = 'acknowledged', own_silence_answering = 1, own_silence_ends_at = 2,
                own_silence_ids = '["s-1"]'
            """,
        ])
    func incompleteRowsAreRefused(_ sql: String) async throws {
        try await withTemporaryStore { store, _ in
            try await store.commit(ledger: [ledgerEntry(dedupKey: "a")], outbox: [])
            try await store.pool.write { db in try db.execute(sql: sql) }
            let error = await #expect(throws: StoreError.self) { try await store.loadLedger(seenSince: .distantPast) }
            #expect(error?.reason.contains("silence") == true, "\(String(describing: error))")
        }
    }

    @Test("a database of the previous schema keeps its rows, without silences of ours, and takes new ones")
    func upgradesTheIncidentStateSchema() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("previous.sqlite")
        try await writeDatabase(
            at: path, migratedUpTo: "v5-incident-state",
            sql: """
                INSERT INTO ledger (route, dedup_key, last_action, last_action_at, starts_at, last_seen, cause,
                    incident_status, incident_changed_at, incident_changed_by, incident_id, incident_url)
                VALUES ('default', 'a', 'acknowledge', 10, 5, 20, 'webhook', 'acknowledged', 15, 'Ada', 'PQ1', NULL),
                    ('default', 'b', 'resolve', 11, NULL, 21, 'silenced', NULL, NULL, NULL, NULL, NULL);
                """)
        let store = try SQLiteStore(path: path)
        defer { try? store.close() }

        var ledger = try await store.loadLedger(seenSince: .distantPast)
        #expect(ledger.map(\.dedupKey) == ["a", "b"])
        #expect(ledger.allSatisfy { $0.ownSilence == nil })
        #expect(ledger.first?.incident?.incidentID == "PQ1" && ledger.first?.incident?.changedBy == "Ada")
        #expect(ledger.last?.cause == .silenced && ledger.last?.incident == nil)

        ledger[0].ownSilence = OwnSilence(
            purpose: .acknowledged, answering: Date(timeIntervalSince1970: 15), endsAt: Date(timeIntervalSince1970: 615),
            ids: ["am-1": "s-1", "am-2": "s-2"])
        try await store.commit(ledger: [ledger[0]], outbox: [])
        #expect(try await store.loadLedger(seenSince: .distantPast) == ledger)
        let applied = try await store.pool.read { db in try SQLiteSchema.migrator.appliedIdentifiers(db) }
        #expect(applied.contains("v6-own-silence"))
    }
}
