import Foundation
import PublisherTestSupport
import Testing

/// Routes from a configuration file: selection by labels and by path, reload with key rotation, bad reloads,
/// removed routes, and `check-config`.
@Suite("Configuration and routes", .serialized, .timeLimit(.minutes(5)))
struct ConfigurationTests {
    static let databaseKey = "DbKeyDbKeyDbKeyDbKeyDbKeyDbKey01"
    static let rotatedKey = "DbKeyRotatedDbKeyRotatedDbKey002"
    static let webKey = "WebKeyWebKeyWebKeyWebKeyWebKey03"

    /// Writes the database key file and a configuration with the routes `database` (team=dba, key file) and
    /// `web` (team=web, key inline).
    func writeConfiguration(_ scratch: borrowing ScratchDirectory, databaseKey: String = Self.databaseKey, withWeb: Bool = true) throws -> (config: String, keyFile: String) {
        let keyFile = scratch.url.appendingPathComponent("database.key").path
        try (databaseKey + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        var yaml = """
            routes:
              - name: database
                routing_key_file: \(keyFile)
                match: ['team = dba']
                severity_map: { p0: critical }

            """
        if withWeb {
            yaml += """
                  - name: web
                    routing_key: \(Self.webKey)
                    match: ['team=web']
                    acknowledged: silence
                    manual_resolve: retrigger-after:15m
                    reopen: resolve-then-trigger

                """
        }
        let config = scratch.url.appendingPathComponent("config.yaml").path
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        return (config, keyFile)
    }

    func webhook(_ teams: [String], firing: Bool = true) -> String {
        let alerts = teams.map { team -> [String: Any] in
            ["status": firing ? "firing" : "resolved", "labels": ["alertname": "Routed", "team": team, "severity": "p0"],
             "annotations": ["summary": "for \(team)"], "startsAt": "2026-11-23T10:00:00Z"]
        }
        let data = try! JSONSerialization.data(withJSONObject: ["version": "4", "alerts": alerts])
        return String(decoding: data, as: UTF8.self)
    }

    /// Starts the daemon with `arguments` against `fake` while PagerDuty is down (503), retrying fast.
    func startDuringOutage(_ fake: FakePagerDuty, _ scratch: borrowing ScratchDirectory, _ arguments: [String], checkInterval: String) async throws -> DaemonProcess {
        fake.setDefault(.status(503, body: "down"))
        return try await DaemonProcess(arguments: arguments + [
            "--events-url", fake.baseURL, "--database", scratch.database,
            "--retry-initial-delay", "50ms", "--retry-max-delay", "200ms", "--config-check-interval", checkInterval,
        ])
    }

    /// After a reload: once a request carries `key` (one already in flight keeps the old key), PagerDuty
    /// recovers, and the queued event must be delivered with `key`, which no log line shows.
    func expectDelivery(with key: String, after daemon: DaemonProcess, _ fake: FakePagerDuty) async throws {
        try await daemon.waitForLog("Configuration reloaded")
        try await waitUntil("a request with the rotated key") { fake.requests.contains { $0.routingKey == key } }
        fake.setDefault(.accept)
        #expect(try await fake.waitForAccepted(count: 1).first?.routingKey == key)
        #expect(!daemon.lines.joined().contains(key))
    }

    @Test func alertsGoToTheRouteTheirLabelsMatchOrToThePathsRoute() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let (config, _) = try writeConfiguration(scratch)
        let daemon = try await DaemonProcess(arguments: [
            "--config", config, "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
        ])
        let answer = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: webhook(["dba", "web", "other"]))
        #expect(answer.status == 202)
        let delivered = try await fake.waitForAccepted(count: 3)
        var keyBySummary: [String: String] = [:]
        for request in delivered {
            guard case .object(let object)? = request.json, case .object(let payload)? = object["payload"],
                case .string(let summary)? = payload["summary"] else { continue }
            keyBySummary[summary] = request.routingKey
            #expect(payload["severity"] == .string(summary == "for dba" ? "critical" : "error"), "the database route maps p0")
        }
        #expect(keyBySummary == ["for dba": Self.databaseKey, "for web": Self.webKey, "for other": DaemonProcess.routingKey])

