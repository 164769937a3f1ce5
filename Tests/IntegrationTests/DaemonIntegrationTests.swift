import Foundation
import PagerDutyEvents
import PublisherTestSupport
import Testing

/// The real daemon, started as a process on loopback, against the in-process fake PagerDuty.
@Suite("Daemon against a fake PagerDuty", .serialized, .timeLimit(.minutes(5)))
struct DaemonIntegrationTests {
    static let fastRetries = ["--retry-initial-delay", "50ms", "--retry-max-delay", "200ms"]

    func startDaemon(_ fake: FakePagerDuty, _ scratch: borrowing ScratchDirectory, extra: [String] = []) async throws -> DaemonProcess {
        try await DaemonProcess(
            arguments: ["--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database]
                + Self.fastRetries + extra
        )
    }

    /// (event_action, dedup_key) of each request, in arrival order.
    func actions(_ requests: [FakePagerDuty.ReceivedRequest]) -> [(String, String)] {
        requests.compactMap { request in
            guard case .object(let object)? = request.json,
                case .string(let action)? = object["event_action"],
                case .string(let key)? = object["dedup_key"]
            else { return nil }
            return (action, key)
        }
    }

    func assertOrderedPerKey(_ requests: [FakePagerDuty.ReceivedRequest]) {
        var lastActionByKey: [String: String] = [:]
        for (action, key) in actions(requests) {
            if action == "resolve" {
                #expect(lastActionByKey[key] == "trigger", "resolve of \(key) delivered before its trigger")
            }
            lastActionByKey[key] = action
        }
    }

    @Test func triggerThenResolvePerAlert() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch)
        let firing = Webhook.firing("DiskFull", ["db-1", "db-2"])

