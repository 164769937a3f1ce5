import PostgresNIO
import PublisherCore
import Testing

@testable import PublisherPostgres

@Suite(
    "PostgreSQL notification listener",
    .enabled(if: LeaseTestEnvironment.adminURL != nil, LeaseTestEnvironment.skipReason),
    .timeLimit(.minutes(2))
)
struct NotificationListenerTests {
    @Test func notifiesWakeTheRouteAndSurviveALostConnection() async throws {
        try await LeaseTestDatabase.with { database in
            try await database.withClients(2) { clients in
                let signal = WorkSignal()
                let listener = PostgresNotificationListener(
                    client: clients[0], signal: signal, logger: .quietLeaseTests, knownRoutes: { ["configured"] }
                )
                let listening = Task { try await listener.run() }
                defer { listening.cancel() }
                let notifier = clients[1]

                // Once listening, the listener wakes the routes it was told about (nothing was missed yet, but
                // it cannot know that).
                #expect(await woken(signal, route: "configured", within: .seconds(10)))

                // A NOTIFY from another connection, as the store sends it when it appends to the outbox.
                #expect(
                    await woken(signal, route: "team-a", within: .seconds(10)) {
                        try await notifier.query(
                            "SELECT pg_notify(\(PostgresNotificationListener.channel), \("team-a"))"
                        )
                    }
                )

                // The listener's connection dies (every session of the database but psql's own is ended).
                let ended = try database.run(
                    """
                    SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended
                    """
                )
                #expect((Int(ended.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 1)

                // It reconnects: it wakes the routes whose notifications it may have missed (the configured
                // one, and team-a, which it has seen) ...
                #expect(await woken(signal, route: "configured", within: .seconds(10)))
                // ... and a later NOTIFY arrives again.
                #expect(
                    await woken(signal, route: "team-b", within: .seconds(10)) {
                        try await notifier.query(
                            "SELECT pg_notify(\(PostgresNotificationListener.channel), \("team-b"))"
                        )
                    }
                )
            }
        }
    }

    @Test func aNotifyOnAnotherChannelWakesNothing() async throws {
        try await LeaseTestDatabase.with { database in
            try await database.withClients(2) { clients in
                let signal = WorkSignal()
                let listener = PostgresNotificationListener(
                    client: clients[0], signal: signal, logger: .quietLeaseTests, knownRoutes: { ["configured"] }
                )
                let listening = Task { try await listener.run() }
                defer { listening.cancel() }
                #expect(await woken(signal, route: "configured", within: .seconds(10)))

                try await clients[1].query("SELECT pg_notify('some_other_channel', 'team-c')")
                // A notification on our channel sent after it: once it has arrived, the other one (sent first on
                // the same connection, delivered in order) would have too.
                #expect(
                    await woken(signal, route: "marker", within: .seconds(10)) {
                        try await clients[1].query(
                            "SELECT pg_notify(\(PostgresNotificationListener.channel), 'marker')"
                        )
                    }
                )
                #expect(signal.hasPendingWork(route: "team-c") == false)
            }
        }
    }
}

/// Whether `signal` wakes `route` within `limit`, calling `poke` every 100 ms meanwhile (a NOTIFY sent before
/// the listener listens is lost, so it is sent again until it arrives).
private func woken(
    _ signal: WorkSignal,
    route: String,
    within limit: Duration,
    poke: @escaping @Sendable () async throws -> Void = {}
) async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            await signal.wait(route: route)
            return !Task.isCancelled
        }
        group.addTask {
            let start = ContinuousClock.now
            while ContinuousClock.now - start < limit {
                try? await poke()
                try? await Task.sleep(for: .milliseconds(100))
                if Task.isCancelled { return true }
            }
            return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
}
