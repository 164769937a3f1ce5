import Foundation

/// Refreshes the queue and ledger gauges from the store; called before each `/metrics` scrape.
public struct QueueGauges: Sendable {
    private let store: any PublisherStore
    private let ledger: LedgerCache
    private let metrics: PublisherMetrics
    private let clock: any PublisherClock

    public init(store: any PublisherStore, ledger: LedgerCache, metrics: PublisherMetrics, clock: any PublisherClock) {
        self.store = store
        self.ledger = ledger
        self.metrics = metrics
        self.clock = clock
    }

    /// Reads the queue figures and records them; a store failure leaves the gauges as they were.
    public func refresh() async {
        metrics.recordLedgerSize(ledger.count)
        guard let stats = try? await store.queueStats() else { return }
        let age = stats.oldestPendingCreatedAt.map { max(0, clock.now.timeIntervalSince($0)) } ?? 0
        metrics.recordQueue(stats, oldestPendingAgeSeconds: age)
    }
}

/// Answers `/readyz`: the store must accept a write.
public struct StoreReadiness: ReadinessChecking {
    private let store: any PublisherStore

    public init(store: any PublisherStore) {
        self.store = store
    }

    public func readiness() async -> [ReadinessCheck] {
        do {
            try await store.checkWritable()
            return [ReadinessCheck(name: "storage", ok: true)]
        } catch {
            return [ReadinessCheck(name: "storage", ok: false, detail: "\(error)")]
        }
    }
}
