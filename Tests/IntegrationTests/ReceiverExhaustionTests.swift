import Foundation
import PublisherTestSupport
import Synchronization
import Testing

/// Issue 12, section 4, against the real daemon: slow clients and large bodies must not exhaust the receiver.
@Suite("The receiver under half-sent requests and large bodies", .serialized, .timeLimit(.minutes(5)))
struct ReceiverExhaustionTests {
    /// The memory limit of deploy/kubernetes/base/deployment.yaml (256Mi), in kB as /proc reports it.
    static let deploymentMemoryLimitKB = 256 * 1024
    static let readTimeoutSeconds = 5
    static let smallWebhook = #"{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"Probe","instance":"a"}}]}"#

    static func head(contentLength: Int) -> String {
        "POST /v1/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(contentLength)\r\n\r\n"
    }

    /// 10 MB that are not JSON: read whole (within the body limit), then refused with 400 at the first byte.
    static let largeBody = [UInt8](repeating: UInt8(ascii: "x"), count: 10_000_000)

    /// Sends the small webhook on a new connection; its answer's status.
    static func probe(port: Int) async throws -> Int? {
        try await RawHTTPConnection.inThread {
            let connection = try RawHTTPConnection(port: port)
            try connection.send(head(contentLength: smallWebhook.utf8.count) + smallWebhook)
            return connection.readResponse(timeout: .seconds(10))?.status
        }
    }

    /// A value of `/proc/PID/status` in kB (`VmRSS`, `VmHWM`).
    static func memoryKB(_ field: String, pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }

    @Test("200 half-sent requests and 20 concurrent 10 MB bodies: the half-sent are dropped after the read timeout, webhooks are answered within 100 ms (or as fast as before the attack), and RSS stays under the Deployment's limit")
    func survivesSlowClientsAndLargeBodies() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        // Enough places in flight for the 20 half-sent bodies, the 20 large bodies and the probe: the probe's answer
        // measures latency, not the cap (ConnectionLimitTests has its own test); and 20 large bodies buffered at once
        // is more memory than the default cap of 16 allows.
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
            "--read-timeout", "\(Self.readTimeoutSeconds)s", "--max-webhooks-in-flight", "64", "--log-level", "info",
        ])
        defer { daemon.kill() }
        let port = daemon.port
        let pid = daemon.processIdentifier

        // The same probe before the attack: how fast this machine answers right now (other tests and builds share it).
        var baseline: [Duration] = []
        for _ in 0..<20 {
            let started = ContinuousClock.now
            let status = try await Self.probe(port: port)
            baseline.append(ContinuousClock.now - started)
            #expect(status == 202)
        }
        baseline.sort()

        // 200 connections that each send half a request and go silent: 180 stop inside the head, 20 inside the body.
        var halfSent: [RawHTTPConnection] = []
        for index in 0..<200 {
            let connection = try RawHTTPConnection(port: port)
            if index % 10 == 0 {
                try connection.send(Self.head(contentLength: Self.smallWebhook.utf8.count) + Self.smallWebhook.prefix(20))
            } else {
                try connection.send("POST /v1/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
            }
            halfSent.append(connection)
        }
        let halfSentAt = ContinuousClock.now

        // 20 concurrent 10 MB bodies, each on its own thread.
        let largeDone = Mutex(false)
        let largeAnswers = Task {
            defer { largeDone.withLock { $0 = true } }
            return try await withThrowingTaskGroup(of: Int?.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await RawHTTPConnection.inThread {
                            let connection = try RawHTTPConnection(port: port)
                            // A send cut short (the daemon closed the connection) shows as a missing answer.
                            try? connection.send(Array(Self.head(contentLength: Self.largeBody.count).utf8) + Self.largeBody)
                            return connection.readResponse(timeout: .seconds(60))?.status
                        }
                    }
                }
                var statuses: [Int?] = []
                for try await status in group { statuses.append(status) }
                return statuses
            }
        }

        // Meanwhile, normal webhooks one after another on new connections, until the half-sent requests are gone
        // and the large bodies answered (at most 60 s).
        var latencies: [Duration] = []
        var probeStatuses: [Int?] = []
        var probesDuringLargeBodies = 0
        var peakRSSKB = 0
        var closedAt: ContinuousClock.Instant?
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let started = ContinuousClock.now
            let status = try await Self.probe(port: port)
            latencies.append(ContinuousClock.now - started)
            if !largeDone.withLock({ $0 }) { probesDuringLargeBodies += 1 }
            probeStatuses.append(status)
            peakRSSKB = max(peakRSSKB, Self.memoryKB("VmRSS", pid: pid) ?? 0)
            if closedAt == nil, halfSent.allSatisfy(\.isClosedByPeer) { closedAt = ContinuousClock.now }
            if closedAt != nil, largeDone.withLock({ $0 }) { break }
            try await Task.sleep(for: .milliseconds(20))  // pacing of the probes, not a wait for an outcome
        }

        let dropped = try #require(closedAt, "the half-sent requests were still held after 60 s")
        #expect(dropped - halfSentAt >= .seconds(Self.readTimeoutSeconds) - .milliseconds(100),
                "dropped before the read timeout")
        #expect(dropped - halfSentAt < .seconds(Self.readTimeoutSeconds + 10))
        let large = try await largeAnswers.value
        #expect(latencies.count >= 20)
        #expect(probesDuringLargeBodies >= 1, "no webhook was sent while the large bodies were being received")
        #expect(large.count == 20)
        #expect(large.allSatisfy { $0 == 400 }, "large bodies answered \(large)")
        #expect(probeStatuses.allSatisfy { $0 == 202 }, "probe answers \(probeStatuses)")
        let sorted = latencies.sorted()
        let median = sorted[sorted.count / 2]
        let p95 = sorted[sorted.count * 95 / 100]
        let slowest = sorted.last ?? .zero
        let baselineP95 = baseline[baseline.count * 95 / 100]
        print("probes \(sorted.count) (\(probesDuringLargeBodies) during the large bodies): median \(median), p95 \(p95), "
            + "slowest \(slowest); before the attack: median \(baseline[baseline.count / 2]), p95 \(baselineP95), "
            + "slowest \(baseline.last ?? .zero); peak RSS \(peakRSSKB) kB, VmHWM \(Self.memoryKB("VmHWM", pid: pid) ?? 0) kB; "
            + "half-sent dropped after \(dropped - halfSentAt)")
        // Within 100 ms: the median and the 95th percentile, or, when this shared machine is so loaded that even the
        // probes before the attack were slow (the whole test run in parallel), within 3 times their 95th percentile.
        // The slowest is bounded at 1 s (or 5 times the slowest before): alone on the 2-core machine, a debug daemon
        // parsing 200 MB in the storm's first half second answered single probes in up to 0.3 s; a stalled receiver
        // takes seconds.
        let bound = max(.milliseconds(100), baselineP95 * 3)
        #expect(median < bound, "median webhook answer \(median)")
        #expect(p95 < bound, "95th percentile webhook answer \(p95) of \(sorted.count)")
        #expect(slowest < max(.seconds(1), (baseline.last ?? .zero) * 5), "slowest webhook answer \(slowest) of \(sorted.count)")
        let highWaterKB = Self.memoryKB("VmHWM", pid: pid) ?? peakRSSKB
        #expect(max(highWaterKB, peakRSSKB) < Self.deploymentMemoryLimitKB,
                "peak RSS \(max(highWaterKB, peakRSSKB)) kB, limit \(Self.deploymentMemoryLimitKB) kB")
    }
}

