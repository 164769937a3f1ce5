import Foundation
import Logging
import Metrics
import PostgresNIO
import PublisherCore
import PublisherTestSupport
import ServiceLifecycle
import Synchronization
import Testing

@testable import PublisherPostgres

// MARK: - Suites

@Suite("Lease configuration")
struct LeaseConfigurationTests {
    @Test func defaultsAreFourSecondsRenewedEverySecond() {
        let configuration = LeaseConfiguration()
        #expect(configuration.ttl == .seconds(4))
        #expect(configuration.renewInterval == .seconds(1))
    }

    @Test func renewalMustBeShorterThanHalfTheLease() throws {
        #expect(throws: LeaseConfigurationError.self) { try LeaseConfiguration(ttl: .seconds(2), renewInterval: .seconds(1)) }
        #expect(throws: LeaseConfigurationError.self) { try LeaseConfiguration(ttl: .seconds(2), renewInterval: .zero) }
        let valid = try LeaseConfiguration(ttl: .seconds(2), renewInterval: .milliseconds(900))
        #expect(valid.ttl == .seconds(2))
    }

    @Test func postgresIsConfiguredInCI() {
        if LeaseTestEnvironment.isCI {
            #expect(
                LeaseTestEnvironment.adminURL != nil,
                "CI=true but PAGERDUTY_PUBLISHER_TEST_POSTGRES_URL is unset: the lease tests would be skipped"
            )
        }
    }
}

@Suite(
    "PostgreSQL leases",
    .enabled(if: LeaseTestEnvironment.adminURL != nil, LeaseTestEnvironment.skipReason),
    .serialized,  // timing-sensitive: one test at a time, so they do not slow each other's renewals down
    .timeLimit(.minutes(3))
)
struct LeaseTests {
    /// Shorter than the defaults to keep the tests quick, with room for a loaded machine: a renewal may be up to
    /// 2.5 s late before the lease is lost.
    static let short = try! LeaseConfiguration(ttl: .seconds(3), renewInterval: .milliseconds(500))

    /// For tests where no lease may expire, however slow the machine: nothing renews them there.
    static let long = try! LeaseConfiguration(ttl: .seconds(60), renewInterval: .seconds(10))

