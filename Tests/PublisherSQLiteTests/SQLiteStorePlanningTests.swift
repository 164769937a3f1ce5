import Foundation
import GRDB
import PublisherCore
import Testing
@testable import PublisherSQLite

@Suite("Reading what the dispatcher plans with: pending summaries and messages by id", .timeLimit(.minutes(5)))
struct SQLiteStorePlanningTests {
    @Test("summaries list a route's oldest pending messages by id, at most the limit, without bodies")
    func summariesPerRoute() async throws {
        try await withTemporaryStore { store, _ in
            let ids = try await store.commit(ledger: [], outbox: [
                outboxMessage(route: "db", kind: .trigger, dedupKey: "1", severity: .warning),
                outboxMessage(route: "web", kind: .trigger, dedupKey: "2", severity: .critical),
                outboxMessage(route: "db", kind: .change, dedupKey: nil, severity: nil),
                outboxMessage(route: "db", kind: .resolve, dedupKey: "1", severity: .info),
                outboxMessage(route: "db", kind: .acknowledge, dedupKey: "3", severity: nil),
            ])

            #expect(try await store.pendingSummaries(route: "db", limit: 10) == [
                PendingMessageSummary(id: ids[0], kind: .trigger, dedupKey: "1", severity: .warning),
                PendingMessageSummary(id: ids[2], kind: .change, dedupKey: nil, severity: nil),
                PendingMessageSummary(id: ids[3], kind: .resolve, dedupKey: "1", severity: .info),
                PendingMessageSummary(id: ids[4], kind: .acknowledge, dedupKey: "3", severity: nil),
            ])
            #expect(try await store.pendingSummaries(route: "db", limit: 2).map(\.id) == [ids[0], ids[2]])
            #expect(try await store.pendingSummaries(route: "web", limit: 10).map(\.id) == [ids[1]])
            #expect(try await store.pendingSummaries(route: "db", limit: 0).isEmpty)
            #expect(try await store.pendingSummaries(route: "unknown", limit: 10).isEmpty)

            try await store.markDelivered(id: ids[0])
            try await store.moveToDeadLetters(id: ids[2], reason: "HTTP 400", at: Times.at(1))
            #expect(try await store.pendingSummaries(route: "db", limit: 10).map(\.id) == [ids[3], ids[4]])
        }
    }

    @Test("the summary query reads only the covering index, never the rows and their bodies")
    func summariesUseTheCoveringIndex() async throws {
        try await withTemporaryStore { store, _ in
            let plan = try await store.pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: "EXPLAIN QUERY PLAN SELECT \(OutboxRow.summaryColumns) FROM outbox WHERE route = ? ORDER BY id LIMIT ?",
                    arguments: ["default", 10]
                ).map { row -> String in row["detail"] }
            }
            #expect(plan.contains { $0.contains("COVERING INDEX outbox_route_summary") }, "plan: \(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "no sort step: \(plan)")
        }
    }

    @Test("messages by id come in the order asked, with bodies and attempts; ids no longer pending are skipped")
    func messagesByID() async throws {
        try await withTemporaryStore { store, _ in
            let messages = [
                outboxMessage(dedupKey: "1", body: Data("one".utf8)),
                outboxMessage(route: "web", dedupKey: "2", body: Data("two".utf8)),
                outboxMessage(dedupKey: "3", body: Data("three".utf8)),
                outboxMessage(dedupKey: "4", body: Data("four".utf8)),
            ]
            let ids = try await store.commit(ledger: [], outbox: messages)
            try await store.recordFailedAttempt(id: ids[2], error: "HTTP 503")
            try await store.markDelivered(id: ids[3])

            let records = try await store.pendingMessages(ids: [ids[2], ids[3], ids[0], 999_999, ids[1]])
            #expect(records == [
                OutboxRecord(id: ids[2], message: messages[2], attempts: 1, lastError: "HTTP 503"),
                OutboxRecord(id: ids[0], message: messages[0]),
                OutboxRecord(id: ids[1], message: messages[1]),
            ])
            #expect(try await store.pendingMessages(ids: []).isEmpty)
        }
    }

    @Test("more ids than one query binds are all read, in the order asked")
    func manyIDs() async throws {
        try await withTemporaryStore { store, _ in
            let count = OutboxRow.idsPerQuery * 2 + 37
            let ids = try await store.commit(
                ledger: [], outbox: (0..<count).map { outboxMessage(dedupKey: "k\($0)") })
            let asked = Array(ids.reversed())
            let records = try await store.pendingMessages(ids: asked)
            #expect(records.map(\.id) == asked)
            #expect(records.first?.message.dedupKey == "k\(count - 1)")
        }
    }

    @Test("a database of the first schema is upgraded: its pending messages are summarised from the new index")
    func upgradingAFirstSchemaDatabase() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("publisher.sqlite")
        let old = try DatabaseQueue(path: path)
        try SQLiteSchema.migrator.migrate(old, upTo: "v1")
        try await old.write { db in
            // The first schema's columns (today's insert also writes trace_context, added later).
            let message = outboxMessage(dedupKey: "kept")
            try db.execute(
                sql: "INSERT INTO outbox (route, kind, dedup_key, severity, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    message.route, message.kind.rawValue, message.dedupKey, message.severity?.rawValue, message.body,
                    StoredTime.encode(message.createdAt),
                ])
        }
        try old.close()

        let store = try SQLiteStore(path: path)
        defer { try? store.close() }
        let summaries = try await store.pendingSummaries(route: "default", limit: 10)
        #expect(summaries.map(\.dedupKey) == ["kept"])
        let indexes = try await store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'")
        }
        #expect(indexes.contains("outbox_route_summary"))
        #expect(!indexes.contains("outbox_route_id"), "the narrower index it replaces is gone")
    }
}