        let answer = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(firing))
        #expect(answer.status == 202)
        #expect(answer.json?["queued"] as? Int == 2)
        let triggers = try await fake.waitForAccepted(count: 2)
        #expect(Set(actions(triggers).map(\.1)) == Set(firing.map(\.fingerprint)))
        #expect(actions(triggers).allSatisfy { $0.0 == "trigger" })

        _ = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.resolved("DiskFull", ["db-1", "db-2"])))
        let all = try await fake.waitForAccepted(count: 4)
        #expect(actions(all).map(\.0) == ["trigger", "trigger", "resolve", "resolve"])
        let instanceByKey = Dictionary(uniqueKeysWithValues: firing.map { ($0.fingerprint, $0.instance) })
        for request in all {
            #expect(request.schemaViolations.isEmpty, "schema violations: \(request.schemaViolations)")
            guard case .object(let object)? = request.json else { continue }
            #expect(object["routing_key"] == .string(DaemonProcess.routingKey))
            if case .object(let payload)? = object["payload"], case .string(let key)? = object["dedup_key"] {
                let instance = try #require(instanceByKey[key])
                #expect(payload["summary"] == .string("DiskFull on \(instance)"))
                #expect(payload["source"] == .string(instance))
                #expect(payload["severity"] == .string("critical"))
            } else {
                Issue.record("event without payload")
            }
        }
        await fake.stop()
    }

    @Test func theSameGroupResentFiveTimesCostsOneTriggerPerAlert() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch)
        let group = Webhook.firing("HighLoad", ["web-1", "web-2", "web-3"])
        for _ in 0..<5 {
            let answer = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(group))
            #expect(answer.status == 202)
        }
        // A sentinel alert queued last: once it arrives, everything queued before it has been sent.
        _ = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("Sentinel", ["s"])))
        let delivered = try await fake.waitForAccepted(count: 4)
        #expect(actions(delivered).last?.1 == Webhook.firing("Sentinel", ["s"])[0].fingerprint)
        #expect(fake.requests.count == 4, "5 re-sends of 3 alerts cost 3 calls, plus the sentinel")
        await fake.stop()
    }

    @Test func anOutageThenRecoveryDeliversEverythingInOrder() async throws {
        let fake = try await FakePagerDuty.start()
        fake.setDefault(.status(503, body: #"{"status":"unavailable"}"#))
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch)
        let hosts = ["a", "b", "c"]
        #expect(try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("Outage", hosts))).status == 202)
        #expect(try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.resolved("Outage", hosts))).status == 202)
        _ = try await fake.waitForRequests(count: 6)
        #expect(fake.accepted.isEmpty)
        fake.setDefault(.accept)
        let delivered = try await fake.waitForAccepted(count: 6)
        #expect(actions(delivered).map(\.0) == ["trigger", "trigger", "trigger", "resolve", "resolve", "resolve"])
        assertOrderedPerKey(delivered)
        try await daemon.waitForLog("Delivery failed; will retry")
        await fake.stop()
    }

    @Test func killedMidOutageAndRestartedDeliversEverything() async throws {
        let fake = try await FakePagerDuty.start()
        fake.setDefault(.status(502, body: "bad gateway"))
        let scratch = try ScratchDirectory()
        let first = try await startDaemon(fake, scratch)
        let hosts = (1...5).map { "node-\($0)" }
        #expect(try await HTTP.post("\(first.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("Crash", hosts))).status == 202)
        #expect(try await HTTP.post("\(first.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.resolved("Crash", Array(hosts.prefix(2))))).status == 202)
        _ = try await fake.waitForRequests(count: 3)
        first.kill()

        fake.setDefault(.accept)
        let second = try await startDaemon(fake, scratch)
        let delivered = try await fake.waitForAccepted(count: 7)
        #expect(actions(delivered).filter { $0.0 == "trigger" }.count == 5)
        #expect(actions(delivered).filter { $0.0 == "resolve" }.count == 2)
        assertOrderedPerKey(delivered)
        // The restarted daemon remembers what it triggered: a re-sent group costs nothing.
        #expect(try await HTTP.post("\(second.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("Crash", Array(hosts.suffix(3))))).json?["queued"] as? Int == 0)
        await fake.stop()
    }

    @Test func aRefusedEventBecomesADeadLetter() async throws {
        let fake = try await FakePagerDuty.start()
        fake.enqueue([.status(400, body: #"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'summary' is incorrect"]}"#)])
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch)
        _ = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("Bad", ["x"])))
        _ = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("Good", ["y"])))
        _ = try await fake.waitForAccepted(count: 1)
        try await daemon.waitForLog("Event moved to dead letters")
        let deadLetter = try #require(daemon.records.first { $0["msg"] as? String == "Event moved to dead letters" })
        #expect((deadLetter["reason"] as? String)?.contains("summary") == true)
        #expect(deadLetter["level"] as? String == "error")
        let metrics = try await HTTP.get("\(daemon.baseURL)/metrics").body
        #expect(metrics.contains(#"pagerduty_api_errors_total{error_type="client_error"} 1"#))
        #expect(metrics.contains("pagerduty_publisher_dead_letters 1"))
        await fake.stop()
    }

    @Test func a429PausesAndRecovers() async throws {
        let fake = try await FakePagerDuty.start()
        fake.enqueue([.rateLimited(retryAfterSeconds: 1), .rateLimited(retryAfterSeconds: nil)])
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch)
        _ = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("Busy", ["a", "b"])))
        let delivered = try await fake.waitForAccepted(count: 2)
        #expect(actions(delivered).map(\.0) == ["trigger", "trigger"])
        let requests = fake.requests
        #expect(requests.map(\.status) == [429, 429, 202, 202])
        // The pause happened: nothing was sent for Retry-After (1 s) after the first 429, and the second 429
        // (no Retry-After) waited for the backoff (the second retry: 100 ms, which the jitter at most halves).
        if requests.count == 4 {
            let pause = requests[1].receivedAt.timeIntervalSince(requests[0].receivedAt)
            #expect(pause >= 1.0, "the retry came \(pause) s after a 429 with Retry-After: 1")
            let backoff = requests[2].receivedAt.timeIntervalSince(requests[1].receivedAt)
            #expect(backoff >= 0.05, "the retry came \(backoff) s after a 429 without Retry-After")
        }
        let metrics = try await HTTP.get("\(daemon.baseURL)/metrics").body
        #expect(metrics.contains(#"pagerduty_rate_limit_hits_total{routing_key="default"} 2"#))
        #expect(metrics.contains(#"pagerduty_api_requests_total{endpoint="enqueue",status="429"} 2"#))
        await fake.stop()
    }

    @Test func badInputGetsA4xxAndChangesNothing() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch, extra: ["--max-body-size", "4096", "--auth-token", DaemonProcess.authToken])
        let url = "\(daemon.baseURL)/v1/alertmanager"
        let auth = ["Authorization": "Bearer \(DaemonProcess.authToken)"]

        let malformed = try await HTTP.post(url, body: "{\"alerts\": [", headers: auth)
        #expect(malformed.status == 400)
        #expect(malformed.json?["error"] != nil)
        let wrongType = try await HTTP.post(url, body: #"{"version":"4","alerts":[{"status":"firing","labels":42}]}"#, headers: auth)
        #expect(wrongType.status == 400)
        #expect((wrongType.json?["field"] as? String)?.contains("labels") == true)
        #expect(try await HTTP.post(url, body: "", headers: auth).status == 400)
        let oversize = Webhook.body(Webhook.firing("Big", (1...40).map { "host-\($0)" }))
        #expect(try await HTTP.post(url, body: oversize, headers: auth).status == 413)
        #expect(try await HTTP.post(url, body: Webhook.body(Webhook.firing("T", ["t"])), contentType: "text/plain", headers: auth).status == 415)
        #expect(try await HTTP.post(url, body: Webhook.body(Webhook.firing("T", ["t"]))).status == 401)
        #expect(try await HTTP.post(url, body: Webhook.body(Webhook.firing("T", ["t"])), headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try await HTTP.post("\(url)/no-such-route", body: Webhook.body(Webhook.firing("T", ["t"])), headers: auth).status == 404)

        #expect(try await HTTP.get("\(daemon.baseURL)/healthz").status == 200)
        #expect(try await HTTP.get("\(daemon.baseURL)/readyz").status == 200)
        let good = try await HTTP.post(url, body: Webhook.body(Webhook.firing("Good", ["g"])), headers: auth)
        #expect(good.status == 202)
        let delivered = try await fake.waitForAccepted(count: 1)
        #expect(actions(delivered).map(\.1) == [Webhook.firing("Good", ["g"])[0].fingerprint], "nothing from the bad requests was queued")
        await fake.stop()
    }

    @Test func secretsAppearInNoLogLineAndNotInMetrics() async throws {
        let fake = try await FakePagerDuty.start()
        fake.enqueue([.status(400, body: #"{"status":"invalid event","message":"routing_key \#(DaemonProcess.routingKey) is invalid"}"#), .status(503, body: "down")])
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch, extra: ["--auth-token", DaemonProcess.authToken])
        let url = "\(daemon.baseURL)/v1/alertmanager"
        _ = try await HTTP.post(url, body: Webhook.body(Webhook.firing("S", ["1"])), headers: ["Authorization": "Bearer \(DaemonProcess.authToken)"])
        _ = try await HTTP.post(url, body: Webhook.body(Webhook.firing("S", ["2"])), headers: ["Authorization": "Bearer \(DaemonProcess.authToken)x"])
        _ = try await HTTP.post(url, body: Webhook.body(Webhook.firing("S", ["3"])), headers: ["Authorization": "Bearer \(DaemonProcess.authToken)"])
        _ = try await fake.waitForAccepted(count: 1)
        try await daemon.waitForLog("Event moved to dead letters")
        let metrics = try await HTTP.get("\(daemon.baseURL)/metrics").body
        #expect(try await daemon.terminate() == 0)
        let everything = daemon.lines.joined(separator: "\n") + daemon.errorOutput + metrics
        #expect(!everything.contains(DaemonProcess.routingKey))
        #expect(!everything.contains(DaemonProcess.authToken))
        #expect(daemon.lines.count > 5, "the run did log")
        await fake.stop()
    }

    @Test func metricsExposeTheEightMetrics() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch)
        let metrics = try await HTTP.get("\(daemon.baseURL)/metrics")
        #expect(metrics.status == 200)
        for (name, type) in [
            ("pagerduty_events_triggered_total", "counter"), ("pagerduty_events_acknowledged_total", "counter"),
            ("pagerduty_events_resolved_total", "counter"), ("pagerduty_change_events_total", "counter"),
            ("pagerduty_api_requests_total", "counter"), ("pagerduty_api_errors_total", "counter"),
            ("pagerduty_api_duration_seconds", "histogram"), ("pagerduty_rate_limit_hits_total", "counter"),
            ("pagerduty_publisher_queue_depth", "gauge"), ("pagerduty_publisher_oldest_pending_age_seconds", "gauge"),
        ] {
            #expect(metrics.body.contains("# TYPE \(name) \(type)"), "\(name) is missing")
        }
        await fake.stop()
    }

    @Test func gracefulShutdownOnSIGTERM() async throws {
        let fake = try await FakePagerDuty.start()
        fake.setDefault(.status(503, body: "down"))
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch)
        _ = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("Pending", ["p"])))
        _ = try await fake.waitForRequests(count: 1)
        #expect(try await daemon.terminate() == 0)
        try await daemon.waitForLog("pagerduty-publisher stopped")
        // The pending event survived the shutdown and goes out on the next start.
        fake.setDefault(.accept)
        let restarted = try await startDaemon(fake, scratch)
        do {
            _ = try await fake.waitForAccepted(count: 1)
        } catch {
            Issue.record("the restarted daemon's warnings: \(restarted.lines.filter { $0.contains("\"warning\"") || $0.contains("\"error\"") })")
            throw error
        }
        await fake.stop()
    }
}

