import Logging
import Metrics
import PostgresNIO
import PublisherCore
import ServiceLifecycle
import Synchronization

/// How long a lease lasts and how often its holder renews it.
public struct LeaseConfiguration: Sendable {
    /// How long a lease lasts after its holder's last renewal, counted by PostgreSQL's clock. A replica that dies
    /// without releasing its leases is replaced after at most this long (plus one renewal interval).
    public let ttl: Duration
    /// How often the holder renews its leases. Its local deadline is `ttl − renewInterval` after it last sent a
    /// successful renewal, so it stops working at least one renewal interval before anyone else may take over.
    public let renewInterval: Duration

    /// The defaults: a 4 s lease renewed every second.
    public init() {
        self.ttl = .seconds(4)
        self.renewInterval = .seconds(1)
    }

    /// A lease of `ttl` renewed every `renewInterval`; `renewInterval` must be positive and shorter than half of
    /// `ttl`, so that one lost renewal never loses the lease.
    public init(ttl: Duration, renewInterval: Duration) throws(LeaseConfigurationError) {
        guard renewInterval > .zero else {
            throw LeaseConfigurationError(reason: "The lease renewal interval must be positive.")
        }
        guard renewInterval * 2 < ttl else {
            throw LeaseConfigurationError(
                reason: "The lease renewal interval (\(renewInterval)) must be shorter than half the lease time (\(ttl))."
            )
        }
        self.ttl = ttl
        self.renewInterval = renewInterval
    }

    /// How long after sending an acquire or renew statement the holder may still trust its lease.
    var localValidity: Duration { ttl - renewInterval }

    /// `ttl` in seconds, for `make_interval(secs => …)`.
    var ttlSeconds: Double {
        let parts = ttl.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

/// A lease configuration that cannot work.
public struct LeaseConfigurationError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, as a sentence.
    public let reason: String

    public var description: String { reason }
}

/// Work ownership shared through PostgreSQL: one row per piece of ``OwnedWork`` in `work_leases`, holding the
/// owning replica and an expiry on PostgreSQL's clock.
///
/// A replica takes a piece of work when its lease is free or expired, renews every lease it holds every
/// `renewInterval` while it runs, and deletes them on a graceful shutdown, so another replica takes over at once.
/// A replica that dies is replaced once its leases expire (at most `ttl` plus one renewal interval). A replica cut
/// off from PostgreSQL stops at its local deadline — `ttl − renewInterval` after it sent its last successful
/// renewal, on its own monotonic clock — which is always before PostgreSQL lets another replica take the lease.
public final class PostgresLeases: WorkOwnership, Service {
    /// The advisory lock that serialises creating `work_leases` between replicas starting at once.
    static let schemaLock: Int64 = 0x7064_6c65_6173_6573  // "pdleases"

    private struct Held {
        var work: OwnedWork
        /// When the acquire or renew statement that last succeeded for this lease was sent.
        var sentAt: ContinuousClock.Instant
        /// Until when this replica may trust the lease without hearing from PostgreSQL again.
        var deadline: ContinuousClock.Instant
    }

    private struct State {
        var held: [String: Held] = [:]
        /// Whether the last statement failed; a failure is logged once per outage.
        var databaseFailing = false
        /// Set when `run()` ended: this replica claims nothing any more.
        var stopped = false
    }

    private let client: PostgresClient
    private let replica: String
    private let configuration: LeaseConfiguration
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let clock = ContinuousClock()
    private let state = Mutex(State())

    /// Leases for `replica` (a name unique among the replicas sharing the database, such as the pod name) in the
    /// database of `client`, which the caller runs. Call ``prepare()`` once before the first claim.
    public init(
        client: PostgresClient,
        replica: String,
        configuration: LeaseConfiguration = LeaseConfiguration(),
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.client = client
        self.replica = replica
        self.configuration = configuration
        self.logger = logger
        self.metricsFactory = metricsFactory
    }

