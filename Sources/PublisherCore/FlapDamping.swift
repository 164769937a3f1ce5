import Foundation
import Logging
import ServiceLifecycle

/// Sends the resolves held back for flapping alerts once their hold has passed (unless the alert fired again
/// meanwhile, which drops the hold), and keeps the `pagerduty_publisher_flapping_alerts` gauge current.
///
/// Held resolves live in the ledger, so a restart neither loses nor repeats them.
public struct FlapDamping: Service {
    private let store: any PublisherStore
    private let ledger: LedgerCache
    private let flaps: FlapDetector
    private let clock: any PublisherClock
    private let signal: WorkSignal
    private let metrics: PublisherMetrics
    private let gate: AsyncGate
    private let checkInterval: Duration
    private let logger: Logger

    /// - Parameter checkInterval: how often due holds are looked for; a resolve goes out at most this late.
    public init(
        store: any PublisherStore,
        ledger: LedgerCache,
        flaps: FlapDetector,
        clock: any PublisherClock,
        signal: WorkSignal,
        metrics: PublisherMetrics,
        gate: AsyncGate,
        checkInterval: Duration = .seconds(5),
        logger: Logger
    ) {
        self.store = store
        self.ledger = ledger
        self.flaps = flaps
        self.clock = clock
        self.signal = signal
        self.metrics = metrics
        self.gate = gate
        self.checkInterval = checkInterval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            repeat {
                await releaseDueResolves()
            } while (try? await clock.sleep(for: checkInterval)) != nil
        }
    }

    /// Queues every held resolve that is due, and updates the flapping gauge.
    public func releaseDueResolves() async {
        let now = clock.now
        metrics.recordFlapping(flaps.flappingCount(at: now))
        // A shared store is read before the gate is taken: the gate only keeps this process's cache exact, the
        // decision below looks at each entry again as stored (under the store's locks), and a read that waits for
        // an unreachable database must not hold every webhook of this replica behind it.
        var sharedDue: [LedgerEntry]?
        if let shared = store as? any SharedPublisherStore {
            do {
                sharedDue = try await shared.heldResolves(dueAt: now)
            } catch {
                logger.error("Could not read held resolves; retrying shortly", metadata: ["error": "\(error)"])
                return
            }
            if sharedDue?.isEmpty == true { return }
        }
        await gate.withGate {
            // The cache is read under the gate: a webhook may have dropped a hold since.
            let due = sharedDue ?? ledger.heldResolves(dueAt: now)
            guard !due.isEmpty else { return }
            let entries: [LedgerEntry]
            do {
                entries = try await store.decide(keys: Set(due.map(\.key)), cache: ledger) { stored in
                    let released = self.release(stored.values.filter { Self.isDue($0, at: now) }, now: now)
                    return LedgerChanges(ledger: released.entries, outbox: released.outbox, outcome: released.entries)
                }
            } catch {
                logger.error("Could not queue held resolves; retrying shortly", metadata: ["error": "\(error)"])
                return
            }
            ledger.apply(entries)
            for entry in entries {
                logger.info(
                    "Held resolve released",
                    metadata: ["route": "\(entry.route)", "dedup_key": "\(entry.dedupKey)"]
                )
            }
            for route in Set(entries.map(\.route)).sorted() { signal.notify(route: route) }
        }
    }

    /// Whether `entry` holds a resolve that is due at `date`.
    static func isDue(_ entry: LedgerEntry, at date: Date) -> Bool {
        guard let due = entry.resolveHeldUntil else { return false }
        return due <= date && entry.lastAction != .resolve
    }

    /// The resolves of `due` entries, and the entries as they are once resolved.
    private func release(_ due: [LedgerEntry], now: Date) -> (entries: [LedgerEntry], outbox: [OutboxMessage]) {
        var entries: [LedgerEntry] = []
        var outbox: [OutboxMessage] = []
        for var entry in due.sorted(by: { $0.dedupKey < $1.dedupKey }) {
            entry.resolveHeldUntil = nil
            do {
                let reason = "resolved while flapping; the resolve was held back (damping) and the alert stayed resolved"
                outbox.append(try LifecycleEvents.message(.resolve, for: entry, reason: reason, at: now))
            } catch {
                logger.error("Could not build a held resolve", metadata: ["dedup_key": "\(entry.dedupKey)", "error": "\(error)"])
                continue
            }
            entry.lastAction = .resolve
            entry.lastActionAt = now
            entry.cause = .webhook
            entries.append(entry)
        }
        return (entries, outbox)
    }
}
