import Foundation
import GRDB
import PublisherCore
import Testing
@testable import PublisherSQLite

@Suite("Opening the SQLite store", .timeLimit(.minutes(5)))
struct SQLiteStoreOpeningTests {
    @Test("WAL, synchronous FULL, foreign keys and the busy timeout are in effect by default")
    func defaultSettingsAreInEffect() async throws {
        try await withTemporaryStore { store, directory in
            let settings = try await store.effectiveSettings()
            #expect(settings.journalMode == "wal")
            #expect(settings.synchronous == .full)
            #expect(settings.foreignKeys)
            #expect(settings.busyTimeoutMilliseconds == 5000)
            try await store.checkWritable()
            #expect(FileManager.default.fileExists(atPath: directory.path("publisher.sqlite-wal")))
        }
    }

    @Test("synchronous NORMAL and the busy timeout follow the configuration")
    func configuredSettingsAreInEffect() async throws {
        let configuration = SQLiteStoreConfiguration(busyTimeout: 1.5, synchronous: .normal)
        try await withTemporaryStore(configuration: configuration) { store, _ in
            let settings = try await store.effectiveSettings()
            #expect(settings.synchronous == .normal)
            #expect(settings.busyTimeoutMilliseconds == 1500)
        }
    }

    @Test("a missing parent directory is created")
    func createsParentDirectory() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("nested/data/publisher.sqlite")
        let store = try await SQLiteStore.open(path: path)
        defer { try? store.close() }
        try await store.checkWritable()
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test("data survives closing and reopening the file, and ids are never reused")
    func dataSurvivesReopening() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("publisher.sqlite")

        let first = try SQLiteStore(path: path)
        let firstIDs = try await first.commit(
            ledger: [ledgerEntry(dedupKey: "a")],
            outbox: [outboxMessage(dedupKey: "a"), outboxMessage(dedupKey: "b")])
        try await first.markDelivered(id: firstIDs[1])
        try first.close()
        await #expect(throws: StoreError.self) { try await first.queueStats() }

        let second = try SQLiteStore(path: path)
        defer { try? second.close() }
        #expect(try await second.loadLedger(seenSince: .distantPast) == [ledgerEntry(dedupKey: "a")])
        let pending = try await second.pendingMessages(route: "default", limit: 10)
        #expect(pending.map(\.id) == [firstIDs[0]])
        #expect(pending.first?.message == outboxMessage(dedupKey: "a"))

        // The newest id was delivered and deleted; AUTOINCREMENT still never hands it out again.
        let nextIDs = try await second.commit(ledger: [], outbox: [outboxMessage(dedupKey: "c")])
        #expect(nextIDs.count == 1)
        #expect(try #require(nextIDs.first) > firstIDs[1])
    }

    @Test("migrating is idempotent: opening the same file twice keeps one schema version and the data")
    func migrationIsIdempotent() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("publisher.sqlite")

        let first = try SQLiteStore(path: path)
        try await first.commit(ledger: [ledgerEntry(dedupKey: "a")], outbox: [outboxMessage()])
        // A second store on the same file while the first is open, then a reopen after closing both.
        let concurrent = try SQLiteStore(path: path)
        try concurrent.close()
        try first.close()

        let reopened = try SQLiteStore(path: path)
        defer { try? reopened.close() }
        let migrations = try await reopened.pool.read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        }
        #expect(migrations == SQLiteSchema.migrator.migrations, "every migration ran exactly once")
        #expect(try await reopened.queueStats().pending == 1)
        #expect(try await reopened.loadLedger(seenSince: .distantPast).count == 1)
    }

    @Test("a read-only store reads but checkWritable and commits fail with a StoreError")
    func readOnlyStoreIsNotWritable() async throws {
        try await withTemporaryStore { writable, directory in
            try await writable.commit(ledger: [], outbox: [outboxMessage()])
            let readOnly = try SQLiteStore(
                path: directory.path("publisher.sqlite"),
                configuration: SQLiteStoreConfiguration(readOnly: true))
            defer { try? readOnly.close() }

            #expect(try await readOnly.queueStats().pending == 1)
            let error = await #expect(throws: StoreError.self) { try await readOnly.checkWritable() }
            #expect(error?.reason.contains(directory.path("publisher.sqlite")) == true)
            #expect(error?.reason.localizedCaseInsensitiveContains("readonly") == true)
            await #expect(throws: StoreError.self) {
                try await readOnly.commit(ledger: [], outbox: [outboxMessage()])
            }
            #expect(try await writable.queueStats().pending == 1)
        }
    }

    @Test("a closed store fails checkWritable")
    func closedStoreIsNotWritable() async throws {
        try await withTemporaryStore { store, _ in
            try store.close()
            await #expect(throws: StoreError.self) { try await store.checkWritable() }
        }
    }

    @Test("opening a missing file read-only fails with a StoreError naming the path")
    func readOnlyMissingFileFails() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("absent.sqlite")
        let error = #expect(throws: StoreError.self) {
            try SQLiteStore(path: path, configuration: SQLiteStoreConfiguration(readOnly: true))
        }
        #expect(error?.reason.contains(path) == true)
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