    @Test func exactlyOneReplicaOwnsEachWork() async throws {
        try await LeaseTestDatabase.with { database in
            try await database.withClients(2) { clients in
                let a = PostgresLeases(client: clients[0], replica: "replica-a", configuration: Self.long, logger: .quietLeaseTests)
                let b = PostgresLeases(client: clients[1], replica: "replica-b", configuration: Self.long, logger: .quietLeaseTests)
                async let preparedA: Void = a.prepare()
                async let preparedB: Void = b.prepare()
                _ = try await (preparedA, preparedB)
                try await a.prepare()  // idempotent

                let works: [OwnedWork] = (0..<8).map { .delivery(lane: "lane-\($0)") } + [.alertmanagerSync]
                for work in works {
                    async let claimedA = a.claim(work)
                    async let claimedB = b.claim(work)
                    let (byA, byB) = await (claimedA, claimedB)
                    #expect(!(byA && byB), "never two owners of \(work)")
                    // PostgreSQL names one owner. (On a loaded machine a claim whose statement outlived the lease's
                    // local validity answers no, the safe answer, although its row was written: then both said no
                    // here, and the owner's next claim confirms it.)
                    let owner = try await database.owner(of: work)
                    #expect(owner == "replica-a" || owner == "replica-b", "\(work): \(owner)")
                    if byA || byB { #expect(owner == (byA ? "replica-a" : "replica-b")) }
                    #expect(await a.claim(work) == (owner == "replica-a"))
                    #expect(await b.claim(work) == (owner == "replica-b"))
                }
            }
        }
    }

    @Test func anotherReplicaTakesOverWhenTheOwnerDies() async throws {
        try await LeaseTestDatabase.with { database in
            try await database.withClients(2) { clients in
                let metrics = RecordingMetrics()
                let a = PostgresLeases(client: clients[0], replica: "replica-a", configuration: Self.short, logger: .quietLeaseTests)
                let b = PostgresLeases(
                    client: clients[1], replica: "replica-b", configuration: Self.short, logger: .quietLeaseTests,
                    metricsFactory: metrics
                )
                try await a.prepare()
                let work = OwnedWork.delivery(lane: "lane-1")
                let runningA = Task { try await a.run() }
                let runningB = Task { try await b.run() }
                defer { runningB.cancel() }
                #expect(await a.claim(work))

                // While A renews, B cannot take the work, well past one lease time.
                let renewing = ContinuousClock.now
                while ContinuousClock.now - renewing < Self.short.ttl * 1.5 {
                    #expect(await b.claim(work) == false)
                    #expect(await a.claim(work))
                    try await Task.sleep(for: .milliseconds(100))
                }

                // A dies: its renewals stop, nothing is released.
                runningA.cancel()
                _ = await runningA.result
                let died = ContinuousClock.now
                let tookOver = try await poll(within: Self.short.ttl + Self.short.renewInterval + .seconds(2)) {
                    await b.claim(work)
                }
                let failover = tookOver - died
                #expect(
                    failover <= Self.short.ttl + Self.short.renewInterval,
                    "B took over after \(failover), more than ttl + renew interval"
                )
                #expect(try await database.owner(of: work) == "replica-b")
                #expect(metrics.events.contains("pagerduty_publisher_work_owned{work=delivery:lane-1,replica=replica-b} 1"))
                #expect(
                    metrics.events.contains(
                        "pagerduty_publisher_ownership_changes_total{work=delivery:lane-1,change=acquired} +1"
                    )
                )
            }
        }
    }

    @Test func gracefulShutdownReleasesAtOnceWithoutSecrets() async throws {
        let routingKey = "R0UT1NGKEYSECRET0123456789abcdef"
        let password = "pw-s3cret-for-leases"
        try await LeaseTestDatabase.with { database in
            try await database.withClients(2, password: password) { clients in
                let logs = RecordingLog()
                let metrics = RecordingMetrics()
                let a = PostgresLeases(
                    client: clients[0], replica: "replica-a", configuration: Self.short, logger: logs.logger,
                    metricsFactory: metrics
                )
                let b = PostgresLeases(client: clients[1], replica: "replica-b", configuration: Self.short, logger: .quietLeaseTests)
                try await a.prepare()
                let work = OwnedWork.delivery(lane: DeliveryLaneName.forRoutingKey(routingKey))
                let group = ServiceGroup(services: [a], logger: .quietLeaseTests)
                let runningA = Task { try await group.run() }
                #expect(await a.claim(work))
                #expect(await b.claim(work) == false)

                await group.triggerGracefulShutdown()
                try await runningA.value

                // Released: B takes it on its first try, and A claims nothing any more.
                #expect(await b.claim(work))
                #expect(await a.claim(work) == false)

                let lines = logs.lines
                #expect(lines.contains { $0.hasPrefix("info Took ownership") && $0.contains("replica=replica-a") })
                #expect(lines.contains { $0.hasPrefix("info Released ownership") && $0.contains(work.description) })
                #expect(
                    metrics.events.contains("pagerduty_publisher_work_owned{work=\(work.description),replica=replica-a} 0")
                )
                #expect(
                    metrics.events.contains(
                        "pagerduty_publisher_ownership_changes_total{work=\(work.description),change=released} +1"
                    )
                )
                for text in lines + metrics.events {
                    #expect(!text.contains(routingKey))
                    #expect(!text.contains(password))
                }
            }
        }
    }

    @Test func anOwnerCutOffFromPostgresStopsBeforeAnotherTakesOver() async throws {
        // A role of its own for A, dropped once its grants went with the database.
        let role = "pgha_cut_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        try LeaseTestDatabase.admin("CREATE ROLE \(role) LOGIN")
        defer { try? LeaseTestDatabase.admin("DROP ROLE IF EXISTS \(role)") }
        try await LeaseTestDatabase.with { database in
            try await database.withClients(1) { clients in
                let b = PostgresLeases(client: clients[0], replica: "replica-b", configuration: Self.short, logger: .quietLeaseTests)
                try await b.prepare()
                try database.run("GRANT ALL ON work_leases TO \(role)")
                try await database.withClients(1, user: role) { cut in
                    let logs = RecordingLog()
                    let a = PostgresLeases(client: cut[0], replica: "replica-a", configuration: Self.short, logger: logs.logger)
                    let runningA = Task { try await a.run() }
                    defer { runningA.cancel() }
                    let work = OwnedWork.alertmanagerSync
                    #expect(await a.claim(work))
                    #expect(await b.claim(work) == false)

                    // The partition: A can no longer reach PostgreSQL (its sessions are ended and it may not log
                    // in again); B still can.
                    try database.admin("ALTER ROLE \(role) NOLOGIN")
                    try database.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '\(role)'")
                    let cut = ContinuousClock.now

                    let lastTrueOfA = Mutex<ContinuousClock.Instant?>(nil)
                    let firstFalseOfA = Mutex<ContinuousClock.Instant?>(nil)
                    let bTookOver = Mutex(false)
                    async let watchA: Void = {
                        // Until B owns the work, and once more after that.
                        var last = false
                        while !last, ContinuousClock.now - cut < Self.short.ttl * 3 {
                            last = bTookOver.withLock { $0 }
                            // When the question was asked: a true answer means A owned the work then.
                            let asked = ContinuousClock.now
                            let owns = await a.claim(work)
                            let now = ContinuousClock.now
                            if owns {
                                lastTrueOfA.withLock { $0 = asked }
                                #expect(firstFalseOfA.withLock { $0 } == nil, "A owned the work again while cut off")
                            } else if firstFalseOfA.withLock({ $0 }) == nil {
                                firstFalseOfA.withLock { $0 = now }
                            }
                            try? await Task.sleep(for: .milliseconds(20))
                        }
                    }()
                    var firstTrueOfB: ContinuousClock.Instant?
                    while firstTrueOfB == nil, ContinuousClock.now - cut < Self.short.ttl * 3 {
                        let asked = ContinuousClock.now
                        if await b.claim(work) { firstTrueOfB = asked }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    bTookOver.withLock { $0 = true }
                    await watchA

                    let takeover = try #require(firstTrueOfB, "B never took over after the partition")
                    let stopped = try #require(lastTrueOfA.withLock { $0 })
                    #expect(stopped < takeover, "A still claimed the work after B had started to take it over")
                    #expect(firstFalseOfA.withLock { $0 } != nil)
                    #expect(takeover - cut <= Self.short.ttl + Self.short.renewInterval)
                    #expect(logs.lines.contains { $0.hasPrefix("info Lost ownership") && $0.contains("replica=replica-a") })
                    // Many failed claims, one warning: no log storm.
                    #expect(logs.lines.filter { $0.hasPrefix("warning") }.count == 1)
                }
            }
        }
    }

    @Test func aRequestIsRecordedOnlyWhileItsReplicaHoldsTheLanesLease() async throws {
        try await LeaseTestDatabase.with { database in
            try await database.withClients(1) { clients in
                let leases = PostgresLeases(client: clients[0], replica: "replica-a", configuration: Self.short, logger: .quietLeaseTests)
                let fenced = PostgresStore(client: clients[0], logger: .quietLeaseTests, fencingReplica: "replica-a")
                let unfenced = PostgresStore(client: clients[0], logger: .quietLeaseTests)
                try await fenced.migrate()
                try await leases.prepare()
                let lane = "lane-1"
                let work = OwnedWork.delivery(lane: lane)
                func recorded() async throws -> Int { try await fenced.requestTimes(lane: lane, since: .distantPast).count }

                await #expect(throws: WorkNoLongerOwned.self, "nobody holds the lane yet") {
                    try await fenced.recordRequest(lane: lane, finishedAt: Date())
                }
                #expect(await leases.claim(work))
                try await fenced.recordRequest(lane: lane, finishedAt: Date())
                #expect(try await recorded() == 1)

                // Another replica took the lane while this one still trusts its lease.
                try database.run("UPDATE work_leases SET owner = 'replica-b' WHERE work = '\(work.description)'")
                #expect(await leases.claim(work), "the owner has not noticed yet")
                await #expect(throws: WorkNoLongerOwned.self, "the store has") {
                    try await fenced.recordRequest(lane: lane, finishedAt: Date())
                }
                #expect(try await recorded() == 1, "nothing was recorded")

                // Held, but with less than the fencing margin left: another replica may take it before the request
                // reaches PagerDuty.
                try database.run(
                    "UPDATE work_leases SET owner = 'replica-a', expires_at = now() + interval '300 milliseconds' WHERE work = '\(work.description)'")
                await #expect(throws: WorkNoLongerOwned.self) {
                    try await fenced.recordRequest(lane: lane, finishedAt: Date())
                }

                // Relinquished, the lease is asked for again in PostgreSQL, where replica-b holds it.
                try database.run(
                    "UPDATE work_leases SET owner = 'replica-b', expires_at = now() + interval '1 minute' WHERE work = '\(work.description)'")
                await leases.relinquish(work)
                #expect(await leases.claim(work) == false)

                // A store without a replica (a command) records without fencing.
                try await unfenced.recordRequest(lane: lane, finishedAt: Date())
                #expect(try await recorded() == 2)
            }
        }
    }

    @Test func claimIsFalseWhenPostgresIsUnreachable() async throws {
        let password = "pw-unreachable-secret"
        var configuration = PostgresClient.Configuration(
            host: "127.0.0.1", port: try await closedLoopbackPort(), username: "postgres", password: password,
            database: "nowhere", tls: .disable
        )
        configuration.options.connectTimeout = .seconds(1)
        let client = PostgresClient(configuration: configuration)
        let running = Task { await client.run() }
        defer { running.cancel() }
        let logs = RecordingLog()
        let leases = PostgresLeases(client: client, replica: "replica-a", configuration: Self.short, logger: logs.logger)
        for _ in 0..<2 {
            #expect(await leases.claim(.alertmanagerSync) == false)
        }
        let warnings = logs.lines.filter { $0.hasPrefix("warning") }
        #expect(warnings.count == 1, "one warning per outage, got \(warnings)")
        for line in logs.lines { #expect(!line.contains(password)) }
    }
}

