import Foundation
import GRDB
import PublisherCore
import Testing
@testable import PublisherSQLite

@Suite("Committing ledger entries and outbox messages", .timeLimit(.minutes(5)))
struct SQLiteStoreCommitTests {
    @Test("a commit upserts the ledger and appends messages in order with increasing ids and exact bodies")
    func commitRoundTrip() async throws {
        try await withTemporaryStore { store, _ in
            let binaryBody = Data([0x00, 0xFF, 0xC3, 0x28, 0x7B, 0x0A])
            let first = [
                outboxMessage(dedupKey: "a", body: binaryBody, createdAt: Times.at(1)),
                outboxMessage(kind: .change, dedupKey: nil, severity: nil, body: Data(), createdAt: Times.at(2)),
            ]
            let firstIDs = try await store.commit(
                ledger: [ledgerEntry(dedupKey: "a"), ledgerEntry(dedupKey: "b", startsAt: nil)],
                outbox: first)

            let resolvedA = ledgerEntry(dedupKey: "a", action: .resolve, lastSeen: Times.at(30), startsAt: Times.at(5))
            let second = [outboxMessage(kind: .resolve, dedupKey: "a", severity: nil, createdAt: Times.at(30))]
            let secondIDs = try await store.commit(ledger: [resolvedA], outbox: second)

            let ids = firstIDs + secondIDs
            #expect(ids.count == 3)
            #expect(ids == ids.sorted() && Set(ids).count == 3)

            let ledger = try await store.loadLedger(seenSince: .distantPast)
            #expect(ledger == [resolvedA, ledgerEntry(dedupKey: "b", startsAt: nil)])

            let pending = try await store.pendingMessages(route: "default", limit: 10)
            #expect(pending == zip(ids, first + second).map { OutboxRecord(id: $0, message: $1) })
            #expect(pending.first?.message.body == binaryBody)
            #expect(pending.dropFirst().first?.message.body.isEmpty == true)
        }
    }

    @Test("clock times come back within a microsecond")
    func clockTimesRoundTrip() async throws {
        try await withTemporaryStore { store, _ in
            let now = Date()
            try await store.commit(
                ledger: [ledgerEntry(dedupKey: "a", lastSeen: now, startsAt: now)],
                outbox: [outboxMessage(createdAt: now)])
            let entry = try #require(try await store.loadLedger(seenSince: .distantPast).first)
            let message = try #require(try await store.pendingMessages(route: "default", limit: 1).first)
            for date in [entry.lastSeen, entry.lastActionAt, try #require(entry.startsAt), message.message.createdAt] {
                #expect(abs(date.timeIntervalSince(now)) < 0.000_001)
            }
        }
    }

    @Test("a commit that violates a constraint midway writes nothing, and its error holds no body")
    func failedCommitWritesNothing() async throws {
        try await withTemporaryStore { store, directory in
            let original = ledgerEntry(dedupKey: "a")
            try await store.commit(ledger: [original], outbox: [])

            let secretBody = Data(#"{"summary":"body-text-that-must-not-leak"}"#.utf8)
            let error = await #expect(throws: StoreError.self) {
                try await store.commit(
                    ledger: [ledgerEntry(dedupKey: "a", action: .resolve), ledgerEntry(dedupKey: "b")],
                    outbox: [
                        outboxMessage(dedupKey: "a", body: secretBody),
                        outboxMessage(dedupKey: "b", body: secretBody),
                        // An alert event without a dedup_key breaks the outbox's CHECK constraint.
                        outboxMessage(kind: .trigger, dedupKey: nil, body: secretBody),
                    ])
            }
            let reason = try #require(error?.reason)
            #expect(reason.contains("CHECK constraint failed"))
            #expect(reason.contains(directory.path("publisher.sqlite")))
            #expect(!reason.contains("body-text-that-must-not-leak"))

            #expect(try await store.loadLedger(seenSince: .distantPast) == [original])
            #expect(try await store.queueStats() == QueueStats(pending: 0, oldestPendingCreatedAt: nil, deadLetters: 0))
        }
    }

    @Test("a 1,000-alert commit that fails at message 501 writes none of its ledger entries or messages")
    func largeCommitFailingMidwayWritesNothing() async throws {
        try await withTemporaryStore { store, _ in
            try await store.pool.writeWithoutTransaction { db in
                try db.execute(sql: """
                    CREATE TEMP TRIGGER fail_at_501 AFTER INSERT ON main.outbox WHEN NEW.id = 501
                    BEGIN SELECT RAISE(ABORT, 'forced failure at message 501'); END
                    """)
            }
            let batch = Batch(size: 1000)
            let error = await #expect(throws: StoreError.self) {
                try await store.commit(ledger: batch.ledger, outbox: batch.outbox)
            }
            #expect(error?.reason.contains("forced failure at message 501") == true)
            #expect(try await store.loadLedger(seenSince: .distantPast).isEmpty)
            #expect(try await store.queueStats().pending == 0)
        }
    }

    @Test("a concurrent reader sees none of a 1,000-alert commit while it runs, then all of it")
    func largeCommitIsOneTransaction() async throws {
        try await withTemporaryStore { store, _ in
            let reachedMidway = AsyncStream<Void>.makeStream()
            let resume = DispatchSemaphore(value: 0)
            // Pauses the writer (on GRDB's writer queue, not the cooperative pool) right after message 500.
            try await store.pool.writeWithoutTransaction { db in
                db.add(function: DatabaseFunction("pause_for_test", argumentCount: 0, pure: false) { _ in
                    reachedMidway.continuation.yield()
                    resume.wait()
                    return nil
                })
                try db.execute(sql: """
                    CREATE TEMP TRIGGER pause_at_500 AFTER INSERT ON main.outbox WHEN NEW.id = 500
                    BEGIN SELECT pause_for_test(); END
                    """)
            }

            let batch = Batch(size: 1000)
            let commit = Task {
                defer { reachedMidway.continuation.finish() }
                return try await store.commit(ledger: batch.ledger, outbox: batch.outbox)
            }
            var paused = false
            for await _ in reachedMidway.stream {
                paused = true
                break
            }
            let statsDuring: QueueStats
            let ledgerCountDuring: Int
            do {
                defer { resume.signal() }
                statsDuring = try await store.queueStats()
                ledgerCountDuring = try await store.loadLedger(seenSince: .distantPast).count
            }
            let ids = try await commit.value

            #expect(paused)
            #expect(statsDuring.pending == 0)
            #expect(ledgerCountDuring == 0)
            #expect(ids == Array(1...1000))
            #expect(try await store.queueStats().pending == 1000)
            #expect(try await store.loadLedger(seenSince: .distantPast).count == 1000)
            let pending = try await store.pendingMessages(route: "default", limit: 1000)
            #expect(pending.map(\.message) == batch.outbox)
        }
    }
}

/// A webhook's worth of distinct alerts: one ledger entry and one trigger per alert.
struct Batch {
    let ledger: [LedgerEntry]
    let outbox: [OutboxMessage]

    init(size: Int) {
        ledger = (0..<size).map { ledgerEntry(dedupKey: "alert-\($0)") }
        outbox = (0..<size).map {
            outboxMessage(dedupKey: "alert-\($0)", body: Data(#"{"n":\#($0)}"#.utf8), createdAt: Times.at(Double($0)))
        }
    }
}
