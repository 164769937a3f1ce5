import Foundation
import Logging
import PostgresNIO
import PublisherCore
import Synchronization

/// The ``SharedPublisherStore`` on PostgreSQL, for several replicas sharing one database.
///
/// Every protocol method is one transaction (one statement where one suffices). Decisions
/// (``decide(keys:cache:_:)``) run inside their transaction on the ledger rows of their keys, read after taking a
/// transaction-level advisory lock per key, so no other replica can change those entries until the decision is
/// committed. Every transaction that appends to the outbox sends `NOTIFY pagerduty_publisher_outbox, '<route>'`
/// once per route it appended to; PostgreSQL delivers the notifications at commit.
///
/// Durability: a commit returns once PostgreSQL flushed it (`synchronous_commit=on`, which
/// ``PostgresSettings/clientConfiguration`` sets on every connection; ``checkWritable()`` fails if a connection
/// runs with it off).
///
/// Bounded waits: every operation gives up after ``operationTimeout`` (``bulkTimeout`` for the few that read or
/// delete without a limit and for migrating, ``readinessTimeout`` for ``checkWritable()``). Waiting for a
/// connection (the pool keeps retrying an unreachable server in the background) is bounded by the shorter of the
/// operation's timeout and ``operationTimeout``, so every operation fails within a few seconds when PostgreSQL is
/// unreachable. When the time is up while a statement runs, the connection is closed, which fails the statement
/// at once, and PostgreSQL rolls the transaction back unless it had already received the `COMMIT`; the caller
/// gets a ``StoreError`` (a webhook gets 503 and is retried, and a retried decision reads the committed rows, so
/// it never doubles a transition).
///
/// Errors are ``StoreError``s naming the operation and PostgreSQL's message and SQLSTATE, never a statement's
/// parameters (a message body) or the password.
///
/// Lifetime: the caller runs the `PostgresClient` (`client.run()`, in the service group) for as long as the store
/// is used.
public final class PostgresStore: SharedPublisherStore {
    /// The channel of the notifications sent when messages are appended; the payload is the route.
    public static let notificationChannel = "pagerduty_publisher_outbox"

    /// How long an operation may take before it fails: long enough for a busy server, short enough that a
    /// webhook gets its 503 while Alertmanager still waits for an answer.
    public let operationTimeout: Duration
    /// The bound of the operations that read or delete without a limit (loading and expiring the ledger, the
    /// sync's candidates, administration), and of waiting for another replica's migration.
    public let bulkTimeout: Duration
    /// The bound of ``checkWritable()``, so that readiness fails within a few seconds when PostgreSQL is down.
    public let readinessTimeout: Duration

    /// The replica whose delivery leases fence ``recordRequest(lane:finishedAt:)``, or `nil` for a store used
    /// without leases (a command, a test).
    public let fencingReplica: String?

    let client: PostgresClient
    let logger: Logger

    /// A store on `client`, which the caller runs. Call ``migrate()`` once before using it.
    ///
    /// With `fencingReplica`, the name this replica's ``PostgresLeases`` hold leases under, a request's start is
    /// recorded only while that replica holds the lane's lease with at least ``fencingMargin`` left, and
    /// ``WorkNoLongerOwned`` is thrown otherwise.
    public convenience init(client: PostgresClient, logger: Logger, fencingReplica: String? = nil) {
        self.init(client: client, logger: logger, operationTimeout: .seconds(5), fencingReplica: fencingReplica)
    }

    /// A store on `client` whose operations give up after `operationTimeout` (readiness after at most 3 s, bulk
    /// operations after 60 s or `operationTimeout`, whichever is longer).
    public init(client: PostgresClient, logger: Logger, operationTimeout: Duration, fencingReplica: String? = nil) {
        self.client = client
        self.logger = logger
        self.fencingReplica = fencingReplica
        self.operationTimeout = operationTimeout
        self.bulkTimeout = max(operationTimeout, .seconds(60))
        self.readinessTimeout = min(operationTimeout, .seconds(3))
    }

    // MARK: - Migrations

