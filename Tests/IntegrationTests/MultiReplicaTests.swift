import Foundation
import PublisherCore
import PublisherTestSupport
import Testing

/// A PostgreSQL cluster of the test's own (started and stopped by `scripts/postgres` with its own directory and
/// port), so the test can stop it without disturbing the other PostgreSQL tests.
struct OwnPostgresCluster: ~Copyable {
    static var isAvailable: Bool { ProcessInfo.processInfo.environment["PAGERDUTY_PUBLISHER_TEST_POSTGRES_URL"] != nil }
    static let unavailableReason: Comment =
        "needs PostgreSQL's server programs: run scripts/test, or set PAGERDUTY_PUBLISHER_TEST_POSTGRES_URL (scripts/postgres start prints one)"

    let directory: String
    let port: Int
    let adminURL: String

    private static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/postgres").path
    }

    private init(port: Int, directory: String, adminURL: String) {
        self.port = port
        self.directory = directory
        self.adminURL = adminURL
    }

    /// A fresh cluster on `port`, started. Give a port below Linux's ephemeral range (32768–60999 by default): a
    /// port in it can be taken meanwhile by the local end of any test's outgoing connection, and the cluster then
    /// cannot bind it ("Address already in use", seen once in CI).
    static func start(port: Int) async throws -> OwnPostgresCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pd-publisher-replicas-\(port)").path
        _ = try? await run(["stop"], directory: directory, port: port)
        try? FileManager.default.removeItem(atPath: directory)
        let adminURL = try await run(["start"], directory: directory, port: port).trimmingCharacters(in: .whitespacesAndNewlines)
        return OwnPostgresCluster(port: port, directory: directory, adminURL: adminURL)
    }

    func start() async throws { _ = try await Self.run(["start"], directory: directory, port: port) }
    func stop() async throws { _ = try await Self.run(["stop"], directory: directory, port: port) }

    /// Runs SQL through psql as the cluster's admin, in `database` (the admin database by default); returns its
    /// unaligned output.
    func sql(_ statement: String, in database: String? = nil) async throws -> String {
        let url = database.map { "postgres://postgres@127.0.0.1:\(port)/\($0)" } ?? adminURL
        let result = try await Command.runDetached("/usr/bin/env", ["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", statement])
        guard result.status == 0 else { throw DaemonError(reason: "psql failed: \(statement): \(result.errors)") }
        return result.output
    }

    @discardableResult
    private static func run(_ arguments: [String], directory: String, port: Int) async throws -> String {
        let result = try await Command.runDetached(
            "/bin/bash", [script] + arguments,
            environment: ["PAGERDUTY_PUBLISHER_TEST_POSTGRES_DIR": directory, "PAGERDUTY_PUBLISHER_TEST_POSTGRES_PORT": "\(port)"])
        guard result.status == 0 else {
            throw DaemonError(reason: "scripts/postgres \(arguments.joined(separator: " ")) failed: \(result.errors)")
        }
        return result.output
    }

    deinit {
        let directory = directory
        let port = port
        _ = try? Command.run(
            "/bin/bash", [Self.script, "stop"],
            environment: ["PAGERDUTY_PUBLISHER_TEST_POSTGRES_DIR": directory, "PAGERDUTY_PUBLISHER_TEST_POSTGRES_PORT": "\(port)"])
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Runs a command to its end with its output in temporary files (no pipes: a server it starts in the
/// background may keep inherited descriptors open) and `waitpid` (no run loop).
enum Command {
    struct Result {
        var status: Int32
        var output: String
        var errors: String
    }

    /// ``run(_:_:environment:)`` on a thread of its own: waiting for a command (initdb takes seconds) must not
    /// hold one of the few threads every test shares.
    static func runDetached(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:]) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Swift.Result { try run(executable, arguments, environment: extra) })
            }
        }
    }

    static func run(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pd-publisher-command-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputPath = directory.appendingPathComponent("out").path
        let errorPath = directory.appendingPathComponent("err").path
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }.map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else { throw DaemonError(reason: "could not start \(executable): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Result(
            status: exitStatus,
            output: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
            errors: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
    }
}

/// Three replicas of the real daemon on one PostgreSQL database, against the strict fake PagerDuty (schema
/// checked, 120 requests a minute per key enforced with 429s), through `kill -9` of key owners and a 10-second
/// PostgreSQL outage.
@Suite("Several replicas on one PostgreSQL database", .serialized, .timeLimit(.minutes(8)),
       .enabled(if: OwnPostgresCluster.isAvailable, OwnPostgresCluster.unavailableReason))
struct MultiReplicaTests {
    static let teams = 10
    static let alertsPerTeam = 100
    static let rateLimit = 120

    /// The routing key of team `index`: 32 characters, distinct.
    static func key(_ index: Int) -> String {
        let base = "team\(index)key"
        return base + String(repeating: "x", count: 32 - base.count)
    }

