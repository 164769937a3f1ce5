import Foundation
import Logging
import PagerDutyEvents
import PostgresNIO
import PublisherCore
import PublisherPostgres
import PublisherSQLite
import PublisherTestSupport
import Testing

/// The stores the contract tests run against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    /// The kinds that can run here: PostgreSQL only when a cluster is configured (its own suites say why they
    /// are skipped otherwise, and under CI a missing cluster is a failure).
    static var runnable: [StoreKind] {
        PostgresAvailability.isConfigured ? allCases : [.sqlite]
    }

    var testDescription: String { rawValue }
}

/// What the contract tests use of a store.
typealias ContractStore = any PublisherStore & QueueAdministration

/// Runs `body` with a fresh, empty store of `kind`, then closes and deletes it.
func withStore<T: Sendable>(_ kind: StoreKind, _ body: (ContractStore) async throws -> T) async throws -> T {
    switch kind {
    case .sqlite:
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("publisher-store-contract-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("publisher.sqlite").path)
        defer { try? store.close() }
        return try await body(store)
    case .postgres:
        return try await withPostgresDatabase { database in
            try await withPostgresStore(database) { store in try await body(store) }
        }
    }
}

/// Runs `body` with a fresh database, dropped afterwards (also when `body` throws).
func withPostgresDatabase<T: Sendable>(
    label: String = "store",
    _ body: (PostgresTestDatabase) async throws -> T
) async throws -> T {
    let database = try PostgresTestDatabase.create(label: label)
    do {
        let result = try await body(database)
        try database.drop()
        return result
    } catch {
        try? database.drop()
        throw error
    }
}

/// Runs a `PostgresClient` with `configuration` for the duration of `body` (one replica's pool).
func withPostgresClient<T: Sendable>(
    _ configuration: PostgresClient.Configuration,
    _ body: (PostgresClient) async throws -> T
) async throws -> T {
    let client = PostgresClient(configuration: configuration)
    return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await body(client)
    }
}

/// Runs `body` with a migrated ``PostgresStore`` on `database`, on a client of its own.
func withPostgresStore<T: Sendable>(
    _ database: PostgresTestDatabase,
    operationTimeout: Duration = .seconds(5),
    _ body: (PostgresStore) async throws -> T
) async throws -> T {
    let settings = try PostgresSettings(url: database.url)
    return try await withPostgresClient(settings.clientConfiguration) { client in
        let store = PostgresStore(client: client, logger: testLogger, operationTimeout: operationTimeout)
        try await store.migrate()
        return try await body(store)
    }
}

let testLogger = Logger(label: "PublisherPostgresTests", factory: { _ in SwiftLogNoOpLogHandler() })

/// Fixed times built from seconds since 1970, so they round-trip through both stores exactly.
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

/// A webhook's worth of distinct alerts: one ledger entry and one trigger per alert.
struct Batch {
    let ledger: [LedgerEntry]
    let outbox: [OutboxMessage]

    init(size: Int, route: String = "default") {
        ledger = (0..<size).map { ledgerEntry(route: route, dedupKey: "alert-\($0)") }
        outbox = (0..<size).map {
            outboxMessage(
                route: route, dedupKey: "alert-\($0)", body: Data(#"{"n":\#($0)}"#.utf8), createdAt: Times.at(Double($0)))
        }
    }
}

/// Waits until `condition` holds, polling every few milliseconds, at most `timeout`; returns whether it held.
func eventually(
    within timeout: Duration = .seconds(10),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