    /// Creates `work_leases` when it does not exist yet, under an advisory lock so that replicas starting at once
    /// do not race. Idempotent.
    public func prepare() async throws {
        let lock = Self.schemaLock
        do {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(lock))", logger: logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS work_leases (
                        work text PRIMARY KEY,
                        owner text NOT NULL,
                        expires_at timestamptz NOT NULL,
                        acquired_at timestamptz NOT NULL
                    )
                    """,
                    logger: logger
                )
            }
        } catch {
            throw StoreError(reason: "Could not create the lease table work_leases in PostgreSQL: \(error).")
        }
    }

    /// Whether this replica owns `work`: at once when it holds the lease and its local deadline has not passed;
    /// otherwise it tries to take the lease in one statement on PostgreSQL's clock. `false` when another replica
    /// holds it, when PostgreSQL cannot be reached, or after ``run()`` ended.
    public func claim(_ work: OwnedWork) async -> Bool {
        let name = work.description
        let now = clock.now
        let (valid, stopped) = state.withLock { state in
            (state.held[name].map { now < $0.deadline } ?? false, state.stopped)
        }
        if stopped { return false }
        if valid { return true }
        dropExpired(at: now)
        return await acquire(work)
    }

    /// Forgets the lease of `work`: the store found that another replica holds it (a fenced write was refused), so
    /// it is not trusted until the next ``claim(_:)`` takes it again in PostgreSQL.
    public func relinquish(_ work: OwnedWork) async {
        let name = work.description
        let dropped = state.withLock { state in state.held.removeValue(forKey: name) != nil }
        if dropped { record(.lost, work: name) }
    }

    /// Renews the held leases every `renewInterval` until a graceful shutdown, then releases them. Cancelled without
    /// a graceful shutdown (the process is dying), it releases nothing: the leases expire on their own.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: self.configuration.renewInterval)
                } catch {
                    break
                }
                await self.renew()
            }
        }
        state.withLock { $0.stopped = true }
        if Task.isShuttingDownGracefully && !Task.isCancelled {
            await release()
        }
    }

    // MARK: - Statements

    private func acquire(_ work: OwnedWork) async -> Bool {
        let name = work.description
        let sentAt = clock.now
        let query: PostgresQuery = """
            INSERT INTO work_leases AS lease (work, owner, expires_at, acquired_at)
            VALUES (\(name), \(replica), now() + make_interval(secs => \(configuration.ttlSeconds)), now())
            ON CONFLICT (work) DO UPDATE SET
                owner = EXCLUDED.owner,
                expires_at = EXCLUDED.expires_at,
                acquired_at = CASE WHEN lease.owner = EXCLUDED.owner THEN lease.acquired_at ELSE EXCLUDED.acquired_at END
            WHERE lease.expires_at < now() OR lease.owner = EXCLUDED.owner
            RETURNING owner
            """
        let owners: [String]
        do {
            owners = try await strings(query)
        } catch {
            failed(error, while: "taking a lease")
            return false
        }
        succeeded()
        guard owners.contains(replica) else { return false }
        let deadline = sentAt + configuration.localValidity
        let taken = state.withLock { state -> Bool in
            if state.stopped { return false }
            if var held = state.held[name] {
                if held.sentAt < sentAt {
                    held.sentAt = sentAt
                    held.deadline = deadline
                    state.held[name] = held
                }
                return false
            }
            state.held[name] = Held(work: work, sentAt: sentAt, deadline: deadline)
            return true
        }
        if taken { record(.acquired, work: name) }
        return clock.now < deadline
    }

    private func renew() async {
        let names = state.withLock { Array($0.held.keys) }
        guard !names.isEmpty else { return }
        let sentAt = clock.now
        let query: PostgresQuery = """
            UPDATE work_leases SET expires_at = now() + make_interval(secs => \(configuration.ttlSeconds))
            WHERE owner = \(replica) AND work = ANY(\(names))
            RETURNING work
            """
        let renewed: Set<String>
        do {
            renewed = Set(try await strings(query))
        } catch {
            failed(error, while: "renewing leases")
            dropExpired(at: clock.now)
            return
        }
        succeeded()
        let deadline = sentAt + configuration.localValidity
        let lost = state.withLock { state -> [String] in
            var lost: [String] = []
            for name in names {
                guard var held = state.held[name], held.sentAt <= sentAt else { continue }
                if renewed.contains(name) {
                    held.sentAt = sentAt
                    held.deadline = deadline
                    state.held[name] = held
                } else {
                    state.held[name] = nil
                    lost.append(name)
                }
            }
            return lost
        }
        for name in lost { record(.lost, work: name) }
        dropExpired(at: clock.now)
    }

    private func release() async {
        let names = state.withLock { state -> [String] in
            let names = Array(state.held.keys)
            state.held.removeAll()
            return names
        }
        do {
            _ = try await strings("DELETE FROM work_leases WHERE owner = \(replica) RETURNING work")
        } catch {
            failed(error, while: "releasing leases")
            for name in names { record(.lost, work: name) }
            return
        }
        for name in names { record(.released, work: name) }
    }

    /// Forgets the leases whose local deadline has passed: this replica may no longer trust them.
    private func dropExpired(at now: ContinuousClock.Instant) {
        let expired = state.withLock { state -> [String] in
            let expired = state.held.filter { $0.value.deadline <= now }.map(\.key)
            for name in expired { state.held[name] = nil }
            return expired
        }
        for name in expired { record(.lost, work: name) }
    }

    /// Runs `query` and returns its single text column, giving up after the lease's local validity: an answer
    /// later than that could not be trusted anyway. (In autocommit, postgres-nio hands back a statement's rows
    /// before PostgreSQL commits it; a lease whose commit then failed is believed held for at most the local
    /// validity, and the next renewal finds it missing. That belief never sends anything: a delivery first records
    /// its start through ``PostgresStore``'s fenced write, which commits only while the lease really is held.)
    private func strings(_ query: PostgresQuery) async throws -> [String] {
        let client = self.client
        let logger = self.logger
        return try await withTimeLimit(configuration.localValidity) {
            var values: [String] = []
            for try await value in try await client.query(query, logger: logger).decode(String.self) {
                values.append(value)
            }
            return values
        }
    }

    // MARK: - Logs and metrics

    private enum Change: String {
        case acquired, lost, released
    }

    private func record(_ change: Change, work: String) {
        let metadata: Logger.Metadata = ["work": "\(work)", "replica": "\(replica)"]
        switch change {
        case .acquired: logger.info("Took ownership", metadata: metadata)
        case .lost: logger.info("Lost ownership", metadata: metadata)
        case .released: logger.info("Released ownership", metadata: metadata)
        }
        Gauge(
            label: PostgresLeaseMetrics.owned,
            dimensions: [("work", work), ("replica", replica)],
            factory: metricsFactory
        ).record(change == .acquired ? 1 : 0)
        Counter(
            label: PostgresLeaseMetrics.changes,
            dimensions: [("work", work), ("change", change.rawValue)],
            factory: metricsFactory
        ).increment()
    }

    private func failed(_ error: any Error, while action: String) {
        let first = state.withLock { state -> Bool in
            defer { state.databaseFailing = true }
            return !state.databaseFailing
        }
        if first {
            logger.warning(
                "PostgreSQL failed while \(action); this replica claims no work until it answers again",
                metadata: ["replica": "\(replica)", "error": "\(error)"]
            )
        }
    }

    private func succeeded() {
        let recovered = state.withLock { state -> Bool in
            defer { state.databaseFailing = false }
            return state.databaseFailing
        }
        if recovered {
            logger.info("PostgreSQL answers lease statements again", metadata: ["replica": "\(replica)"])
        }
    }
}

/// The names of the lease metrics.
public enum PostgresLeaseMetrics {
    /// Gauge, 1 while `replica` owns `work`, 0 after it lost or released it.
    public static let owned = "pagerduty_publisher_work_owned"
    /// Counter of ownership changes by `work` and `change` (acquired, lost, released).
    public static let changes = "pagerduty_publisher_ownership_changes_total"
}

/// A statement that did not answer in time.
struct TimeLimitExceeded: Error, CustomStringConvertible {
    let limit: Duration

    var description: String { "PostgreSQL did not answer within \(limit)." }
}

/// Runs `operation`, throwing ``TimeLimitExceeded`` when it has not finished after `limit`. The operation runs in
/// a task of its own that is cancelled (not awaited) at the limit, so a statement stuck on a dead connection never
/// holds up the caller.
func withTimeLimit<T: Sendable>(
    _ limit: Duration,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = FirstResult<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.start(continuation)
            let work = Task {
                do {
                    race.finish(.success(try await operation()))
                } catch {
                    race.finish(.failure(error))
                }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                race.finish(.failure(TimeLimitExceeded(limit: limit)))
            }
            race.track([work, timer])
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The first of several results resumes the continuation; the tasks still running are then cancelled.
private final class FirstResult<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var tasks: [Task<Void, Never>] = []
        var finished = false
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLock { state -> Result<T, any Error>? in
            if let result = state.result { return result }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func track(_ tasks: [Task<Void, Never>]) {
        let cancelNow = state.withLock { state -> Bool in
            state.tasks = tasks
            return state.finished
        }
        if cancelNow { for task in tasks { task.cancel() } }
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<T, any Error>?, [Task<Void, Never>]) in
            guard !state.finished else { return (nil, []) }
            state.finished = true
            guard let continuation = state.continuation else {
                state.result = result  // the continuation is not installed yet: `start` resumes it
                return (nil, state.tasks)
            }
            state.continuation = nil
            return (continuation, state.tasks)
        }
        continuation?.resume(with: result)
        for task in tasks { task.cancel() }
    }
}
