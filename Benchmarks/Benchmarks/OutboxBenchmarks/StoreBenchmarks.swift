import Benchmark
import BenchmarkSupport
import Foundation
import PublisherCore
import PublisherSQLite
import Synchronization

// The store's own writes, `SQLiteStore.commit(ledger:outbox:)`, with the daemon's configuration
// (`SQLiteStoreConfiguration()`: WAL, synchronous=FULL), next to the raw GRDB baseline of the same rows in the
// same run; and the whole ingest path (`AlertPublisher.ingest` into a `SQLiteStore`) for 1,000 alerts.

/// Registers the store benchmarks; called from `benchmarks`.
func registerStoreBenchmarks() {
    for rowCount in [1, 1_000] {
        let store = StoreSlot()
        let rows = OutboxDatabase.rows(count: rowCount)
        let ledger = rows.map { row in
            LedgerEntry(
                route: row.route, dedupKey: row.dedupKey, lastAction: .trigger,
                lastActionAt: Date(timeIntervalSince1970: row.createdAt),
                startsAt: Date(timeIntervalSince1970: row.createdAt),
                lastSeen: Date(timeIntervalSince1970: row.createdAt))
        }
        let outbox = rows.map { row in
            OutboxMessage(
                route: row.route, kind: .trigger, dedupKey: row.dedupKey, severity: .critical, body: row.body,
                createdAt: Date(timeIntervalSince1970: row.createdAt))
        }

        /// Measures `SQLiteStore.commit(ledger:outbox:)` of `rowCount` ledger entries and `rowCount` outbox
        /// messages in one transaction: the same rows as "GRDB ledger upsert + outbox insert ×N (WAL,
        /// synchronous=FULL)", which is its baseline. After the first sample the ledger rows exist (update path).
        Benchmark("SQLiteStore.commit ledger + outbox ×\(rowCount) (daemon configuration)") { benchmark in
            let store = try store.store()
            for _ in benchmark.scaledIterations {
                let ids = try await store.commit(ledger: ledger, outbox: outbox)
                guard ids.count == rowCount else {
                    throw BenchmarkCheckFailure("commit returned \(ids.count) ids for \(rowCount) messages")
                }
            }
        } setup: {
            try await store.open()
        } teardown: {
            store.remove()
        }
    }

    let renotifiedStore = StoreSlot()
    let newStore = StoreSlot()
    let batches = Mutex(0)
    let thousand = SampleWebhook.message(alertCount: 1_000)

    /// Measures `AlertPublisher.ingest` of a 1,000-alert webhook whose alerts are all new (a fresh batch of
    /// fingerprints per sample, built outside the measurement) into a file-backed `SQLiteStore`: decisions,
    /// mapping, encoding and one transaction of 1,000 ledger inserts and 1,000 outbox rows.
    Benchmark(
        "AlertPublisher.ingest ×1000 into SQLiteStore, all new",
        configuration: .init(maxDuration: .seconds(5), maxIterations: 300)
    ) { benchmark in
        let fixture = try newStore.fixture()
        let batch = batches.withLock { batch in
            batch += 1
            return batch
        }
        let message = SampleWebhook.message(alertCount: 1_000, batch: batch)
        benchmark.startMeasurement()
        let result = try await fixture.publisher.ingest(message, route: nil)
        benchmark.stopMeasurement()
        try result.expect(allQueued: true)
    } setup: {
        try await newStore.open()
    } teardown: {
        newStore.remove()
    }

    /// Measures `AlertPublisher.ingest` of the same 1,000-alert webhook again (all re-notified) into a
    /// `SQLiteStore`: no event, one transaction upserting 1,000 ledger entries (their `last_seen`).
    Benchmark(
        "AlertPublisher.ingest ×1000 into SQLiteStore, all re-notified",
        configuration: .init(maxDuration: .seconds(5), maxIterations: 300)
    ) { benchmark in
        let fixture = try renotifiedStore.fixture()
        benchmark.startMeasurement()
        let result = try await fixture.publisher.ingest(thousand, route: nil)
        benchmark.stopMeasurement()
        try result.expect(allQueued: false)
    } setup: {
        try await renotifiedStore.open()
        try await renotifiedStore.fixture().publisher.ingest(thousand, route: nil).expect(allQueued: true)
    } teardown: {
        renotifiedStore.remove()
    }
}

/// Holds a `SQLiteStore` on a fresh temporary file from a benchmark's setup to its teardown, with the publisher
/// wired over it.
final class StoreSlot: Sendable {
    private struct Open: Sendable {
        var store: SQLiteStore
        var fixture: IngestFixture
    }

    private let current = Mutex<Open?>(nil)

    /// Creates the database file with the daemon's configuration.
    func open() async throws {
        let directory = ProcessInfo.processInfo.environment["BENCHMARK_DATABASE_DIR"] ?? NSTemporaryDirectory()
        let path = (directory as NSString).appendingPathComponent("store-benchmark-\(UUID().uuidString).sqlite")
        let store = try await SQLiteStore.open(path: path, configuration: SQLiteStoreConfiguration())
        current.withLock { $0 = Open(store: store, fixture: IngestFixture(store: store)) }
    }

    /// The open store; fails when ``open()`` has not run.
    func store() throws -> SQLiteStore {
        try opened().store
    }

    /// The publisher over the open store (one per benchmark, so its ledger cache persists between samples).
    func fixture() throws -> IngestFixture {
        try opened().fixture
    }

    /// Closes the store and deletes its files.
    func remove() {
        current.withLock { open in
            if let store = open?.store {
                try? store.close()
                for suffix in ["", "-wal", "-shm"] {
                    try? FileManager.default.removeItem(atPath: store.path + suffix)
                }
            }
            open = nil
        }
    }

    private func opened() throws -> Open {
        guard let open = current.withLock({ $0 }) else {
            throw BenchmarkCheckFailure("the benchmark store was not opened by the setup")
        }
        return open
    }
}