@Suite("Command line", .timeLimit(.minutes(5)))
struct CommandLineTests {
    @Test func withoutARoutingKeyServeExitsWithOneClearSentence() async throws {
        let exit = try await DaemonProcess.runToExit(["serve", "--listen", "127.0.0.1:0"])
        #expect(exit.status != 0)
        #expect(exit.errorOutput.contains("No PagerDuty routing key"))
        #expect(exit.errorOutput.contains("--routing-key"))
        #expect(exit.errorOutput.contains("PAGERDUTY_ROUTING_KEY"))
        #expect(exit.errorOutput.split(separator: "\n").count == 1)
    }

    @Test func aMalformedRoutingKeyIsRefusedWithoutEchoingIt() async throws {
        let exit = try await DaemonProcess.runToExit(["serve", "--routing-key", "short-secret-value"])
        #expect(exit.status != 0)
        #expect(exit.errorOutput.contains("32-character"))
        #expect(!exit.errorOutput.contains("short-secret-value"))
    }

    @Test func theRoutingKeyCanComeFromTheEnvironmentOrAFile() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let keyFile = scratch.url.appendingPathComponent("routing-key")
        try (DaemonProcess.routingKey + "\n").write(to: keyFile, atomically: true, encoding: .utf8)
        let fromFile = try await DaemonProcess(arguments: ["--events-url", fake.baseURL, "--database", scratch.database],
                                                environment: ["PAGERDUTY_ROUTING_KEY_FILE": keyFile.path])
        _ = try await HTTP.post("\(fromFile.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("F", ["f"])))
        let delivered = try await fake.waitForAccepted(count: 1)
        guard case .object(let object)? = delivered.first?.json else {
            Issue.record("no event")
            return
        }
        #expect(object["routing_key"] == .string(DaemonProcess.routingKey))
        await fake.stop()
    }

    @Test func dryRunLogsEventsInsteadOfSending() async throws {
        let scratch = try ScratchDirectory()
        let daemon = try await DaemonProcess(arguments: ["--dry-run", "--database", scratch.database])
        let answer = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("Dry", ["d"])))
        #expect(answer.status == 202)
        try await daemon.waitForLog("Dry run: event not sent")
        let record = try #require(daemon.records.first { $0["msg"] as? String == "Dry run: event not sent" })
        #expect((record["event"] as? String)?.contains(#""event_action":"trigger""#) == true)
        try await daemon.waitForLog("Delivered event")
    }

    @Test func versionPrintsTheVersion() async throws {
        let exit = try await DaemonProcess.runToExit(["version"])
        #expect(exit.status == 0)
        #expect(exit.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }
}
