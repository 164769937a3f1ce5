import Foundation
import Logging
import ServiceLifecycle

/// Loads the ledger at start and forgets entries whose TTL passed, in memory and in the store.
public struct LedgerMaintenance: Service {
    private let store: any PublisherStore
    private let ledger: LedgerCache
    private let policy: LedgerPolicy
    private let clock: any PublisherClock
    private let interval: Duration
    private let logger: Logger

    public init(
        store: any PublisherStore,
        ledger: LedgerCache,
        policy: LedgerPolicy,
        clock: any PublisherClock,
        interval: Duration = .seconds(600),
        logger: Logger
    ) {
        self.store = store
        self.ledger = ledger
        self.policy = policy
        self.clock = clock
        self.interval = interval
        self.logger = logger
    }

    /// Fills the in-memory ledger with the entries still within their TTL.
    public func load() async throws {
        let entries = try await store.loadLedger(seenSince: clock.now.addingTimeInterval(-policy.entryTTL.seconds))
        ledger.apply(entries)
        logger.info("Ledger loaded", metadata: ["entries": "\(entries.count)"])
    }

    /// Forgets expired entries once.
    public func sweep() async {
        let cutoff = clock.now.addingTimeInterval(-policy.entryTTL.seconds)
        let forgotten = ledger.expire(seenBefore: cutoff)
        do {
            try await store.expireLedger(seenBefore: cutoff)
        } catch {
            logger.warning("Could not expire ledger entries", metadata: ["error": "\(error)"])
        }
        if forgotten > 0 {
            logger.debug("Ledger entries expired", metadata: ["entries": "\(forgotten)"])
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while (try? await clock.sleep(for: interval)) != nil {
                await sweep()
            }
        }
    }
}
