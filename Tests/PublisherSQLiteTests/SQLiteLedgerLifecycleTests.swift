import Foundation
import GRDB
import PagerDutyEvents
import PublisherCore
import Testing
@testable import PublisherSQLite

@Suite("Ledger lifecycle fields: subject, cause, remembered payload, held resolve", .timeLimit(.minutes(5)))
struct SQLiteLedgerLifecycleTests {
    @Test("every lifecycle field round-trips, for an alert, a group and a change announcement")
    func lifecycleFieldsRoundTrip() async throws {
        try await withTemporaryStore { store, _ in
            var acknowledged = ledgerEntry(dedupKey: "a", action: .acknowledge)
            acknowledged.cause = .silenced
            acknowledged.remembered = RememberedPayload(summary: "Disk full on db-1", source: "db-1", severity: .warning)
            var group = ledgerEntry(dedupKey: "g")
            group.subject = .group(members: ["0000000000000002", "0000000000000001"])
            group.resolveHeldUntil = Times.at(900)
            var change = ledgerEntry(dedupKey: "c")
            change.subject = .change
            var reconciled = ledgerEntry(dedupKey: "r", action: .resolve)
            reconciled.cause = .reconciled
            try await store.commit(ledger: [acknowledged, group, change, reconciled], outbox: [])

            let loaded = try await store.loadLedger(seenSince: .distantPast)
            #expect(Set(loaded) == [acknowledged, group, change, reconciled])
        }
    }

    @Test("expiry keeps an entry whose resolve is still held")
    func expiryKeepsHeldResolves() async throws {
        try await withTemporaryStore { store, _ in
            var held = ledgerEntry(dedupKey: "held", lastSeen: Times.at(1))
            held.resolveHeldUntil = Times.at(5000)
            try await store.commit(ledger: [held, ledgerEntry(dedupKey: "old", lastSeen: Times.at(1))], outbox: [])
            let removed = try await store.expireLedger(seenBefore: Times.at(100))
            #expect(removed == 1)
            #expect(try await store.loadLedger(seenSince: .distantPast).map(\.dedupKey) == ["held"])
        }
    }

    @Test("a database written by the first schema opens, upgrades, and keeps its ledger with default lifecycle fields")
    func upgradesAVersion1Database() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("old.sqlite")
        try await writeDatabase(
            at: path, migratedUpTo: "v1",
            sql: """
                INSERT INTO ledger (route, dedup_key, last_action, last_action_at, starts_at, last_seen)
                VALUES ('default', 'a', 'trigger', 10, NULL, 20)
                """)
        let store = try SQLiteStore(path: path)
        defer { try? store.close() }
        let loaded = try await store.loadLedger(seenSince: .distantPast)
        #expect(loaded.count == 1)
        let entry = try #require(loaded.first)
        #expect(entry.subject == .alert && entry.cause == .webhook && entry.remembered == nil && entry.resolveHeldUntil == nil)
        #expect(entry.lastAction == .trigger)
    }
}