/// The receiver's limits as `serve` takes them, and a browser's cross-site POST, against the real binary.
@Suite("Receiver limit settings and cross-site posts", .timeLimit(.minutes(3)))
struct ReceiverLimitSettingsTests {
    @Test("a bad limit stops serve with exit 78 and a sentence naming it", arguments: [
        (["--max-webhooks-in-flight", "0"], "The webhooks in flight cap \"0\" must be a whole number of at least 1"),
        (["--max-alerts-per-webhook", "many"], "The alerts per webhook cap \"many\" must be a whole number of at least 1"),
        (["--max-connections=-1"], "The connection cap \"-1\" must be a whole number of at least 0"),
        (["--read-timeout", "soon"], "The read timeout \"soon\" is not a usable duration"),
        (["--idle-timeout", "later"], "The idle timeout \"later\" is not a usable duration"),
    ])
    func badLimitsAreRefused(arguments: [String], sentence: String) async throws {
        let exit = try await DaemonProcess.runToExit(["serve", "--dry-run"] + arguments)
        #expect(exit.status == 78)
        #expect(exit.errorOutput.contains(sentence), "stderr: \(exit.errorOutput)")
    }

    @Test("the variables set the limits too: PAGERDUTY_PUBLISHER_MAX_ALERTS_PER_WEBHOOK=2 refuses three alerts")
    func variablesSetTheLimits() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await DaemonProcess(
            arguments: ["--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database],
            environment: ["PAGERDUTY_PUBLISHER_MAX_ALERTS_PER_WEBHOOK": "2"]
        )
        defer { daemon.kill() }
        let alert = #"{"status":"firing","labels":{"alertname":"A"}}"#
        let answer = try await HTTP.post(
            "\(daemon.baseURL)/v1/alertmanager", body: #"{"version":"4","alerts":[\#(alert),\#(alert),\#(alert)]}"#)
        #expect(answer.status == 400)
        #expect(answer.json?["field"] as? String == "alerts")
        #expect((answer.json?["error"] as? String)?.contains("at most 2") == true)
    }

    @Test("a browser's cross-site form POST (text/plain, or no JSON type) gets 415 and changes nothing")
    func crossSitePostsChangeNothing() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
        ])
        defer { daemon.kill() }
        // What <form enctype="text/plain"> submits: the JSON smuggled as a field name, "=" and an empty value.
        let smuggled = #"{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"CrossSite"}}],"x":"="}"#
        for contentType in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b"] {
            let answer = try await HTTP.post("\(daemon.baseURL)/v1/alertmanager", body: smuggled, contentType: contentType)
            #expect(answer.status == 415, "\(contentType)")
            #expect((answer.json?["error"] as? String)?.contains("application/json") == true)
            let change = try await HTTP.post(
                "\(daemon.baseURL)/v1/change-events", body: #"{"summary":"cross-site"}"#, contentType: contentType)
            #expect(change.status == 415, "\(contentType)")
        }
        // A webhook sent properly afterwards is the only thing PagerDuty receives.
        let proper = try await HTTP.post(
            "\(daemon.baseURL)/v1/alertmanager",
            body: #"{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"Proper"}}]}"#)
        #expect(proper.status == 202)
        let accepted = try await fake.waitForAccepted(count: 1)
        #expect(accepted.count == 1)
        // Had the refused requests been stored, their events would have been sent before this one's.
        #expect(fake.requests.count == 1)
        #expect(fake.requests.allSatisfy { String(decoding: $0.body, as: UTF8.self).contains("Proper") })
        let queue = try await DaemonProcess.runToExit(["queue", "list", "--database", scratch.database])
        #expect(!queue.output.contains("CrossSite") && !queue.output.contains("cross-site"))
    }
}