    /// A configuration with the routes of teams `0..<teams`, written to `directory`; returns its path.
    static func configuration(in directory: URL, teams: Int = teams) throws -> String {
        let path = directory.appendingPathComponent("routes.yaml").path
        let routes = (0..<teams).map { index in
            """
              - name: team\(index)
                routing_key: \(key(index))
                match: ['team=t\(index)']
            """
        }
        try ("routes:\n" + routes.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The fingerprint of alert `number` of team `team`.
    static func fingerprint(team: Int, number: Int) -> String {
        String(format: "%04x%012x", team, number)
    }

    /// A webhook of team `team`'s alerts `numbers`, firing or resolved.
    static func webhook(team: Int, numbers: Range<Int>, firing: Bool) -> String {
        let alerts: [[String: Any]] = numbers.map { number in
            [
                "status": firing ? "firing" : "resolved",
                "labels": ["alertname": "Replicated", "team": "t\(team)", "instance": "host-\(number)", "severity": "critical"],
                "annotations": ["summary": "Replicated alert \(number) of team \(team)"],
                "startsAt": "2026-11-27T10:00:00.000Z",
                "endsAt": firing ? "0001-01-01T00:00:00Z" : "2026-11-27T11:00:00.000Z",
                "fingerprint": fingerprint(team: team, number: number),
            ]
        }
        let object: [String: Any] = [
            "version": "4", "groupKey": "{}:{team=\"t\(team)\"}", "status": firing ? "firing" : "resolved",
            "receiver": "pagerduty", "alerts": alerts,
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    /// Posts `body` to the replicas starting with `first`, going round them as Alertmanager's retries would, until
    /// one answers 202 (bounded).
    static func deliver(_ body: String, to replicas: [DaemonProcess?], startingAt first: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        var index = first
        while ContinuousClock.now < deadline {
            if let replica = replicas[index % replicas.count],
                let answer = try? await HTTP.post("\(replica.baseURL)/v1/alertmanager", body: body), answer.status == 202
            {
                return
            }
            index += 1
            try await Task.sleep(for: .milliseconds(100))
        }
        throw DaemonError(reason: "no replica accepted a webhook within 90 s")
    }

    @Test func threeReplicasKeepEveryTransitionThroughKilledOwnersAndADatabaseOutage() async throws {
        let cluster = try await OwnPostgresCluster.start(port: 25_433)
        let database = "publisher"
        _ = try await cluster.sql("CREATE DATABASE \(database)")
        let databaseURL = "postgres://postgres@127.0.0.1:\(cluster.port)/\(database)"
        let fake = try await FakePagerDuty.start(options: .init(rateLimitPerMinute: Self.rateLimit))
        // 100 ms per answer: each lane delivers about 10 a second, so the owners are mid-backlog when one is killed.
        fake.setFaults(.init(latencyMilliseconds: 100))
        let scratch = try ScratchDirectory()
        let config = try Self.configuration(in: scratch.url)
        func startReplica(_ number: Int) async throws -> DaemonProcess {
            try await DaemonProcess(arguments: [
                "--config", config, "--events-url", fake.baseURL, "--database", databaseURL,
                "--rate-limit", "\(Self.rateLimit)", "--replica-name", "replica-\(number)",
                "--retry-initial-delay", "100ms", "--retry-max-delay", "1s",
            ])
        }
        var replicas: [DaemonProcess?] = []
        for number in 0..<3 { replicas.append(try await startReplica(number)) }

        // Fire: every webhook goes to two replicas at once, as an Alertmanager HA pair sends it.
        let batch = 10
        try await withThrowingTaskGroup(of: Void.self) { group in
            for team in 0..<Self.teams {
                for start in stride(from: 0, to: Self.alertsPerTeam, by: batch) {
                    let body = Self.webhook(team: team, numbers: start..<(start + batch), firing: true)
                    let first = (team + start / batch) % 3
                    let current = replicas
                    group.addTask { try await Self.deliver(body, to: current, startingAt: first) }
                    group.addTask { try await Self.deliver(body, to: current, startingAt: first + 1) }
                }
                try await group.waitForAll()
            }
        }

        // kill -9 the replica that owns the most routing keys, during delivery.
        _ = try await fake.waitForAccepted(count: 300, timeout: .seconds(60))
        let owners = try await cluster.sql("SELECT owner, count(*) FROM work_leases WHERE work LIKE 'delivery:%' AND expires_at > now() GROUP BY owner ORDER BY 2 DESC LIMIT 1", in: database)
        let victimName = try #require(owners.split(separator: "|").first.map(String.init), "some replica owns keys")
        let victim = try #require(Int(victimName.replacingOccurrences(of: "replica-", with: "")))
        let ownedByVictim = Set(
            try await cluster.sql("SELECT work FROM work_leases WHERE owner = '\(victimName)' AND work LIKE 'delivery:%'", in: database)
                .split(separator: "\n").map { String($0.dropFirst("delivery:".count)) })
        let victimKeys = (0..<Self.teams).map(Self.key).filter { ownedByVictim.contains(DeliveryLaneName.forRoutingKey($0)) }
        replicas[victim]?.kill()
        replicas[victim] = nil
        let killedAt = Date()

        // Failover: the first delivery on a key the victim owned, after the kill (its lanes still had a backlog).
        let deadline = ContinuousClock.now + .seconds(30)
        var firstAfterKill: Date?
        while firstAfterKill == nil, ContinuousClock.now < deadline {
            firstAfterKill = fake.accepted.filter { victimKeys.contains($0.routingKey ?? "") && $0.receivedAt > killedAt.addingTimeInterval(0.5) }
                .map(\.receivedAt).min()
            try await Task.sleep(for: .milliseconds(50))
        }
        let failover = try #require(firstAfterKill, "another replica delivers the killed owner's keys").timeIntervalSince(killedAt)
        print("MultiReplicaTests: failover after kill -9 of the owner of \(victimKeys.count) keys: \(String(format: "%.2f", failover)) s to the next delivery")
        #expect(failover <= 6, "another replica delivers the killed owner's keys within 5 s (plus a request)")

        // Resolve, round-robin on the replicas still up, and stop PostgreSQL for 10 s halfway.
        for team in 0..<Self.teams {
            if team == Self.teams / 2 {
                try await cluster.stop()
                let survivor = try #require(replicas.compactMap { $0 }.first)
                let readiness = try await HTTP.get("\(survivor.baseURL)/readyz")
                #expect(readiness.status == 503, "readiness fails while PostgreSQL is down")
                let refused = try await HTTP.post(
                    "\(survivor.baseURL)/v1/alertmanager", body: Self.webhook(team: team, numbers: 0..<1, firing: false))
                #expect(refused.status == 503, "a webhook gets 503 while PostgreSQL is down")
                try await Task.sleep(for: .seconds(10))
                try await cluster.start()
            }
            for start in stride(from: 0, to: Self.alertsPerTeam, by: batch) {
                let body = Self.webhook(team: team, numbers: start..<(start + batch), firing: false)
                try await Self.deliver(body, to: replicas, startingAt: team + start / batch + 1)
            }
        }
        // The killed replica comes back, as Kubernetes would restart it.
        replicas[victim] = try await startReplica(victim)

        let transitions = Self.teams * Self.alertsPerTeam * 2
        _ = try await fake.waitForAccepted(count: transitions, timeout: .seconds(240))
        // Let late duplicates show up, if there were any.
        try await Task.sleep(for: .seconds(2))

        let requests = fake.requests
        let accepted = requests.filter { $0.status == 202 }
        #expect(requests.allSatisfy { $0.schemaViolations.isEmpty })
        #expect(requests.filter { $0.status == 429 }.isEmpty, "no key ever went over \(Self.rateLimit) in 60 s")

        // Every transition once, in order, per dedup_key.
        var actions: [String: [String]] = [:]
        for request in accepted {
            if let dedupKey = request.dedupKey, let action = request.eventAction { actions[dedupKey, default: []].append(action) }
        }
        var lost: [String] = []
        var outOfOrder: [String] = []
        var duplicates = 0
        for team in 0..<Self.teams {
            for number in 0..<Self.alertsPerTeam {
                let sequence = actions[Self.fingerprint(team: team, number: number)] ?? []
                if !sequence.contains("trigger") || !sequence.contains("resolve") { lost.append("\(team)/\(number): \(sequence)") }
                if let firstResolve = sequence.firstIndex(of: "resolve"), sequence[firstResolve...].contains("trigger") {
                    outOfOrder.append("\(team)/\(number): \(sequence)")
                }
                duplicates += max(0, sequence.count - 2)
            }
        }
        #expect(lost.isEmpty, "lost: \(lost.prefix(10))")
        #expect(outOfOrder.isEmpty, "out of order: \(outOfOrder.prefix(10))")
        // At most one request per lane was in flight when the owner was killed, and one per lane when PostgreSQL
        // stopped (PagerDuty took it; its delivery could not be recorded).
        #expect(duplicates <= ownedByVictim.count + Self.teams, "duplicates only for requests in flight at the kill or the outage: \(duplicates)")

        // Never more than the limit in any 60 s, per key, at PagerDuty's clock.
        for team in 0..<Self.teams {
            let times = accepted.filter { $0.routingKey == Self.key(team) }.map(\.receivedAt).sorted()
            for index in times.indices.dropFirst(Self.rateLimit) {
                #expect(times[index].timeIntervalSince(times[index - Self.rateLimit]) >= 60, "team \(team) went over the limit")
            }
        }

        for replica in replicas.compactMap({ $0 }) {
            do {
                #expect(try await replica.terminate() == 0)
            } catch {
                Issue.record("\(error); its last log lines:\n\(replica.lines.suffix(40).joined(separator: "\n"))")
            }
        }
        await fake.stop()
    }
}
