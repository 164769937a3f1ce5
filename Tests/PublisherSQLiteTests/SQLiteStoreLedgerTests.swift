import Foundation
import PublisherCore
import Testing
@testable import PublisherSQLite

@Suite("Loading and expiring the ledger", .timeLimit(.minutes(5)))
struct SQLiteStoreLedgerTests {
    @Test("loadLedger returns only entries seen at or after the date")
    func loadLedgerFiltersByLastSeen() async throws {
        try await withTemporaryStore { store, _ in
            let old = ledgerEntry(dedupKey: "old", lastSeen: Times.at(-100))
            let boundary = ledgerEntry(dedupKey: "boundary", lastSeen: Times.at(0))
            let fresh = ledgerEntry(route: "web", dedupKey: "fresh", action: .acknowledge, lastSeen: Times.at(50))
            try await store.commit(ledger: [old, boundary, fresh], outbox: [])

            #expect(Set(try await store.loadLedger(seenSince: Times.at(0))) == [boundary, fresh])
            #expect(try await store.loadLedger(seenSince: Times.at(51)).isEmpty)
            #expect(try await store.loadLedger(seenSince: .distantPast).count == 3)
        }
    }

    @Test("expireLedger deletes only entries last seen before the date and says how many")
    func expireLedgerDeletesOnlyOldEntries() async throws {
        try await withTemporaryStore { store, _ in
            let entries = [
                ledgerEntry(dedupKey: "old-1", lastSeen: Times.at(-200)),
                ledgerEntry(route: "web", dedupKey: "old-2", lastSeen: Times.at(-1)),
                ledgerEntry(dedupKey: "boundary", lastSeen: Times.at(0)),
                ledgerEntry(dedupKey: "fresh", lastSeen: Times.at(10)),
            ]
            try await store.commit(ledger: entries, outbox: [outboxMessage()])

            #expect(try await store.expireLedger(seenBefore: Times.at(0)) == 2)
            #expect(Set(try await store.loadLedger(seenSince: .distantPast)) == [entries[2], entries[3]])
            #expect(try await store.expireLedger(seenBefore: Times.at(0)) == 0)
            #expect(try await store.queueStats().pending == 1)
        }
    }
}