        _ = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager/web", body: webhook(["dba"], firing: false))
        let all = try await fake.waitForAccepted(count: 4)
        #expect(all.last?.routingKey == Self.webKey, "the path's route wins over the labels")
        #expect(try await HTTP.post("\(daemon.baseURL)/v1/alertmanager/nope", body: webhook(["dba"])).status == 404)
        let databaseTriggered = #"pagerduty_events_triggered_total{routing_key="database",severity="critical"} 1"#
        let metrics = try await daemon.metrics(showing: [databaseTriggered])
        #expect(metrics.contains(databaseTriggered))
        #expect(![Self.databaseKey, Self.webKey, DaemonProcess.routingKey].contains { metrics.contains($0) || daemon.lines.joined().contains($0) })
        await fake.stop()
    }

    @Test func aRoutesOverridesShapeItsEvents() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let config = scratch.url.appendingPathComponent("overrides.yaml").path
        try """
            routes:
              - name: shaped
                routing_key: \(Self.webKey)
                match: ['team = web']
                summary_template: "{{ labels.alertname }} for {{ labels.team }} ({{ status }})"
                fields: { source: [host] }
                details: { exclude: [internal] }
                links: [logs_url]
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try await DaemonProcess(arguments: [
            "--config", config, "--events-url", fake.baseURL, "--database", scratch.database,
        ])
        let alert: [String: Any] = [
            "status": "firing", "labels": ["alertname": "Slow", "team": "web", "host": "web-9", "internal": "x"],
            "annotations": ["logs_url": "https://logs.example/web-9", "runbook_url": "https://runbooks.example/slow"],
        ]
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["version": "4", "alerts": [alert]]), as: UTF8.self)
        #expect(try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: body).status == 202)
        let event = try #require(try await fake.waitForAccepted(count: 1).first)
        #expect(event.schemaViolations.isEmpty)
        guard case .object(let object)? = event.json, case .object(let payload)? = object["payload"],
            case .object(let details)? = payload["custom_details"], case .object(let labels)? = details["labels"]
        else {
            Issue.record("unexpected event shape")
            return
        }
        #expect(payload["summary"] == .string("Slow for web (firing)"))
        #expect(payload["source"] == .string("web-9"))
        #expect(labels["internal"] == nil && labels["host"] == .string("web-9"))
        #expect(object["links"] == .array([.object(["href": .string("https://logs.example/web-9"), "text": .string("logs_url")])]))
        await fake.stop()
    }

    @Test func aRotatedKeyAppliesToQueuedEventsAndABadReloadKeepsTheRoutes() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let (config, keyFile) = try writeConfiguration(scratch)
        let daemon = try await startDuringOutage(fake, scratch, ["--config", config], checkInterval: "1h")
        #expect(try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: webhook(["dba"])).status == 202)
        _ = try await fake.waitForRequests(count: 2)

        // A broken configuration is refused whole, and says why.
        let broken = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "team = dba", with: "team = ")
            + "  - name: web\n    routing_key: short\n"
        try broken.write(toFile: config, atomically: true, encoding: .utf8)
        daemon.hangUp()
        try await daemon.waitForLog("Configuration reload failed; keeping the routes in force")
        let failure = try #require(daemon.records.first { $0["msg"] as? String == "Configuration reload failed; keeping the routes in force" })
        #expect((failure["problems"] as? String)?.contains("32 letters or digits") == true)
        #expect(!(failure["problems"] as? String ?? "").contains("short"), "a key is never echoed")

        // Rotate the key: the queued trigger goes out with the new one.
        _ = try writeConfiguration(scratch, databaseKey: Self.rotatedKey)
        #expect(FileManager.default.fileExists(atPath: keyFile))
        daemon.hangUp()
        try await expectDelivery(with: Self.rotatedKey, after: daemon, fake)
        await fake.stop()
    }

    @Test func aKeyFileChangeIsNoticedWithoutASignal() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let (config, _) = try writeConfiguration(scratch)
        let daemon = try await startDuringOutage(fake, scratch, ["--config", config], checkInterval: "100ms")
        _ = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: webhook(["dba"]))
        _ = try await fake.waitForRequests(count: 1)
        _ = try writeConfiguration(scratch, databaseKey: Self.rotatedKey)
        try await expectDelivery(with: Self.rotatedKey, after: daemon, fake)
        await fake.stop()
    }

    @Test func theDefaultRoutesKeyFileIsWatchedToo() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let keyFile = scratch.url.appendingPathComponent("routing-key").path
        try DaemonProcess.routingKey.write(toFile: keyFile, atomically: true, encoding: .utf8)
        let daemon = try await startDuringOutage(fake, scratch, ["--routing-key-file", keyFile], checkInterval: "100ms")
        _ = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: webhook(["any"]))
        _ = try await fake.waitForRequests(count: 1)
        try Self.rotatedKey.write(toFile: keyFile, atomically: true, encoding: .utf8)
        try await expectDelivery(with: Self.rotatedKey, after: daemon, fake)
        await fake.stop()
    }

    @Test func removingARouteDeadLettersItsQueuedEvents() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let (config, _) = try writeConfiguration(scratch)
        let daemon = try await startDuringOutage(fake, scratch, ["--config", config], checkInterval: "1h")
        _ = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: webhook(["web"]))
        _ = try await fake.waitForRequests(count: 1)
        _ = try writeConfiguration(scratch, withWeb: false)
        daemon.hangUp()
        try await daemon.waitForLog("Event moved to dead letters")
        let record = try #require(daemon.records.first { $0["msg"] as? String == "Event moved to dead letters" })
        #expect(record["reason"] as? String == #"route "web" is no longer configured"#)
        await fake.stop()
    }

    @Test func checkConfigListsEveryProblem() async throws {
        let scratch = try ScratchDirectory()
        let config = scratch.url.appendingPathComponent("bad.yaml").path
        try """
            route: []
            routes:
              - name: database
                routing_key: tooShortSecretValue
                match: ['team', 'env =~ (unclosed']
                severity_map: { p0: catastrophic }
              - name: database
                routing_key_file: /nonexistent/key
              - name: "bad name"
                routing_key: \(Self.webKey)
                colour: blue
              - name: templated
                routing_key: \(Self.webKey)
                summary_template: "{{ labels.alertname"
                fields: { colour: [x] }
                details: { include: nope }
                silenced: snooze
                incident_per: team
                acknowledged: always
                manual_resolve: retrigger-after:soon
                reopen: maybe
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let exit = try await DaemonProcess.runToExit(["check-config", "--config", config])
        #expect(exit.status != 0)
        for expected in [
            "unknown setting 'route'", "32 letters or digits", "match[0]", "match[1]", "severity_map.p0",
            "/nonexistent/key cannot be read", "'name' must be letters", "unknown setting 'colour'",
            "summary_template: a '{{' has no closing", "fields.colour is unknown", "details.include and details.exclude",
            "silenced must be one of acknowledge, resolve, nothing", "incident_per must be one of alert, group",
            "acknowledged must be one of silence, nothing", "manual_resolve must be retrigger-after:DURATION, silence:DURATION or nothing",
            "reopen must be one of resolve-then-trigger, nothing",
        ] {
            #expect(exit.errorOutput.contains(expected), "missing: \(expected)\n\(exit.errorOutput)")
        }
        #expect(!exit.errorOutput.contains("tooShortSecretValue"))

        let (good, _) = try writeConfiguration(scratch)
        let ok = try await DaemonProcess.runToExit(["check-config", "--config", good])
        #expect(ok.status == 0, "\(ok.errorOutput)")
        #expect(ok.output.contains("OK, 2 routes"))
        #expect(
            ok.output.contains("silenced: acknowledge, inhibited: nothing, incident per alert, acknowledged: nothing, manual_resolve: nothing, reopen: nothing"),
            "the defaults")
        #expect(
            ok.output.contains("acknowledged: silence, manual_resolve: retrigger-after:15m, reopen: resolve-then-trigger"),
            "a route's own feedback policies: \(ok.output)")
    }
}

