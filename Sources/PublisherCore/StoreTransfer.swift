import Foundation

/// What ``StoreTransfer/copy(from:to:chunkSize:)`` moved.
public struct StoreTransferReport: Sendable, Hashable {
    public var ledgerEntries: Int
    public var pendingMessages: Int
    public var deadLetters: Int

    public init(ledgerEntries: Int, pendingMessages: Int, deadLetters: Int) {
        self.ledgerEntries = ledgerEntries
        self.pendingMessages = pendingMessages
        self.deadLetters = deadLetters
    }
}

/// Why a transfer did not happen or stopped.
public struct StoreTransferError: Error, Sendable, CustomStringConvertible {
    public var reason: String

    public var description: String { reason }
}

/// Copies everything a store holds into an empty one: the ledger, the pending events in their order, and the
/// dead letters with their reasons (`pagerduty-publisher migrate-store`, SQLite → PostgreSQL).
///
/// Pending events keep their order (per dedup_key and overall), since they are appended in the source's id
/// order; their attempt counts start again at zero. Dead letters keep their reason and time. The target must be
/// empty, so a transfer is never applied twice, and no replica may run on it meanwhile (a dead letter passes
/// through the target's outbox on its way to the dead-letter table).
public enum StoreTransfer {
    public typealias Store = any PublisherStore & QueueAdministration

    public static func copy(from source: Store, to target: Store, chunkSize: Int = 1000) async throws(StoreTransferError) -> StoreTransferReport {
        let size = max(chunkSize, 1)
        do {
            let targetStats = try await target.queueStats()
            let targetLedger = try await target.loadLedger(seenSince: .distantPast)
            guard targetStats.pending == 0, targetStats.deadLetters == 0, targetLedger.isEmpty else {
                throw StoreTransferError(
                    reason: "The target already holds data (\(targetLedger.count) ledger entries, \(targetStats.pending) pending events, \(targetStats.deadLetters) dead letters); migrate into an empty database, before any replica runs on it.")
            }
            let ledger = try await source.loadLedger(seenSince: .distantPast)
            for start in stride(from: 0, to: ledger.count, by: size) {
                try await target.commit(ledger: Array(ledger[start..<min(start + size, ledger.count)]), outbox: [])
            }
            let pending = try await source.pendingMessages(limit: Int.max)
            for start in stride(from: 0, to: pending.count, by: size) {
                try await target.commit(ledger: [], outbox: pending[start..<min(start + size, pending.count)].map(\.message))
            }
            let dead = try await source.deadLetters(limit: Int.max)
            for letter in dead.reversed() {
                let ids = try await target.commit(ledger: [], outbox: [letter.message])
                guard let id = ids.first else { throw StoreTransferError(reason: "The target gave no id to a dead letter.") }
                try await target.moveToDeadLetters(id: id, reason: letter.reason, at: letter.failedAt)
            }
            return StoreTransferReport(ledgerEntries: ledger.count, pendingMessages: pending.count, deadLetters: dead.count)
        } catch let error as StoreTransferError {
            throw error
        } catch {
            throw StoreTransferError(reason: "The transfer stopped: \(error). The target may hold part of the data; empty it before trying again.")
        }
    }
}
