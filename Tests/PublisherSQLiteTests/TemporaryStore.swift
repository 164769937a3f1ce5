import Foundation
import GRDB
import PagerDutyEvents
import PublisherCore
@testable import PublisherSQLite

/// A directory under the system's temporary directory, removed by ``remove()``.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("publisher-sqlite-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the directory.
    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Runs `body` with a fresh store in a fresh temporary directory, then closes the store and removes the directory.
func withTemporaryStore<T>(
    configuration: SQLiteStoreConfiguration = .init(),
    _ body: (SQLiteStore, TemporaryDirectory) async throws -> T
) async throws -> T {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let store = try SQLiteStore(path: directory.path("publisher.sqlite"), configuration: configuration)
    defer { try? store.close() }
    return try await body(store, directory)
}

/// Creates the database at `path` with the schema as it was after `migration`, runs `sql` on it (the rows an
/// older daemon would have written), and closes it: the starting point of the upgrade tests.
func writeDatabase(at path: String, migratedUpTo migration: String, sql: String) async throws {
    let queue = try DatabaseQueue(path: path)
    try SQLiteSchema.migrator.migrate(queue, upTo: migration)
    try await queue.write { db in try db.execute(sql: sql) }
    try queue.close()
}

/// Fixed times built from seconds since 1970, so they round-trip through the store exactly.
enum Times {
    static let base = Date(timeIntervalSince1970: 1_714_564_800.125)

    static func at(_ seconds: Double) -> Date {
        Date(timeIntervalSince1970: base.timeIntervalSince1970 + seconds)
    }
}

func ledgerEntry(
    route: String = "default",
    dedupKey: String,
    action: EventAction = .trigger,
    lastSeen: Date = Times.base,
    startsAt: Date? = Times.at(-60)
) -> LedgerEntry {
    LedgerEntry(
        route: route,
        dedupKey: dedupKey,
        lastAction: action,
        lastActionAt: lastSeen,
        startsAt: startsAt,
        lastSeen: lastSeen)
}

func outboxMessage(
    route: String = "default",
    kind: OutboxKind = .trigger,
    dedupKey: String? = "fingerprint-1",
    severity: Severity? = .critical,
    body: Data = Data(#"{"event_action":"trigger"}"#.utf8),
    createdAt: Date = Times.base
) -> OutboxMessage {
    OutboxMessage(route: route, kind: kind, dedupKey: dedupKey, severity: severity, body: body, createdAt: createdAt)
}
