import AlertmanagerModels
import Foundation
import PagerDutyEvents
import PublisherCore
import PublisherPostgres
import PublisherTestSupport
import Testing

/// Two replicas (two stores, each with its own connection pool and its own cache) deciding on one database.
@Suite(
    "PostgreSQL store: decisions across replicas",
    .enabled(if: PostgresAvailability.isConfigured, Comment(rawValue: PostgresAvailability.reason)),
    .timeLimit(.minutes(5)))
struct PostgresReplicaTests {
    /// Runs `body` with two migrated stores on one fresh database.
    private func withTwoReplicas<T: Sendable>(
        _ label: String,
        _ body: (PostgresStore, PostgresStore) async throws -> T
    ) async throws -> T {
        try await withPostgresDatabase(label: label) { database in
            try await withPostgresStore(database) { first in
                try await withPostgresStore(database) { second in try await body(first, second) }
            }
        }
    }

    @Test("two replicas deciding on the same new alert at once append exactly one trigger (100 alerts)")
    func sameNewAlertOnTwoReplicas() async throws {
        try await withTwoReplicas("same_new") { first, second in
            let replicas = [AlertDecisions(store: first), AlertDecisions(store: second)]
            var triggersPerRound: [Int] = []
            for round in 0..<100 {
                let key = "alert-\(round)"
                let results = try await withThrowingTaskGroup(of: AlertDecisions.Result.self) { group in
                    for replica in replicas {
                        group.addTask { try await replica.send([(key, .firing)], at: Times.at(Double(round))) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                triggersPerRound.append(results.filter { $0.actions[key] == .trigger }.count)
                // The replica that came second saw the first one's row.
                #expect(results.contains { $0.seen[key]?.lastAction == .trigger })
            }
            #expect(triggersPerRound == Array(repeating: 1, count: 100))
            let pending = try await first.pendingMessages(route: "default", limit: 1000)
            #expect(pending.count == 100)
            #expect(Set(pending.compactMap(\.message.dedupKey)).count == 100)
        }
    }

    @Test("firing and resolving alternately, each sighting sent to both replicas at once: every transition once, in order (200 rounds)")
    func alternatingTransitions() async throws {
        try await withTwoReplicas("alternating") { first, second in
            let replicas = [AlertDecisions(store: first), AlertDecisions(store: second)]
            let key = "flapping"
            for round in 0..<200 {
                let occurrence = Times.at(Double(round) * 10)
                for (phase, status) in [AlertStatus.firing, .resolved].enumerated() {
                    let now = occurrence.addingTimeInterval(Double(phase) + 1)
                    // The replica that gets the sighting first alternates with the round.
                    let order = round % 2 == 0 ? replicas : replicas.reversed()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for replica in order {
                            group.addTask { _ = try await replica.send([(key, status)], at: now, startsAt: occurrence) }
                        }
                        try await group.waitForAll()
                    }
                }
            }
            let pending = try await first.pendingMessages(route: "default", limit: 1000)
            #expect(pending.count == 400)
            let expected = (0..<200).flatMap { _ in [OutboxKind.trigger, .resolve] }
            #expect(pending.map(\.message.kind) == expected)
            #expect(pending.map(\.message.createdAt) == (0..<200).flatMap { round in
                [Times.at(Double(round) * 10 + 1), Times.at(Double(round) * 10 + 2)]
            })
            let entry = try #require(try await second.loadLedger(seenSince: .distantPast).first)
            #expect(entry.lastAction == .resolve)
            #expect(entry.startsAt == Times.at(1990))
        }
    }

    @Test("overlapping 100-alert decisions on two replicas never deadlock and trigger each alert once")
    func overlappingBatches() async throws {
        try await withTwoReplicas("overlap") { first, second in
            let replicas = [AlertDecisions(store: first), AlertDecisions(store: second)]
            for round in 0..<20 {
                // Replica 0 sees alerts 0..<100 and replica 1 alerts 50..<150 of this round, in opposite orders.
                let batches = [
                    (0..<100).map { ("r\(round)-\($0)", AlertStatus.firing) },
                    (50..<150).reversed().map { ("r\(round)-\($0)", AlertStatus.firing) },
                ]
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (replica, batch) in zip(replicas, batches) {
                        group.addTask { _ = try await replica.send(batch, at: Times.at(Double(round))) }
                    }
                    try await group.waitForAll()
                }
            }
            let pending = try await first.pendingMessages(route: "default", limit: 10_000)
            #expect(pending.count == 20 * 150)
            #expect(Set(pending.compactMap(\.message.dedupKey)).count == 20 * 150)
        }
    }

    @Test("plain commits upserting the same entries in opposite orders on two replicas never deadlock")
    func opposingCommits() async throws {
        try await withTwoReplicas("opposing") { first, second in
            let entries = (0..<200).map { ledgerEntry(dedupKey: "k\($0)") }
            for round in 0..<20 {
                let forward = entries.map { entry -> LedgerEntry in
                    var entry = entry
                    entry.lastSeen = Times.at(Double(round))
                    return entry
                }
                let backward = Array(forward.reversed())
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await first.commit(ledger: forward, outbox: []) }
                    group.addTask { try await second.commit(ledger: backward, outbox: []) }
                    try await group.waitForAll()
                }
            }
            let ledger = try await first.loadLedger(seenSince: .distantPast)
            #expect(ledger.count == 200)
            #expect(ledger.allSatisfy { $0.lastSeen == Times.at(19) })
        }
    }

    @Test("a stale cache on one replica does not make it trigger twice or miss a resolve")
    func staleCacheOnAnotherReplica() async throws {
        try await withTwoReplicas("stale") { first, second in
            let a = AlertDecisions(store: first)
            let b = AlertDecisions(store: second)
            let occurrence = Times.at(0)
            _ = try await a.send([("x", .firing)], at: Times.at(1), startsAt: occurrence)
            // b has never seen "x": its cache is empty, yet it must not trigger again.
            #expect(try await b.send([("x", .firing)], at: Times.at(2), startsAt: occurrence).actions == [:])
            // b resolves; a's cache still says "triggered", yet a must not resolve again, and must re-trigger a
            // new occurrence.
            #expect(try await b.send([("x", .resolved)], at: Times.at(3), startsAt: occurrence).actions == ["x": .resolve])
            #expect(try await a.send([("x", .resolved)], at: Times.at(4), startsAt: occurrence).actions == [:])
            #expect(try await a.send([("x", .firing)], at: Times.at(5), startsAt: Times.at(5)).actions == ["x": .trigger])
            let kinds = try await first.pendingMessages(route: "default", limit: 10).map(\.message.kind)
            #expect(kinds == [.trigger, .resolve, .trigger])
        }
    }
}
