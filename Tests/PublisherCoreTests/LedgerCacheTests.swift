import Foundation
import PublisherCore
import Testing

@Suite("Ledger cache across its shards", .timeLimit(.minutes(2)))
struct LedgerCacheTests {
    private let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// Entries over two routes: with 2,000 keys and 64 shards, every shard holds some.
    private func entries(count: Int = 2_000, seenAgo: TimeInterval = 0) -> [LedgerEntry] {
        (0..<count).map { index in
            LedgerEntry(
                route: index.isMultiple(of: 2) ? "team-a" : "team-b", dedupKey: "alert-\(index)",
                lastAction: .trigger, lastActionAt: now, startsAt: nil,
                lastSeen: now.addingTimeInterval(-seenAgo))
        }
    }

    @Test("every entry applied in one batch is found again, and counted once")
    func batchIsFoundAcrossShards() {
        let cache = LedgerCache()
        let batch = entries()
        cache.apply(batch)
        #expect(cache.count == batch.count)
        for entry in batch {
            #expect(cache.entry(for: entry.key) == entry)
        }
        #expect(cache.entry(for: LedgerKey(route: "team-a", dedupKey: "alert-1")) == nil)
        #expect(Set(cache.entries(where: { _ in true }).map(\.key)) == Set(batch.map(\.key)))
    }

    @Test("a later entry for the same key replaces the earlier one, whether applied alone or in a batch")
    func laterEntriesReplace() {
        let cache = LedgerCache()
        cache.apply(entries())
        var resolved = entries()[7]
        resolved.lastAction = .resolve
        cache.apply([resolved])
        var acknowledged = entries()[8]
        acknowledged.lastAction = .acknowledge
        cache.apply([acknowledged, entries()[9]])
        #expect(cache.entry(for: resolved.key)?.lastAction == .resolve)
        #expect(cache.entry(for: acknowledged.key)?.lastAction == .acknowledge)
        #expect(cache.count == 2_000)
    }

    @Test("expiring forgets old entries in every shard, keeps recent ones and held resolves")
    func expiryCoversEveryShard() {
        let cache = LedgerCache()
        let old = entries(count: 1_000, seenAgo: 100).map { entry in
            var entry = entry
            entry.dedupKey = "old-" + entry.dedupKey
            return entry
        }
        var held = old[0]
        held.resolveHeldUntil = now.addingTimeInterval(60)
        cache.apply(old + entries(count: 1_000) + [held])
        #expect(cache.expire(seenBefore: now.addingTimeInterval(-50)) == 999)
        #expect(cache.count == 1_001)
        #expect(cache.entry(for: old[1].key) == nil)
        #expect(cache.entry(for: held.key) == held)
        #expect(cache.entries(where: { $0.lastSeen < now }).map(\.key) == [held.key])
    }

    @Test("held resolves are found in whichever shard holds them, and only once due")
    func heldResolvesAcrossShards() {
        let cache = LedgerCache()
        var batch = entries()
        for index in stride(from: 0, to: batch.count, by: 20) {
            batch[index].resolveHeldUntil = now.addingTimeInterval(Double(index))
        }
        cache.apply(batch)
        let due = cache.heldResolves(dueAt: now.addingTimeInterval(999))
        #expect(Set(due.map(\.key)) == Set(stride(from: 0, to: 1_000, by: 20).map { batch[$0].key }))

        // Applying an entry without its hold drops it from the held ones.
        var released = batch[0]
        released.resolveHeldUntil = nil
        cache.apply([released])
        #expect(!cache.heldResolves(dueAt: now.addingTimeInterval(5_000)).contains { $0.key == released.key })
        #expect(cache.heldResolves(dueAt: now.addingTimeInterval(5_000)).count == 99)
    }
}
