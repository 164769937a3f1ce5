import Foundation
import PublisherCore
import Testing
@testable import PublisherSQLite

@Suite("Delivering, retrying and dead-lettering outbox messages", .timeLimit(.minutes(5)))
struct SQLiteStoreOutboxTests {
    @Test("pending messages are listed per route, by id, at most the limit")
    func pendingMessagesPerRoute() async throws {
        try await withTemporaryStore { store, _ in
            let ids = try await store.commit(ledger: [], outbox: [
                outboxMessage(route: "db", dedupKey: "1"),
                outboxMessage(route: "web", dedupKey: "2"),
                outboxMessage(route: "db", dedupKey: "3"),
                outboxMessage(route: "db", dedupKey: "4"),
            ])
            #expect(try await store.routesWithPendingMessages() == ["db", "web"])

            let db = try await store.pendingMessages(route: "db", limit: 2)
            #expect(db.map(\.id) == [ids[0], ids[2]])
            #expect(db.map(\.message.dedupKey) == ["1", "3"])
            #expect(try await store.pendingMessages(route: "web", limit: 10).map(\.id) == [ids[1]])
            #expect(try await store.pendingMessages(route: "db", limit: 0).isEmpty)
            #expect(try await store.pendingMessages(route: "unknown", limit: 10).isEmpty)

            try await store.markDelivered(id: ids[1])
            try await store.markDelivered(id: ids[1])  // A repeat is harmless.
            #expect(try await store.routesWithPendingMessages() == ["db"])
            try await store.markDelivered(id: ids[0])
            #expect(try await store.pendingMessages(route: "db", limit: 10).map(\.id) == [ids[2], ids[3]])
        }
    }

    @Test("failed attempts are counted and the last error is kept")
    func failedAttemptsAreCounted() async throws {
        try await withTemporaryStore { store, _ in
            let ids = try await store.commit(
                ledger: [], outbox: [outboxMessage(dedupKey: "1"), outboxMessage(dedupKey: "2")])
            try await store.recordFailedAttempt(id: ids[0], error: "HTTP 502")
            try await store.recordFailedAttempt(id: ids[0], error: "timed out")

            let pending = try await store.pendingMessages(route: "default", limit: 10)
            #expect(pending.map(\.attempts) == [2, 0])
            #expect(pending.map(\.lastError) == ["timed out", nil])
        }
    }

    @Test("dead-lettering moves the message with its reason, attempts and time; newest first")
    func deadLetteringMovesTheMessage() async throws {
        try await withTemporaryStore { store, _ in
            let messages = [
                outboxMessage(dedupKey: "1", body: Data("one".utf8)),
                outboxMessage(route: "web", dedupKey: "2", body: Data("two".utf8)),
                outboxMessage(dedupKey: "3"),
            ]
            let ids = try await store.commit(ledger: [], outbox: messages)
            try await store.recordFailedAttempt(id: ids[0], error: "HTTP 503")
            try await store.moveToDeadLetters(id: ids[0], reason: "HTTP 400: invalid severity", at: Times.at(10))
            try await store.moveToDeadLetters(id: ids[1], reason: "HTTP 400: summary missing", at: Times.at(20))

            #expect(try await store.pendingMessages(route: "default", limit: 10).map(\.id) == [ids[2]])
            #expect(try await store.routesWithPendingMessages() == ["default"])
            let deadLetters = try await store.deadLetters(limit: 10)
            #expect(deadLetters == [
                DeadLetter(
                    id: ids[1], message: messages[1], attempts: 0, reason: "HTTP 400: summary missing",
                    failedAt: Times.at(20)),
                DeadLetter(
                    id: ids[0], message: messages[0], attempts: 1, reason: "HTTP 400: invalid severity",
                    failedAt: Times.at(10)),
            ])
            #expect(try await store.deadLetters(limit: 1).map(\.id) == [ids[1]])
            #expect(try await store.deadLetters(limit: 0).isEmpty)

            // A message already moved (or delivered) is not moved twice.
            try await store.moveToDeadLetters(id: ids[0], reason: "again", at: Times.at(30))
            #expect(try await store.deadLetters(limit: 10).count == 2)
        }
    }

    @Test("queue stats count pending messages and dead letters and find the oldest pending time")
    func queueStats() async throws {
        try await withTemporaryStore { store, _ in
            #expect(try await store.queueStats() == QueueStats(pending: 0, oldestPendingCreatedAt: nil, deadLetters: 0))
            let ids = try await store.commit(ledger: [], outbox: [
                outboxMessage(dedupKey: "1", createdAt: Times.at(5)),
                outboxMessage(dedupKey: "2", createdAt: Times.at(-7)),
                outboxMessage(dedupKey: "3", createdAt: Times.at(9)),
            ])
            #expect(
                try await store.queueStats()
                    == QueueStats(pending: 3, oldestPendingCreatedAt: Times.at(-7), deadLetters: 0))

            try await store.moveToDeadLetters(id: ids[1], reason: "HTTP 400", at: Times.at(10))
            #expect(
                try await store.queueStats()
                    == QueueStats(pending: 2, oldestPendingCreatedAt: Times.at(5), deadLetters: 1))
        }
    }
}