    /// Creates or updates the schema. Idempotent, and safe when several replicas start at once: it runs under a
    /// session-level advisory lock, so the first replica migrates and the others wait for it, then find every
    /// migration applied. Fails when the database holds migrations this version does not know (a newer version
    /// wrote it).
    public func migrate() async throws(StoreError) {
        try await withConnection("migrating the schema", timeout: bulkTimeout) { connection, logger in
            try await connection.query("SELECT pg_advisory_lock(\(PostgresSchema.migrationLock))", logger: logger)
            do {
                try await Self.applyMigrations(on: connection, logger: logger)
            } catch {
                _ = try? await connection.query(
                    "SELECT pg_advisory_unlock(\(PostgresSchema.migrationLock))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(PostgresSchema.migrationLock))", logger: logger)
        }
    }

    /// The names of the migrations applied to the database, in the order they were applied.
    public func appliedMigrations() async throws(StoreError) -> [String] {
        try await withConnection("reading the applied migrations", timeout: operationTimeout) { connection, logger in
            var names: [String] = []
            let rows = try await connection.query(
                "SELECT name FROM schema_migrations ORDER BY applied_at, name", logger: logger)
            for try await name in rows.decode(String.self) { names.append(name) }
            return names
        }
    }

    private static func applyMigrations(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.createMigrationsTable), logger: logger)
        var applied: Set<String> = []
        for try await name in try await connection.query("SELECT name FROM schema_migrations", logger: logger)
            .decode(String.self)
        {
            applied.insert(name)
        }
        let known = Set(PostgresSchema.migrations.map(\.name))
        let unknown = applied.subtracting(known)
        if !unknown.isEmpty {
            throw StoreError(
                reason: "the database was migrated by a newer version of pagerduty-publisher (unknown migrations: "
                    + "\(unknown.sorted().joined(separator: ", ")))")
        }
        for migration in PostgresSchema.migrations where !applied.contains(migration.name) {
            try await connection.withTransaction(logger: logger) { connection in
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (name) VALUES (\(migration.name))", logger: logger)
            }
            logger.info("Migrated the PostgreSQL schema", metadata: ["migration": "\(migration.name)"])
        }
    }

    // MARK: - Running operations

    /// Runs `body` on a leased connection, in autocommit mode (one statement is one transaction), within `timeout`;
    /// waiting for the connection itself is bounded by ``operationTimeout`` (or `timeout`, if shorter), so every
    /// operation fails within a few seconds when PostgreSQL is unreachable.
    ///
    /// Two tasks of their own do the work, and the caller waits only for the first of their reports: one leases the
    /// connection and runs `body` on it (so the connection stays leased exactly as long as `body` runs, and is never
    /// handed to another operation while a statement may still run on it); the other keeps the deadlines. When the
    /// deadline passes first, the caller gets its error at once and the connection is closed, which normally fails
    /// the statement in flight (postgres-nio cannot cancel a running query). Neither task is ever awaited: neither a
    /// wait for a connection that a silent network partition keeps from answering, nor a statement on a connection
    /// that closing does not fail, may hold the caller (and the ledger's gate behind it) past the deadline. A lease
    /// that arrives after the deadline is given straight back without running `body`.
    func withConnection<T: Sendable>(
        _ operation: String,
        timeout: Duration,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws(StoreError) -> T {
        let client = self.client
        let logger = self.logger
        let leaseTimeout = min(timeout, operationTimeout)
        let watchdog = OperationWatchdog()
        let events = AsyncStream<OperationEvent<T>>.makeStream()
        let work = Task {
            do {
                try await client.withConnection { connection in
                    guard watchdog.attach(connection) else { return }
                    let result: Result<T, any Error>
                    do {
                        result = .success(try await body(connection, logger))
                    } catch {
                        result = .failure(error)
                    }
                    // Before the connection goes back to the pool, so the deadline can never close it there.
                    let expired = watchdog.detach()
                    events.continuation.yield(.finished(result, expired: expired))
                }
            } catch {
                events.continuation.yield(.failed(error))
            }
        }
        // The deadline. A cancelled caller counts as a deadline passed (see the cancellation handler below).
        let deadline = Task {
            let start = ContinuousClock.now
            try? await Task.sleep(until: start + leaseTimeout, clock: .continuous)
            if !watchdog.isLeased {
                watchdog.expire()
                events.continuation.yield(.timedOut(OperationTimedOut(timeout: leaseTimeout, leasing: true)))
                return
            }
            try? await Task.sleep(until: start + timeout, clock: .continuous)
            watchdog.expire()
            events.continuation.yield(.timedOut(OperationTimedOut(timeout: timeout, leasing: false)))
        }
        defer {
            events.continuation.finish()
            deadline.cancel()
            // Still waiting for a connection: stop. A running `body` is left to end (its connection was closed).
            if !watchdog.isLeased { work.cancel() }
        }
        do {
            return try await withTaskCancellationHandler {
                for await event in events.stream {
                    switch event {
                    case .finished(let result, let expired):
                        // The deadline closed the connection under the statement: say so, not "connection closed".
                        switch result {
                        case .success(let value): return value
                        case .failure(let error):
                            if expired { throw OperationTimedOut(timeout: timeout, leasing: false) }
                            throw error
                        }
                    case .failed(let error):
                        throw error
                    case .timedOut(let timedOut):
                        throw timedOut
                    }
                }
                throw CancellationError()
            } onCancel: {
                // The caller gave up (a graceful shutdown): close the statement's connection, if any, and stop
                // waiting for anything.
                watchdog.expire()
                events.continuation.finish()
            }
        } catch {
            throw StoreError(failure: error, while: operation)
        }
    }

    /// Runs `body` in one transaction on a leased connection, within `timeout`.
    func transaction<T: Sendable>(
        _ operation: String,
        timeout: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws(StoreError) -> T {
        try await withConnection(operation, timeout: timeout ?? operationTimeout) { connection, logger in
            try await connection.withTransaction(logger: logger) { connection in
                try await body(connection, logger)
            }
        }
    }

    /// Runs one writing statement in a transaction of its own and drops its rows.
    ///
    /// Writes always run between `BEGIN` and `COMMIT`, never in autocommit: postgres-nio completes a statement when
    /// it reads the statement's CommandComplete, and in autocommit PostgreSQL commits only after that, at the
    /// protocol's Sync, so the call would return before the commit is durable and a failure at commit (a deferred
    /// constraint, the WAL flush) would never be seen. `COMMIT` completes once the commit is done.
    func execute(_ operation: String, timeout: Duration? = nil, _ query: PostgresQuery) async throws(StoreError) {
        try await transaction(operation, timeout: timeout) { connection, logger in
            try await connection.query(query, logger: logger)
            return ()
        }
    }

    /// Runs one statement and decodes its rows with `decode`: in autocommit for a read, in a transaction of its own
    /// when it `writes` (see ``execute(_:timeout:_:)``).
    func fetch<T: Sendable>(
        _ operation: String,
        timeout: Duration? = nil,
        writes: Bool = false,
        _ query: PostgresQuery,
        _ decode: @escaping @Sendable (PostgresRow) throws -> T
    ) async throws(StoreError) -> [T] {
        try await withConnection(operation, timeout: timeout ?? operationTimeout) { connection, logger in
            func run(_ connection: PostgresConnection) async throws -> [T] {
                var values: [T] = []
                for try await row in try await connection.query(query, logger: logger) {
                    values.append(try decode(row))
                }
                return values
            }
            guard writes else { return try await run(connection) }
            return try await connection.withTransaction(logger: logger) { connection in try await run(connection) }
        }
    }
}

/// What an operation's tasks report: the pool's failure, the deadline, or `body`'s end.
private enum OperationEvent<T: Sendable>: Sendable {
    case failed(any Error)
    case timedOut(OperationTimedOut)
    /// `expired`: the deadline passed while `body` ran (and closed its connection).
    case finished(Result<T, any Error>, expired: Bool)
}

/// The deadline of one operation: once expired, it closes the connection the operation uses.
private final class OperationWatchdog: Sendable {
    private let state = Mutex<(connection: PostgresConnection?, leased: Bool, expired: Bool)>((nil, false, false))

    /// Remembers the connection leased; false when the deadline already passed.
    func attach(_ connection: PostgresConnection) -> Bool {
        state.withLock { state in
            guard !state.expired else { return false }
            state.connection = connection
            state.leased = true
            return true
        }
    }

    /// Whether a connection was leased.
    var isLeased: Bool { state.withLock { $0.leased } }

    /// Forgets the connection, which the operation is done with; whether the deadline had passed meanwhile.
    @discardableResult
    func detach() -> Bool {
        state.withLock { state in
            state.connection = nil
            return state.expired
        }
    }

    /// Marks the deadline passed and closes the connection in use, if any.
    func expire() {
        let connection = state.withLock { state -> PostgresConnection? in
            state.expired = true
            return state.connection
        }
        guard let connection else { return }
        let closing: EventLoopFuture<Void> = connection.close()
        _ = closing
    }

}

/// An operation ran out of time.
struct OperationTimedOut: Error, Sendable {
    var timeout: Duration
    /// Whether it was still waiting for a connection (none could be opened).
    var leasing: Bool
}