@Suite("check-config: database settings", .timeLimit(.minutes(5)))
struct CheckConfigDatabaseTests {
    static let password = "s3cretDatabasePassword"

    @Test func aSoundPostgresURLIsDescribedWithoutItsPasswordAndWithoutConnecting() async throws {
        // Port 9 on loopback: nothing listens there, and check-config must not try.
        let ok = try await DaemonProcess.runToExit(["check-config", "--database", "postgres://publisher:\(Self.password)@127.0.0.1:9/alerts"])
        #expect(ok.status == 0, "\(ok.errorOutput)")
        #expect(ok.output.contains("database postgres://publisher:***@127.0.0.1:9/alerts: OK, PostgreSQL (sslmode=disable)"), "\(ok.output)")
        #expect(!(ok.output + ok.errorOutput).contains(Self.password))
    }

    @Test(arguments: [
        ("postgres://publisher:\(CheckConfigDatabaseTests.password)@db.example.com/alerts", "gives no sslmode for the host db.example.com"),
        ("postgres://publisher:\(CheckConfigDatabaseTests.password)@127.0.0.1/alerts?sslmode=prefer", "sslmode=prefer is not supported"),
        ("postgres://127.0.0.1/alerts", "names no user"),
        ("postgres://publisher@127.0.0.1/alerts?pool=9", "unsupported query parameters: pool"),
        ("mysql://publisher@127.0.0.1/alerts", "is a URL of a store that is not supported"),
    ])
    func aBadDatabaseIsAProblemNamingWhatIsWrong(url: String, expected: String) async throws {
        let exit = try await DaemonProcess.runToExit(["check-config", "--database", url])
        #expect(exit.status != 0)
        #expect(exit.errorOutput.contains("1 problem:"), "\(exit.errorOutput)")
        #expect(exit.errorOutput.contains(expected), "\(exit.errorOutput)")
        #expect(!(exit.output + exit.errorOutput).contains(Self.password))
    }

