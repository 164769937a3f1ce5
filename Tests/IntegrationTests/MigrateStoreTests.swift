import Foundation
import PagerDutyEvents
import PublisherCore
import PublisherSQLite
import PublisherTestSupport
import Testing

/// `migrate-store` and `queue` against a real PostgreSQL, through the real binary.
@Suite("migrate-store: SQLite to PostgreSQL", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: PostgresAvailability.isConfigured, Comment(rawValue: PostgresAvailability.reason)))
struct MigrateStoreTests {
    static let createdAt = Date(timeIntervalSince1970: 1_800_000_000)
    /// The trace context one pending event carries (the webhook's receipt span, had tracing been on).
    static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    /// An SQLite store with two ledger entries, three pending events on two routes and one dead letter.
    static func fill(_ path: String) async throws {
        let store = try SQLiteStore(path: path)
        defer { try? store.close() }
        func message(_ route: String, _ kind: OutboxKind, _ dedupKey: String) -> OutboxMessage {
            OutboxMessage(
                route: route, kind: kind, dedupKey: dedupKey, severity: .critical, body: Data("\(kind) \(dedupKey)".utf8),
                createdAt: createdAt, traceContext: dedupKey == "c" ? traceparent : nil)
        }
        let entry = LedgerEntry(
            route: "default", dedupKey: "a", lastAction: .trigger, lastActionAt: createdAt, startsAt: createdAt, lastSeen: createdAt)
        var other = entry
        other.route = "db"
        other.dedupKey = "c"
        try await store.commit(
            ledger: [entry, other],
            outbox: [
                message("default", .trigger, "a"), message("db", .trigger, "c"), message("default", .resolve, "a"),
                message("default", .trigger, "refused"),
            ])
        let refused = try #require(try await store.pendingMessages(limit: 10).last)
        try await store.moveToDeadLetters(id: refused.id, reason: "PagerDuty refused the event: 400 bad", at: createdAt)
    }

    @Test func movesLedgerPendingEventsAndDeadLettersOnceAndQueueReadsThem() async throws {
        let scratch = try ScratchDirectory()
        try await Self.fill(scratch.database)
        let database = try PostgresTestDatabase.create(label: "migrate")
        defer { try? database.drop() }

        let moved = try await DaemonProcess.runToExit(["migrate-store", "--from", scratch.database, "--to", database.url])
        #expect(moved.status == 0, "\(moved.errorOutput)")
        #expect(moved.output.contains("Moved 2 ledger entries, 3 pending events and 1 dead letters"), "\(moved.output)")

        #expect(try database.psql("SELECT route || '/' || dedup_key || '/' || last_action FROM ledger ORDER BY route") == "db/c/trigger\ndefault/a/trigger")
        #expect(
            try database.psql("SELECT kind || ' ' || dedup_key || ' ' || convert_from(body, 'UTF8') FROM outbox ORDER BY id")
                == "trigger a trigger a\ntrigger c trigger c\nresolve a resolve a", "the order of the source")
        #expect(try database.psql("SELECT reason FROM dead_letters") == "PagerDuty refused the event: 400 bad")
        #expect(
            try database.psql("SELECT dedup_key || ' ' || coalesce(trace_context, '-') FROM outbox ORDER BY id")
                == "a -\nc \(Self.traceparent)\na -", "the trace context comes along")

        let status = try await DaemonProcess.runToExit(["queue", "status", "--database", database.url])
        #expect(status.status == 0, "\(status.errorOutput)")
        #expect(status.output.contains("default") && status.output.contains("db"), "\(status.output)")
        let dead = try await DaemonProcess.runToExit(["queue", "list", "--dead", "--database", database.url])
        #expect(dead.output.contains("400 bad"), "\(dead.output)")

        let again = try await DaemonProcess.runToExit(["migrate-store", "--from", scratch.database, "--to", database.url])
        #expect(again.status != 0)
        #expect(again.errorOutput.contains("already holds data"), "\(again.errorOutput)")
        #expect(try database.psql("SELECT count(*) FROM outbox") == "3", "nothing was added twice")
    }

    @Test func refusesWhileAServeUsesTheFileAndNeverPrintsThePassword() async throws {
        let scratch = try ScratchDirectory()
        try await Self.fill(scratch.database)
        let daemon = try await DaemonProcess(arguments: ["--dry-run", "--database", scratch.database])
        let locked = try await DaemonProcess.runToExit([
            "migrate-store", "--from", scratch.database, "--to", "postgres://pager:hunter2@127.0.0.1:1/publisher",
        ])
        #expect(locked.status != 0)
        #expect(locked.errorOutput.contains("lock"), "\(locked.errorOutput)")
        #expect(!locked.errorOutput.contains("hunter2") && !locked.output.contains("hunter2"))
        #expect(try await daemon.terminate() == 0)
    }
}