// MARK: - Helpers

/// Whether the lease tests can reach PostgreSQL.
enum LeaseTestEnvironment {
    static let adminURL = ProcessInfo.processInfo.environment["PAGERDUTY_PUBLISHER_TEST_POSTGRES_URL"]
        .flatMap { $0.isEmpty ? nil : $0 }
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let skipReason: Comment =
        "PAGERDUTY_PUBLISHER_TEST_POSTGRES_URL is unset; run `scripts/postgres start` and export the URL it prints"
}

/// A database of its own for one test, created and dropped with `psql` through the admin URL.
/// (Private to the lease tests until the shared PostgresTestDatabase is available.)
struct LeaseTestDatabase: Sendable {
    let name: String
    let host: String
    let port: Int
    let adminUser: String
    let adminURL: String

    static func with(_ body: (LeaseTestDatabase) async throws -> Void) async throws {
        let adminURL = try #require(LeaseTestEnvironment.adminURL)
        let components = try #require(URLComponents(string: adminURL))
        let name = "pgha_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let database = LeaseTestDatabase(
            name: String(name), host: components.host ?? "127.0.0.1", port: components.port ?? 5432,
            adminUser: components.user ?? "postgres", adminURL: adminURL
        )
        try database.admin("CREATE DATABASE \(database.name)")
        do {
            try await body(database)
        } catch {
            try? database.admin("DROP DATABASE IF EXISTS \(database.name) WITH (FORCE)")
            throw error
        }
        try database.admin("DROP DATABASE IF EXISTS \(database.name) WITH (FORCE)")
    }

    /// Runs `sql` in the admin database.
    func admin(_ sql: String) throws {
        try Self.psql(url: adminURL, sql)
    }

    /// Runs `sql` in the admin database, outside any test database.
    static func admin(_ sql: String) throws {
        try psql(url: try #require(LeaseTestEnvironment.adminURL), sql)
    }

    /// Runs `sql` in this test's database.
    @discardableResult
    func run(_ sql: String) throws -> String {
        var components = URLComponents(string: adminURL)!
        components.path = "/" + name
        return try Self.psql(url: components.string!, sql)
    }

    func owner(of work: OwnedWork) async throws -> String {
        try run("SELECT owner FROM work_leases WHERE work = '\(work.description)'")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `body` with `count` running clients on this database.
    func withClients(
        _ count: Int, user: String? = nil, password: String? = nil,
        _ body: ([PostgresClient]) async throws -> Void
    ) async throws {
        let clients = (0..<count).map { _ in
            PostgresClient(
                configuration: .init(
                    host: host, port: port, username: user ?? adminUser, password: password, database: name,
                    tls: .disable
                )
            )
        }
        let running = clients.map { client in Task { await client.run() } }
        defer { for task in running { task.cancel() } }
        try await body(clients)
    }

    @discardableResult
    private static func psql(url: String, _ sql: String) throws -> String {
        let exit = try ChildProcess.runBlocking("psql", [url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql])
        let text = exit.output
        guard exit.status == 0 else {
            throw PsqlFailed(sql: sql, output: exit.errorOutput)
        }
        return text
    }
}

private struct PsqlFailed: Error, CustomStringConvertible {
    let sql: String
    let output: String

    var description: String { "psql failed on \(sql): \(output)" }
}

/// Asks `condition` every 20 ms until it holds, returning when it first did; fails after `limit`.
private func poll(
    within limit: Duration,
    _ condition: () async throws -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws -> ContinuousClock.Instant {
    let start = ContinuousClock.now
    while ContinuousClock.now - start < limit {
        if try await condition() { return ContinuousClock.now }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("not true within \(limit)", sourceLocation: sourceLocation)
    throw CancellationError()
}

extension Logger {
    static let quietLeaseTests = Logger(label: "lease-tests") { _ in SwiftLogNoOpLogHandler() }
}

/// Log lines as "level message key=value…", sorted metadata.
private final class RecordingLog: Sendable {
    private let recorded = Mutex<[String]>([])

    var lines: [String] { recorded.withLock { $0 } }

    var logger: Logger {
        Logger(label: "lease-tests") { _ in Handler(sink: self) }
    }

    fileprivate func append(_ line: String) {
        recorded.withLock { $0.append(line) }
    }

    struct Handler: LogHandler {
        let sink: RecordingLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
            let fields = all.keys.sorted().map { "\($0)=\(all[$0]!)" }.joined(separator: " ")
            sink.append("\(event.level) \(event.message) \(fields)")
        }
    }
}

/// Every metric update as text: "label{dim=value,…} value" for gauges, "… +n" for counters.
private final class RecordingMetrics: MetricsFactory, Sendable {
    private let recorded = Mutex<[String]>([])

    var events: [String] { recorded.withLock { $0 } }

    fileprivate func append(_ event: String) {
        recorded.withLock { $0.append(event) }
    }

    private static func name(_ label: String, _ dimensions: [(String, String)]) -> String {
        label + "{" + dimensions.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    final class Handler: CounterHandler, RecorderHandler, TimerHandler, Sendable {
        let name: String
        let metrics: RecordingMetrics

        init(name: String, metrics: RecordingMetrics) {
            self.name = name
            self.metrics = metrics
        }

        func increment(by amount: Int64) { metrics.append("\(name) +\(amount)") }
        func reset() {}
        func record(_ value: Int64) { metrics.append("\(name) \(value)") }
        func record(_ value: Double) { metrics.append("\(name) \(Int64(value))") }
        func recordNanoseconds(_ duration: Int64) { metrics.append("\(name) \(duration)ns") }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        Handler(name: Self.name(label, dimensions), metrics: self)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        Handler(name: Self.name(label, dimensions), metrics: self)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        Handler(name: Self.name(label, dimensions), metrics: self)
    }

    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}