    @Test func theDatabaseFromTheEnvironmentWithAMissingPasswordFileIsAProblem() async throws {
        let exit = try await DaemonProcess.runToExit(
            ["check-config"],
            environment: [
                "PAGERDUTY_PUBLISHER_DATABASE": "postgres://publisher@127.0.0.1/alerts",
                "PAGERDUTY_PUBLISHER_DATABASE_PASSWORD_FILE": "/nonexistent/db-password",
            ])
        #expect(exit.status != 0)
        #expect(exit.errorOutput.contains("/nonexistent/db-password"), "\(exit.errorOutput)")
    }

    @Test func sqliteFilesAreCheckedAndProblemsOfTheRoutesAndTheDatabaseAreListedTogether() async throws {
        let scratch = try ScratchDirectory()
        let good = try await DaemonProcess.runToExit(["check-config", "--database", scratch.url.appendingPathComponent("new/publisher.sqlite").path])
        #expect(good.status == 0, "\(good.errorOutput)")
        #expect(good.output.contains("OK, SQLite"))

        let config = scratch.url.appendingPathComponent("routes.yaml").path
        try "routes:\n  - name: only\n    routing_key: short\n".write(toFile: config, atomically: true, encoding: .utf8)
        let both = try await DaemonProcess.runToExit([
            "check-config", "--config", config, "--database", scratch.url.path + "/",
        ])
        #expect(both.status != 0)
        #expect(both.errorOutput.contains("2 problems:"), "\(both.errorOutput)")
        #expect(both.errorOutput.contains("32 letters or digits"))
        #expect(both.errorOutput.contains("is a directory"))

        let sqliteWithPasswordFile = try await DaemonProcess.runToExit([
            "check-config", "--database", scratch.url.appendingPathComponent("p.sqlite").path, "--database-password-file", config,
        ])
        #expect(sqliteWithPasswordFile.status != 0)
        #expect(sqliteWithPasswordFile.errorOutput.contains("are for a postgres:// database"))
    }

    @Test func nothingToCheckIsAUsageError() async throws {
        let exit = try await DaemonProcess.runToExit(["check-config"])
        #expect(exit.status != 0)
        #expect(exit.errorOutput.contains("Name what to check"))
    }
}

@Suite("Example configurations", .timeLimit(.minutes(5)))
struct ExampleConfigurationTests {
    /// The repository's examples/ folder.
    static var examples: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples")
    }

    @Test(arguments: ["config-single-team.yaml", "config-teams-by-label.yaml"])
    func examplesHaveNoProblemButTheirMissingKeyFiles(name: String) async throws {
        let exit = try await DaemonProcess.runToExit(["check-config", "--config", Self.examples.appendingPathComponent(name).path])
        let problems = exit.errorOutput.split(separator: "\n").filter { $0.hasPrefix("  - ") }
        #expect(!problems.isEmpty, "the example key files do not exist here")
        #expect(problems.allSatisfy { $0.contains("cannot be read") }, "\(problems)")
    }
}

@Suite("Basic auth on the real daemon", .timeLimit(.minutes(5)))
struct DaemonBasicAuthTests {
    @Test func alertmanagersBasicAuthIsAcceptedAndThePasswordNeverLogged() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let passwordFile = scratch.url.appendingPathComponent("password").path
        let password = "Basic-Auth-Passw0rd-Of-The-Receiver"
        try (password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let daemon = try await DaemonProcess(
            arguments: ["--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
                        "--basic-auth-password-file", passwordFile],
            environment: ["PAGERDUTY_PUBLISHER_BASIC_AUTH_USERNAME": "alertmanager"]
        )
        func basic(_ secret: String) -> [String: String] {
            ["Authorization": "Basic " + Data("alertmanager:\(secret)".utf8).base64EncodedString()]
        }
        let url = "\(daemon.baseURL)/v1/alertmanager"
        #expect(try await HTTP.post(url, body: Webhook.body(Webhook.firing("B", ["b"])), headers: basic("wrong")).status == 401)
        #expect(try await HTTP.post(url, body: Webhook.body(Webhook.firing("B", ["b"]))).status == 401)
        #expect(try await HTTP.post(url, body: Webhook.body(Webhook.firing("B", ["b"])), headers: basic(password)).status == 202)
        _ = try await fake.waitForAccepted(count: 1)
        #expect(try await daemon.terminate() == 0)
        #expect(!(daemon.lines.joined() + daemon.errorOutput).contains(password))
        await fake.stop()
    }

    @Test func aUserNameWithoutAPasswordIsRefusedAtStart() async throws {
        let exit = try await DaemonProcess.runToExit(["serve", "--dry-run", "--basic-auth-username", "alertmanager"])
        #expect(exit.status != 0)
        #expect(exit.errorOutput.contains("Basic auth needs both a user name"))
    }
}
