import Foundation
import PagerDutyEvents
import PublisherCore
import PublisherTestSupport
import Testing

/// The behaviours every ``PublisherStore`` must have, run against the SQLite store and the PostgreSQL store.
@Suite("Store contract: SQLite and PostgreSQL behave the same", .timeLimit(.minutes(5)))
struct StoreContractTests {
    @Test("a commit upserts the ledger and appends messages in order with increasing ids and exact bodies",
        arguments: StoreKind.runnable)
    func commitRoundTrip(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let binaryBody = Data([0x00, 0xFF, 0xC3, 0x28, 0x7B, 0x0A])
            let first = [
                outboxMessage(dedupKey: "a", body: binaryBody, createdAt: Times.at(1)),
                outboxMessage(kind: .change, dedupKey: nil, severity: nil, body: Data(), createdAt: Times.at(2)),
            ]
            let firstIDs = try await store.commit(
                ledger: [ledgerEntry(dedupKey: "a"), ledgerEntry(dedupKey: "b", startsAt: nil)],
                outbox: first)

            let resolvedA = ledgerEntry(dedupKey: "a", action: .resolve, lastSeen: Times.at(30), startsAt: Times.at(5))
            let second = [outboxMessage(kind: .resolve, dedupKey: "a", severity: nil, createdAt: Times.at(30))]
            let secondIDs = try await store.commit(ledger: [resolvedA], outbox: second)

            let ids = firstIDs + secondIDs
            #expect(ids.count == 3)
            #expect(ids == ids.sorted() && Set(ids).count == 3)

            let ledger = try await store.loadLedger(seenSince: .distantPast)
            #expect(ledger == [resolvedA, ledgerEntry(dedupKey: "b", startsAt: nil)])

            let pending = try await store.pendingMessages(route: "default", limit: 10)
            #expect(pending == zip(ids, first + second).map { OutboxRecord(id: $0, message: $1) })
            #expect(pending.first?.message.body == binaryBody)
            #expect(pending.dropFirst().first?.message.body.isEmpty == true)
            #expect(try await store.commit(ledger: [], outbox: []).isEmpty)
        }
    }

    @Test("a message's trace context is kept with it, into the dead letters and back, and may be absent",
        arguments: StoreKind.runnable)
    func traceContextRoundTrip(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            var traced = outboxMessage(dedupKey: "traced", createdAt: Times.at(1))
            traced.traceContext = traceparent
            let untraced = outboxMessage(dedupKey: "untraced", createdAt: Times.at(2))
            let ids = try await store.commit(ledger: [], outbox: [traced, untraced])
            let pending = try await store.pendingMessages(route: "default", limit: 10)
            #expect(pending.map(\.message.traceContext) == [traceparent, nil])

            try await store.moveToDeadLetters(id: ids[0], reason: "refused", at: Times.at(3))
            let letters = try await store.deadLetters(limit: 10)
            #expect(letters.map(\.message.traceContext) == [traceparent])
            #expect(try await store.requeueDeadLetters(ids: nil) == 1)
            let requeued = try await store.pendingMessages(route: "default", limit: 10)
            #expect(requeued.map(\.message.dedupKey) == ["untraced", "traced"])
            #expect(requeued.map(\.message.traceContext) == [nil, traceparent])
        }
    }

    @Test("one commit of 1,000 messages keeps their order, and the same key twice keeps the last entry",
        arguments: StoreKind.runnable)
    func largeCommitKeepsOrder(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let batch = Batch(size: 1000)
            let later = ledgerEntry(dedupKey: "alert-7", action: .acknowledge, lastSeen: Times.at(99))
            let ids = try await store.commit(ledger: batch.ledger + [later], outbox: batch.outbox)
            #expect(ids.count == 1000)
            #expect(ids == ids.sorted() && Set(ids).count == 1000)
            let pending = try await store.pendingMessages(route: "default", limit: 2000)
            #expect(pending.map(\.id) == ids)
            #expect(pending.map(\.message) == batch.outbox)
            let ledger = try await store.loadLedger(seenSince: .distantPast)
            #expect(ledger.count == 1000)
            #expect(ledger.first { $0.dedupKey == "alert-7" } == later)
        }
    }

    @Test("clock times come back within a microsecond", arguments: StoreKind.runnable)
    func clockTimesRoundTrip(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for _ in 0..<20 {
                let now = Date()
                try await store.commit(
                    ledger: [ledgerEntry(dedupKey: "a", lastSeen: now, startsAt: now)],
                    outbox: [outboxMessage(createdAt: now)])
                let entry = try #require(try await store.loadLedger(seenSince: .distantPast).first)
                let message = try #require(try await store.pendingMessages(route: "default", limit: 1).first)
                for date in [entry.lastSeen, entry.lastActionAt, try #require(entry.startsAt), message.message.createdAt] {
                    #expect(abs(date.timeIntervalSince(now)) < 0.000_001)
                }
                try await store.markDelivered(id: message.id)
            }
        }
    }

    @Test("a commit that violates a constraint midway writes nothing, and its error holds no body",
        arguments: StoreKind.runnable)
    func failedCommitWritesNothing(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let original = ledgerEntry(dedupKey: "a")
            try await store.commit(ledger: [original], outbox: [])

            let secretBody = Data(#"{"summary":"body-text-that-must-not-leak"}"#.utf8)
            let error = await #expect(throws: StoreError.self) {
                try await store.commit(
                    ledger: [ledgerEntry(dedupKey: "a", action: .resolve), ledgerEntry(dedupKey: "b")],
                    outbox: [
                        outboxMessage(dedupKey: "a", body: secretBody),
                        outboxMessage(dedupKey: "b", body: secretBody),
                        // An alert event without a dedup_key breaks the outbox's CHECK constraint.
                        outboxMessage(kind: .trigger, dedupKey: nil, body: secretBody),
                    ])
            }
            let reason = try #require(error?.reason)
            #expect(reason.lowercased().contains("check constraint"))
            #expect(!reason.contains("body-text-that-must-not-leak"))

            #expect(try await store.loadLedger(seenSince: .distantPast) == [original])
            #expect(try await store.queueStats() == QueueStats(pending: 0, oldestPendingCreatedAt: nil, deadLetters: 0))
        }
    }

    @Test("a 1,000-alert commit that fails at message 501 writes none of its ledger entries or messages",
        arguments: StoreKind.runnable)
    func largeCommitFailingMidwayWritesNothing(kind: StoreKind) async throws {
        try await withStore(kind) { store async throws in
            let batch = Batch(size: 1000)
            var broken = batch.outbox
            broken[500].dedupKey = nil
            let outbox = broken
            let error = await #expect(throws: StoreError.self) {
                try await store.commit(ledger: batch.ledger, outbox: outbox)
            }
            #expect(error != nil)
            #expect(try await store.loadLedger(seenSince: .distantPast).isEmpty)
            #expect(try await store.queueStats().pending == 0)
        }
    }

    @Test("pending messages are listed per route, by id, at most the limit", arguments: StoreKind.runnable)
    func pendingMessagesPerRoute(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let ids = try await store.commit(ledger: [], outbox: [
                outboxMessage(route: "db", dedupKey: "1"),
                outboxMessage(route: "web", dedupKey: "2"),
                outboxMessage(route: "db", dedupKey: "3"),
                outboxMessage(route: "db", dedupKey: "4"),
            ])
            #expect(try await store.routesWithPendingMessages() == ["db", "web"])

            let db = try await store.pendingMessages(route: "db", limit: 2)
            #expect(db.map(\.id) == [ids[0], ids[2]])
            #expect(db.map(\.message.dedupKey) == ["1", "3"])
            #expect(try await store.pendingMessages(route: "web", limit: 10).map(\.id) == [ids[1]])
            #expect(try await store.pendingMessages(route: "db", limit: 0).isEmpty)
            #expect(try await store.pendingMessages(route: "unknown", limit: 10).isEmpty)

            try await store.markDelivered(id: ids[1])
            try await store.markDelivered(id: ids[1])  // A repeat is harmless.
            #expect(try await store.routesWithPendingMessages() == ["db"])
            try await store.markDelivered(id: ids[0])
            #expect(try await store.pendingMessages(route: "db", limit: 10).map(\.id) == [ids[2], ids[3]])
            try await store.markDelivered(id: ids[2])
            try await store.markDelivered(id: ids[3])
            #expect(try await store.routesWithPendingMessages().isEmpty)
        }
    }

    @Test("summaries list a route's oldest pending messages by id, at most the limit", arguments: StoreKind.runnable)
    func summariesPerRoute(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let ids = try await store.commit(ledger: [], outbox: [
                outboxMessage(route: "db", kind: .trigger, dedupKey: "1", severity: .warning),
                outboxMessage(route: "web", kind: .trigger, dedupKey: "2", severity: .critical),
                outboxMessage(route: "db", kind: .change, dedupKey: nil, severity: nil),
                outboxMessage(route: "db", kind: .resolve, dedupKey: "1", severity: .info),
                outboxMessage(route: "db", kind: .acknowledge, dedupKey: "3", severity: nil),
            ])

            #expect(try await store.pendingSummaries(route: "db", limit: 10) == [
                PendingMessageSummary(id: ids[0], kind: .trigger, dedupKey: "1", severity: .warning),
                PendingMessageSummary(id: ids[2], kind: .change, dedupKey: nil, severity: nil),
                PendingMessageSummary(id: ids[3], kind: .resolve, dedupKey: "1", severity: .info),
                PendingMessageSummary(id: ids[4], kind: .acknowledge, dedupKey: "3", severity: nil),
            ])
            #expect(try await store.pendingSummaries(route: "db", limit: 2).map(\.id) == [ids[0], ids[2]])
            #expect(try await store.pendingSummaries(route: "web", limit: 10).map(\.id) == [ids[1]])
            #expect(try await store.pendingSummaries(route: "db", limit: 0).isEmpty)
            #expect(try await store.pendingSummaries(route: "unknown", limit: 10).isEmpty)

            try await store.markDelivered(id: ids[0])
            try await store.moveToDeadLetters(id: ids[2], reason: "HTTP 400", at: Times.at(1))
            #expect(try await store.pendingSummaries(route: "db", limit: 10).map(\.id) == [ids[3], ids[4]])
        }
    }

    @Test("messages by id come in the order asked, with bodies and attempts; ids no longer pending are skipped",
        arguments: StoreKind.runnable)
    func messagesByID(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let messages = [
                outboxMessage(dedupKey: "1", body: Data("one".utf8)),
                outboxMessage(route: "web", dedupKey: "2", body: Data("two".utf8)),
                outboxMessage(dedupKey: "3", body: Data("three".utf8)),
                outboxMessage(dedupKey: "4", body: Data("four".utf8)),
            ]
            let ids = try await store.commit(ledger: [], outbox: messages)
            try await store.recordFailedAttempt(id: ids[2], error: "HTTP 503")
            try await store.markDelivered(id: ids[3])

            let records = try await store.pendingMessages(ids: [ids[2], ids[3], ids[0], 999_999, ids[1]])
            #expect(records == [
                OutboxRecord(id: ids[2], message: messages[2], attempts: 1, lastError: "HTTP 503"),
                OutboxRecord(id: ids[0], message: messages[0]),
                OutboxRecord(id: ids[1], message: messages[1]),
            ])
            #expect(try await store.pendingMessages(ids: []).isEmpty)

            let many = try await store.commit(ledger: [], outbox: (0..<1037).map { outboxMessage(dedupKey: "k\($0)") })
            let asked = Array(many.reversed())
            let read = try await store.pendingMessages(ids: asked)
            #expect(read.map(\.id) == asked)
            #expect(read.first?.message.dedupKey == "k1036")
        }
    }

    @Test("failed attempts are counted and the last error is kept", arguments: StoreKind.runnable)
    func failedAttemptsAreCounted(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let ids = try await store.commit(
                ledger: [], outbox: [outboxMessage(dedupKey: "1"), outboxMessage(dedupKey: "2")])
            try await store.recordFailedAttempt(id: ids[0], error: "HTTP 502")
            try await store.recordFailedAttempt(id: ids[0], error: "timed out")
            try await store.recordFailedAttempt(id: 999_999, error: "not pending")

            let pending = try await store.pendingMessages(route: "default", limit: 10)
            #expect(pending.map(\.attempts) == [2, 0])
            #expect(pending.map(\.lastError) == ["timed out", nil])
        }
    }

    @Test("dead-lettering moves the message with its reason, attempts and time; newest first",
        arguments: StoreKind.runnable)
    func deadLetteringMovesTheMessage(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let messages = [
                outboxMessage(dedupKey: "1", body: Data("one".utf8)),
                outboxMessage(route: "web", dedupKey: "2", body: Data("two".utf8)),
                outboxMessage(dedupKey: "3"),
            ]
            let ids = try await store.commit(ledger: [], outbox: messages)
            try await store.recordFailedAttempt(id: ids[0], error: "HTTP 503")
            try await store.moveToDeadLetters(id: ids[0], reason: "HTTP 400: invalid severity", at: Times.at(10))
            try await store.moveToDeadLetters(id: ids[1], reason: "HTTP 400: summary missing", at: Times.at(20))

            #expect(try await store.pendingMessages(route: "default", limit: 10).map(\.id) == [ids[2]])
            #expect(try await store.routesWithPendingMessages() == ["default"])
            let deadLetters = try await store.deadLetters(limit: 10)
            #expect(deadLetters == [
                DeadLetter(
                    id: ids[1], message: messages[1], attempts: 0, reason: "HTTP 400: summary missing",
                    failedAt: Times.at(20)),
                DeadLetter(
                    id: ids[0], message: messages[0], attempts: 1, reason: "HTTP 400: invalid severity",
                    failedAt: Times.at(10)),
            ])
            #expect(try await store.deadLetters(limit: 1).map(\.id) == [ids[1]])
            #expect(try await store.deadLetters(limit: 0).isEmpty)

            // A message already moved (or delivered) is not moved twice.
            try await store.moveToDeadLetters(id: ids[0], reason: "again", at: Times.at(30))
            #expect(try await store.deadLetters(limit: 10).count == 2)
        }
    }

    @Test("queue stats count pending messages and dead letters and find the oldest pending time",
        arguments: StoreKind.runnable)
    func queueStats(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            #expect(try await store.queueStats() == QueueStats(pending: 0, oldestPendingCreatedAt: nil, deadLetters: 0))
            let ids = try await store.commit(ledger: [], outbox: [
                outboxMessage(dedupKey: "1", createdAt: Times.at(5)),
                outboxMessage(dedupKey: "2", createdAt: Times.at(-7)),
                outboxMessage(dedupKey: "3", createdAt: Times.at(9)),
            ])
            #expect(
                try await store.queueStats()
                    == QueueStats(pending: 3, oldestPendingCreatedAt: Times.at(-7), deadLetters: 0))

            try await store.moveToDeadLetters(id: ids[1], reason: "HTTP 400", at: Times.at(10))
            #expect(
                try await store.queueStats()
                    == QueueStats(pending: 2, oldestPendingCreatedAt: Times.at(5), deadLetters: 1))
        }
    }

    @Test("loadLedger returns only entries seen at or after the date", arguments: StoreKind.runnable)
    func loadLedgerFiltersByLastSeen(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let old = ledgerEntry(dedupKey: "old", lastSeen: Times.at(-100))
            let boundary = ledgerEntry(dedupKey: "boundary", lastSeen: Times.at(0))
            let fresh = ledgerEntry(route: "web", dedupKey: "fresh", action: .acknowledge, lastSeen: Times.at(50))
            try await store.commit(ledger: [old, boundary, fresh], outbox: [])

            #expect(Set(try await store.loadLedger(seenSince: Times.at(0))) == [boundary, fresh])
            #expect(try await store.loadLedger(seenSince: Times.at(51)).isEmpty)
            #expect(try await store.loadLedger(seenSince: .distantPast).count == 3)
        }
    }

    @Test("expireLedger deletes only entries last seen before the date, keeps held resolves, and says how many",
        arguments: StoreKind.runnable)
    func expireLedgerDeletesOnlyOldEntries(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            var held = ledgerEntry(dedupKey: "held", lastSeen: Times.at(-300))
            held.resolveHeldUntil = Times.at(5000)
            let entries = [
                ledgerEntry(dedupKey: "old-1", lastSeen: Times.at(-200)),
                ledgerEntry(route: "web", dedupKey: "old-2", lastSeen: Times.at(-1)),
                ledgerEntry(dedupKey: "boundary", lastSeen: Times.at(0)),
                ledgerEntry(dedupKey: "fresh", lastSeen: Times.at(10)),
                held,
            ]
            try await store.commit(ledger: entries, outbox: [outboxMessage()])

            #expect(try await store.expireLedger(seenBefore: Times.at(0)) == 2)
            #expect(Set(try await store.loadLedger(seenSince: .distantPast)) == [entries[2], entries[3], held])
            #expect(try await store.expireLedger(seenBefore: Times.at(0)) == 0)
            #expect(try await store.queueStats().pending == 1)
        }
    }

    @Test("every lifecycle field round-trips, for an alert, a group and a change announcement",
        arguments: StoreKind.runnable)
    func lifecycleFieldsRoundTrip(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            var acknowledged = ledgerEntry(dedupKey: "a", action: .acknowledge)
            acknowledged.cause = .silenced
            acknowledged.remembered = RememberedPayload(summary: "Disk full on db-1", source: "db-1", severity: .warning)
            var group = ledgerEntry(dedupKey: "g")
            group.subject = .group(members: ["0000000000000002", "0000000000000001"])
            group.resolveHeldUntil = Times.at(900)
            var emptyGroup = ledgerEntry(dedupKey: "e", action: .resolve)
            emptyGroup.subject = .group(members: [])
            var change = ledgerEntry(dedupKey: "c")
            change.subject = .change
            var reconciled = ledgerEntry(dedupKey: "r", action: .resolve, startsAt: nil)
            reconciled.cause = .reconciled
            var inhibited = ledgerEntry(dedupKey: "i")
            inhibited.cause = .inhibited
            inhibited.remembered = RememberedPayload(summary: "Ünïcode ✓ — \"quoted\"", source: "", severity: .info)
            let all = [acknowledged, group, emptyGroup, change, reconciled, inhibited]
            try await store.commit(ledger: all, outbox: [])

            #expect(Set(try await store.loadLedger(seenSince: .distantPast)) == Set(all))
        }
    }

    @Test("PagerDuty's incident state round-trips, is replaced by a later write, and is counted by status",
        arguments: StoreKind.runnable)
    func incidentStateRoundTripsAndIsCounted(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            var acknowledged = ledgerEntry(dedupKey: "a", action: .trigger)
            acknowledged.incident = IncidentState(
                status: .acknowledged, changedAt: Times.at(12.25), changedBy: "Zoë Responder — \"on call\"",
                incidentID: "PGR0VU2", incidentURL: "https://acme.pagerduty.com/incidents/PGR0VU2")
            var resolved = ledgerEntry(route: "web", dedupKey: "b")
            resolved.incident = IncidentState(
                status: .resolved, changedAt: Times.at(13), changedBy: nil, incidentID: "PQ2", incidentURL: nil)
            var alsoResolved = ledgerEntry(route: "web", dedupKey: "c")
            alsoResolved.incident = IncidentState(
                status: .resolved, changedAt: Times.at(14), changedBy: "Integration", incidentID: "PQ3", incidentURL: nil)
            let unknown = ledgerEntry(dedupKey: "d")
            try await store.commit(ledger: [acknowledged, resolved, alsoResolved, unknown], outbox: [])
            #expect(Set(try await store.loadLedger(seenSince: .distantPast)) == [acknowledged, resolved, alsoResolved, unknown])
            #expect(try await store.queueStats().incidents == [.acknowledged: 1, .resolved: 2])

            // Unacknowledged: the state is replaced, and cleared entries count no more.
            acknowledged.incident?.status = .triggered
            acknowledged.incident?.changedAt = Times.at(20)
            resolved.incident = nil
            try await store.commit(ledger: [acknowledged, resolved], outbox: [])
            #expect(Set(try await store.loadLedger(seenSince: .distantPast)) == [acknowledged, resolved, alsoResolved, unknown])
            #expect(try await store.queueStats().incidents == [.triggered: 1, .resolved: 1])
        }
    }

    @Test("incident entries come latest change first, only those PagerDuty reported on, by state, at most the limit",
        arguments: StoreKind.runnable)
    func incidentEntriesByLatestChange(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            func entry(_ route: String, _ key: String, _ status: IncidentState.Status?, at seconds: Double) -> LedgerEntry {
                var entry = ledgerEntry(route: route, dedupKey: key)
                entry.incident = status.map {
                    IncidentState(
                        status: $0, changedAt: Times.at(seconds), changedBy: seconds == 30 ? nil : "Ada \(key)",
                        incidentID: "P\(key)", incidentURL: "https://acme.pagerduty.com/incidents/P\(key)")
                }
                return entry
            }
            var silenced = entry("db", "ack-late", .acknowledged, at: 40)
            silenced.ownSilence = OwnSilence(purpose: .acknowledged, answering: Times.at(40), endsAt: Times.at(3_640), ids: ["am": "s-1"])
            let entries = [
                entry("db", "ack-early", .acknowledged, at: 10),
                entry("web", "resolved", .resolved, at: 30),
                silenced,
                entry("web", "triggered", .triggered, at: 20),
                entry("db", "tie", .resolved, at: 30),
                entry("db", "never-reported", nil, at: 50),
            ]
            #expect(try await store.incidentEntries(status: nil, limit: 10).isEmpty)
            try await store.commit(ledger: entries, outbox: [])

            let all = try await store.incidentEntries(status: nil, limit: 10)
            #expect(all.map(\.dedupKey) == ["ack-late", "tie", "resolved", "triggered", "ack-early"], "ties by route")
            #expect(all.first == silenced, "whole entries, their silence included")
            #expect(all.map(\.incident?.changedBy) == ["Ada ack-late", nil, nil, "Ada triggered", "Ada ack-early"])
            #expect(try await store.incidentEntries(status: nil, limit: 2).map(\.dedupKey) == ["ack-late", "tie"])
            #expect(try await store.incidentEntries(status: .acknowledged, limit: 10).map(\.dedupKey) == ["ack-late", "ack-early"])
            #expect(try await store.incidentEntries(status: .acknowledged, limit: 1).map(\.dedupKey) == ["ack-late"])
            #expect(try await store.incidentEntries(status: .resolved, limit: 10).map(\.dedupKey) == ["tie", "resolved"])
            #expect(try await store.incidentEntries(status: .triggered, limit: 10).map(\.dedupKey) == ["triggered"])
            #expect(try await store.incidentEntries(status: nil, limit: 0).isEmpty)

            // A later change moves an entry to the top and out of its former state.
            var reopened = entry("db", "ack-early", .triggered, at: 60)
            reopened.lastSeen = Times.at(60)
            try await store.commit(ledger: [reopened], outbox: [])
            #expect(try await store.incidentEntries(status: nil, limit: 1) == [reopened])
            #expect(try await store.incidentEntries(status: .acknowledged, limit: 10).map(\.dedupKey) == ["ack-late"])
        }
    }

    @Test("a silence of ours round-trips with both purposes and its ids, is replaced by a later write, and clears",
        arguments: StoreKind.runnable)
    func ownSilenceRoundTripsAndClears(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            var acknowledged = ledgerEntry(dedupKey: "a", action: .acknowledge)
            acknowledged.incident = IncidentState(
                status: .acknowledged, changedAt: Times.at(12.25), changedBy: "Ada", incidentID: "PGR0VU2",
                incidentURL: nil)
            acknowledged.ownSilence = OwnSilence(
                purpose: .acknowledged, answering: Times.at(12.25), endsAt: Times.at(3600.5),
                ids: ["west": "0b6c3c4e-a8f1-4d8e-9b6a-7f4f2d9a1e11", "east — \"primary\"": "5f1b2c3d-0000-4e5f-8a9b-abcdef012345"])
            var manuallyResolved = ledgerEntry(route: "web", dedupKey: "b", action: .resolve)
            manuallyResolved.ownSilence = OwnSilence(
                purpose: .manualResolve, answering: Times.at(13), endsAt: Times.at(7213), ids: ["only": "s-1"])
            var notYetTaken = ledgerEntry(route: "web", dedupKey: "c")
            notYetTaken.ownSilence = OwnSilence(purpose: .acknowledged, answering: Times.at(14), endsAt: Times.at(614))
            let none = ledgerEntry(dedupKey: "d")
            try await store.commit(ledger: [acknowledged, manuallyResolved, notYetTaken, none], outbox: [])
            let loaded = try await store.loadLedger(seenSince: .distantPast)
            #expect(Set(loaded) == [acknowledged, manuallyResolved, notYetTaken, none])
            #expect(loaded.first { $0.dedupKey == "a" }?.ownSilence?.ids.count == 2)
            #expect(loaded.first { $0.dedupKey == "c" }?.ownSilence?.ids == [:])
            #expect(loaded.first { $0.dedupKey == "d" }?.ownSilence == nil)

            // Extended, one more Alertmanager took it, and another entry's silence ended.
            acknowledged.ownSilence?.endsAt = Times.at(7200)
            acknowledged.ownSilence?.ids["north"] = "s-3"
            manuallyResolved.ownSilence = nil
            notYetTaken.ownSilence?.purpose = .manualResolve
            try await store.commit(ledger: [acknowledged, manuallyResolved, notYetTaken], outbox: [])
            #expect(Set(try await store.loadLedger(seenSince: .distantPast)) == [acknowledged, manuallyResolved, notYetTaken, none])
        }
    }

    @Test("webhook event ids are remembered idempotently and forgotten after 24 hours", arguments: StoreKind.runnable)
    func inboundEventIDs(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let hour = 3_600.0
            #expect(try await store.hasInboundEvent(id: "01DEN7VT0SGFRVG6ULJD2K3Y6W", at: Times.at(0)) == false)
            try await store.rememberInboundEvent(id: "01DEN7VT0SGFRVG6ULJD2K3Y6W", at: Times.at(0))
            try await store.rememberInboundEvent(id: "01DEN7VT0SGFRVG6ULJD2K3Y6W", at: Times.at(5))  // a replay
            try await store.rememberInboundEvent(id: "second", at: Times.at(hour))
            #expect(try await store.hasInboundEvent(id: "01DEN7VT0SGFRVG6ULJD2K3Y6W", at: Times.at(hour)))
            #expect(try await store.hasInboundEvent(id: "second", at: Times.at(hour)))
            #expect(
                try await store.hasInboundEvent(id: "01den7vt0sgfrvg6uljd2k3y6w", at: Times.at(hour)) == false,
                "ids are compared exactly")

            // 24 h after the first (kept from its first time, not the replay's), the next one prunes it: it is
            // gone even for a clock that has not moved on.
            try await store.rememberInboundEvent(id: "third", at: Times.at(24 * hour + 1))
            #expect(try await store.hasInboundEvent(id: "01DEN7VT0SGFRVG6ULJD2K3Y6W", at: Times.at(5)) == false)
            #expect(try await store.hasInboundEvent(id: "second", at: Times.at(24 * hour + 1)))
            #expect(try await store.hasInboundEvent(id: "third", at: Times.at(24 * hour + 1)))
        }
    }

    @Test("an event id applied more than 24 hours ago is no replay, before anything prunes it, and counts again once reapplied",
        arguments: StoreKind.runnable)
    func inboundEventWindowIsExact(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let day = 24 * 3_600.0
            try await store.rememberInboundEvent(id: "ev-1", at: Times.at(0))
            #expect(try await store.hasInboundEvent(id: "ev-1", at: Times.at(0)))
            #expect(try await store.hasInboundEvent(id: "ev-1", at: Times.at(day)), "exactly 24 h later: still a replay")
            // Nothing else arrived, so nothing pruned the row: the check itself must honour the window.
            #expect(try await store.hasInboundEvent(id: "ev-1", at: Times.at(day + 0.25)) == false)
            #expect(try await store.hasInboundEvent(id: "ev-2", at: Times.at(day + 0.25)) == false)

            // Applied again: remembered from its new time, so a replay of it is one for 24 h more.
            try await store.rememberInboundEvent(id: "ev-1", at: Times.at(day + 1))
            #expect(try await store.hasInboundEvent(id: "ev-1", at: Times.at(day + 1)))
            #expect(try await store.hasInboundEvent(id: "ev-1", at: Times.at(2 * day + 1)))
            #expect(try await store.hasInboundEvent(id: "ev-1", at: Times.at(2 * day + 1.25)) == false)
        }
    }

    @Test("request times are kept per lane, read oldest first from a date, and pruned after 120 s",
        arguments: StoreKind.runnable)
    func requestTimes(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for offset in [0.0, 1.5, 30, 59.25] {
                try await store.recordRequest(lane: "key-a", finishedAt: Times.at(offset))
            }
            try await store.recordRequest(lane: "key-b", finishedAt: Times.at(2))
            #expect(try await store.requestTimes(lane: "key-a", since: Times.at(1.5)) == [
                Times.at(1.5), Times.at(30), Times.at(59.25),
            ])
            #expect(try await store.requestTimes(lane: "key-b", since: .distantPast) == [Times.at(2)])
            #expect(try await store.requestTimes(lane: "key-c", since: .distantPast).isEmpty)

            // Recording at +121 s prunes key-a's times older than +1 s, and no other lane's.
            try await store.recordRequest(lane: "key-a", finishedAt: Times.at(121))
            #expect(try await store.requestTimes(lane: "key-a", since: .distantPast) == [
                Times.at(1.5), Times.at(30), Times.at(59.25), Times.at(121),
            ])
            try await store.recordRequest(lane: "key-a", finishedAt: Times.at(180))
            #expect(try await store.requestTimes(lane: "key-a", since: .distantPast) == [
                Times.at(121), Times.at(180),
            ])
            #expect(try await store.requestTimes(lane: "key-b", since: .distantPast) == [Times.at(2)])
        }
    }

    @Test("decide runs once on the stored entries of its keys and writes what it returns, in order",
        arguments: StoreKind.runnable)
    func decideWritesItsChanges(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let alerts = AlertDecisions(store: store)
            let first = try await alerts.send([("a", .firing), ("b", .firing)], at: Times.at(0))
            #expect(first.seen == [:])
            #expect(first.actions == ["a": .trigger, "b": .trigger])

            let second = try await alerts.send([("a", .firing), ("b", .resolved), ("c", .resolved)], at: Times.at(10))
            #expect(second.seen.keys.sorted() == ["a", "b"])
            #expect(second.seen["a"]?.lastAction == .trigger)
            #expect(second.actions == ["b": .resolve, "c": .resolve])

            let pending = try await store.pendingMessages(route: "default", limit: 10)
            #expect(pending.map(\.message.kind) == [.trigger, .trigger, .resolve, .resolve])
            #expect(pending.map(\.message.dedupKey) == ["a", "b", "b", "c"])
            #expect(pending.map(\.id) == pending.map(\.id).sorted())
            let ledger = try await store.loadLedger(seenSince: .distantPast)
            #expect(ledger.map(\.dedupKey) == ["a", "b", "c"])
            #expect(ledger.map(\.lastAction) == [.trigger, .resolve, .resolve])
            #expect(ledger.first?.lastSeen == Times.at(10))
        }
    }

    @Test("a decision whose writes fail writes nothing and throws a StoreError", arguments: StoreKind.runnable)
    func failingDecisionWritesNothing(kind: StoreKind) async throws {
        try await withStore(kind) { store async throws in
            let cache = LedgerCache()
            let key = LedgerKey(route: "default", dedupKey: "a")
            let error = await #expect(throws: StoreError.self) {
                try await store.decide(keys: [key], cache: cache) { _ in
                    LedgerChanges(
                        ledger: [ledgerEntry(dedupKey: "a")],
                        outbox: [outboxMessage(dedupKey: "a"), outboxMessage(kind: .resolve, dedupKey: nil)],
                        outcome: ())
                }
            }
            #expect(error != nil)
            #expect(try await store.loadLedger(seenSince: .distantPast).isEmpty)
            #expect(try await store.queueStats().pending == 0)
        }
    }

    @Test("queue administration: figures per route, listing, requeueing dead letters, purging",
        arguments: StoreKind.runnable)
    func queueAdministration(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let ids = try await store.commit(ledger: [], outbox: [
                outboxMessage(route: "db", dedupKey: "1", createdAt: Times.at(3)),
                outboxMessage(route: "web", dedupKey: "2", createdAt: Times.at(1)),
                outboxMessage(route: "db", dedupKey: "3", createdAt: Times.at(2)),
                outboxMessage(route: "mail", dedupKey: "4", createdAt: Times.at(4)),
            ])
            try await store.recordFailedAttempt(id: ids[3], error: "HTTP 400")
            try await store.moveToDeadLetters(id: ids[3], reason: "HTTP 400", at: Times.at(5))
            try await store.moveToDeadLetters(id: ids[1], reason: "HTTP 400", at: Times.at(6))

            #expect(try await store.routeQueueFigures() == [
                RouteQueueFigures(route: "db", pending: 2, deadLetters: 0, oldestPendingCreatedAt: Times.at(2)),
                RouteQueueFigures(route: "mail", pending: 0, deadLetters: 1, oldestPendingCreatedAt: nil),
                RouteQueueFigures(route: "web", pending: 0, deadLetters: 1, oldestPendingCreatedAt: nil),
            ])
            #expect(try await store.pendingMessages(limit: 1).map(\.id) == [ids[0]])

            #expect(try await store.requeueDeadLetters(ids: [ids[3], 999_999]) == 1)
            let requeued = try #require(try await store.pendingMessages(route: "mail", limit: 10).first)
            #expect(requeued.id > ids[3])
            #expect(requeued.attempts == 0 && requeued.lastError == nil)
            #expect(requeued.message.dedupKey == "4")
            #expect(try await store.requeueDeadLetters(ids: []) == 0)
            #expect(try await store.requeueDeadLetters(ids: nil) == 1)
            #expect(try await store.deadLetters(limit: 10).isEmpty)

            #expect(try await store.purge(.dead) == 0)
            #expect(try await store.purge(.pending) == 4)
            #expect(try await store.queueStats() == QueueStats(pending: 0, oldestPendingCreatedAt: nil, deadLetters: 0))
        }
    }

    @Test("checkWritable succeeds on a writable store", arguments: StoreKind.runnable)
    func checkWritable(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.checkWritable()
            try await store.checkWritable()
            #expect(try await store.queueStats().pending == 0)
        }
    }
}
