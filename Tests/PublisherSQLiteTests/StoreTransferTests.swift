import Foundation
import PagerDutyEvents
import PublisherCore
import Testing
@testable import PublisherSQLite

@Suite("Copying a store into an empty one (migrate-store)", .timeLimit(.minutes(2)))
struct StoreTransferTests {
    /// A source with three ledger entries, pending events on two routes (interleaved), and two dead letters.
    func fill(_ source: SQLiteStore) async throws {
        var silenced = ledgerEntry(dedupKey: "a", action: .acknowledge)
        silenced.cause = .silenced
        silenced.remembered = RememberedPayload(summary: "Disk full", source: "db-1", severity: .warning)
        silenced.incident = IncidentState(
            status: .acknowledged, changedAt: Times.at(3), changedBy: "Ada", incidentID: "PQ1", incidentURL: nil)
        silenced.ownSilence = OwnSilence(
            purpose: .acknowledged, answering: Times.at(3), endsAt: Times.at(603), ids: ["east": "s-1", "west": "s-2"])
        try await source.commit(
            ledger: [silenced, ledgerEntry(dedupKey: "b"), ledgerEntry(route: "db", dedupKey: "c", action: .resolve)],
            outbox: [
                outboxMessage(dedupKey: "a", body: Data("a-trigger".utf8)),
                outboxMessage(route: "db", dedupKey: "c", body: Data("c-trigger".utf8)),
                outboxMessage(kind: .acknowledge, dedupKey: "a", body: Data("a-ack".utf8)),
                outboxMessage(route: "db", kind: .resolve, dedupKey: "c", body: Data("c-resolve".utf8)),
                outboxMessage(dedupKey: "bad-1", body: Data("refused-1".utf8)),
                outboxMessage(dedupKey: "bad-2", body: Data("refused-2".utf8)),
            ])
        let pending = try await source.pendingMessages(limit: 100)
        try await source.moveToDeadLetters(id: pending[4].id, reason: "PagerDuty refused the event: 400 one", at: Times.at(10))
        try await source.moveToDeadLetters(id: pending[5].id, reason: "PagerDuty refused the event: 400 two", at: Times.at(20))
    }

    @Test func everythingArrivesInOrderWithReasonsAndTheSourceIsUntouched() async throws {
        try await withTemporaryStore { source, directory in
            try await fill(source)
            let target = try SQLiteStore(path: directory.path("target.sqlite"))
            defer { try? target.close() }

            let report = try await StoreTransfer.copy(from: source, to: target, chunkSize: 2)
            #expect(report == StoreTransferReport(ledgerEntries: 3, pendingMessages: 4, deadLetters: 2))

            #expect(Set(try await target.loadLedger(seenSince: .distantPast)) == Set(try await source.loadLedger(seenSince: .distantPast)))
            #expect(try await target.loadLedger(seenSince: .distantPast).first { $0.dedupKey == "a" }?.ownSilence?.ids.count == 2,
                "the incident state and the silence of ours come along")
            let moved = try await target.pendingMessages(limit: 100)
            #expect(moved.map(\.message) == (try await source.pendingMessages(limit: 100)).map(\.message), "same messages, same order")
            #expect(moved.map { String(decoding: $0.message.body, as: UTF8.self) } == ["a-trigger", "c-trigger", "a-ack", "c-resolve"])
            let dead = try await target.deadLetters(limit: 10)
            #expect(dead.map(\.reason) == ["PagerDuty refused the event: 400 two", "PagerDuty refused the event: 400 one"])
            #expect(dead.map(\.failedAt) == [Times.at(20), Times.at(10)])
            #expect(dead.map(\.message) == (try await source.deadLetters(limit: 10)).map(\.message))
            #expect(try await source.queueStats().pending == 4, "the source keeps its rows")
        }
    }

    @Test func aTargetThatHoldsDataIsRefusedAndKeptAsItWas() async throws {
        try await withTemporaryStore { source, directory in
            try await fill(source)
            let target = try SQLiteStore(path: directory.path("target.sqlite"))
            defer { try? target.close() }
            try await target.commit(ledger: [ledgerEntry(dedupKey: "already")], outbox: [])

            let refusal = await #expect(throws: StoreTransferError.self) { try await StoreTransfer.copy(from: source, to: target) }
            #expect(refusal?.reason.contains("already holds data (1 ledger entries") == true, "\(String(describing: refusal))")
            #expect(try await target.loadLedger(seenSince: .distantPast).map(\.dedupKey) == ["already"])
            #expect(try await target.queueStats().pending == 0)
        }
    }
}
