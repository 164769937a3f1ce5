import Logging
import PostgresNIO
import PublisherCore
import ServiceLifecycle
import Synchronization

/// Wakes this replica's dispatcher lanes when any replica stores new events: it `LISTEN`s on
/// ``channel``, where the store sends `NOTIFY` with the route's name inside the transaction that appends to the
/// outbox, and passes each route to ``WorkSignal/notify(route:)``.
///
/// When the connection drops it reconnects with a backoff (0.1 s doubling to ``maximumBackoff``), and once
/// listening again it wakes every route it has seen and every route `knownRoutes` names, since notifications sent
/// while it was away are lost. So a notification is late by at most the reconnect time; lanes also poll the
/// outbox on their own, which bounds the delay even when PostgreSQL stays away.
public final class PostgresNotificationListener: Service {
    /// The channel the store notifies on after an outbox append; the payload is the route's name.
    public static let channel = "pagerduty_publisher_outbox"
    /// The longest wait between two reconnection attempts.
    public static let maximumBackoff: Duration = .seconds(5)
    /// How often the listening connection is checked with `SELECT 1`, so a connection that died silently (a
    /// network partition) is replaced rather than waited on forever.
    public static let healthCheckInterval: Duration = .seconds(10)
    /// The most distinct routes remembered for the wake-up after a reconnection.
    static let rememberedRoutesLimit = 10_000

    private let client: PostgresClient
    private let signal: WorkSignal
    private let logger: Logger
    private let knownRoutes: @Sendable () -> [String]
    private let seenRoutes = Mutex<Set<String>>([])

    /// A listener on `client` (run by the caller) that wakes `signal`. After a reconnection it wakes every route
    /// it has received a notification for, plus those `knownRoutes` returns (for example every configured route).
    public init(
        client: PostgresClient,
        signal: WorkSignal,
        logger: Logger,
        knownRoutes: @escaping @Sendable () -> [String] = { [] }
    ) {
        self.client = client
        self.signal = signal
        self.logger = logger
        self.knownRoutes = knownRoutes
    }

    /// Listens until a graceful shutdown or cancellation, reconnecting whenever the connection drops.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.listenUntilCancelled()
        }
    }

    private func listenUntilCancelled() async {
        var backoff: Duration = .milliseconds(100)
        var failing = false
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        if failing {
                            logger.info("Listening for new events again", metadata: ["channel": "\(Self.channel)"])
                        }
                        failing = false
                        backoff = .milliseconds(100)
                        wakeEveryKnownRoute()
                        try await consume(notifications, on: connection)
                    }
                }
                if Task.isCancelled { return }
                // The sequence ended without an error: the connection closed.
                throw ListenerError(reason: "the listening connection closed")
            } catch {
                if Task.isCancelled { return }
                if !failing {
                    logger.warning(
                        "Lost the PostgreSQL connection that listens for new events; reconnecting",
                        metadata: ["channel": "\(Self.channel)", "error": "\(error)"]
                    )
                }
                failing = true
            }
            do {
                try await Task.sleep(for: backoff)
            } catch {
                return
            }
            backoff = min(backoff * 2, Self.maximumBackoff)
        }
    }

    /// Hands each notification to the signal, while checking the connection every ``healthCheckInterval``.
    /// Returns when the sequence ends; throws when the connection fails its check.
    private func consume(_ notifications: PostgresNotificationSequence, on connection: PostgresConnection) async throws {
        let logger = self.logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await notification in notifications {
                    self.received(route: notification.payload)
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: Self.healthCheckInterval)
                    do {
                        try await withTimeLimit(Self.healthCheckInterval) {
                            for try await _ in try await connection.query("SELECT 1", logger: logger) {}
                        }
                    } catch {
                        try? await connection.close()
                        throw error
                    }
                }
            }
            // Whichever ends first ends the listening: the sequence (connection closed) or a failed check.
            defer { group.cancelAll() }
            _ = try await group.next()
        }
    }

    private func received(route: String) {
        seenRoutes.withLock { routes in
            if routes.count < Self.rememberedRoutesLimit { routes.insert(route) }
        }
        signal.notify(route: route)
    }

    private func wakeEveryKnownRoute() {
        let routes = seenRoutes.withLock { $0 }.union(knownRoutes())
        for route in routes { signal.notify(route: route) }
    }
}

/// Why the listener reconnects.
struct ListenerError: Error, CustomStringConvertible {
    let reason: String

    var description: String { reason }
}
