import Foundation
import PublisherTestSupport
import Synchronization
import Testing

/// Issue 12, section 4, against the real daemon: slow clients and large bodies must not exhaust the receiver.
@Suite("The receiver under half-sent requests and large bodies", .serialized, .timeLimit(.minutes(5)))
struct ReceiverExhaustionTests {
    /// The memory limit of deploy/kubernetes/base/deployment.yaml (256Mi), in kB as /proc reports it.
    static let deploymentMemoryLimitKB = 256 * 1024
    static let readTimeoutSeconds = 3
    static let smallWebhook = #"{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"Probe","instance":"a"}}]}"#

    static func head(contentLength: Int) -> String {
        "POST /v1/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(contentLength)\r\n\r\n"
    }

    /// A valid 10 MB webhook: one alert, then whitespace.
    static let largeBody: [UInt8] = {
        let start = Array(#"{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"Large"}}]"#.utf8)
        return start + [UInt8](repeating: UInt8(ascii: " "), count: 10_000_000 - start.count - 1) + [UInt8(ascii: "}")]
    }()

    /// A value of `/proc/PID/status` in kB (`VmRSS`, `VmHWM`).
    static func memoryKB(_ field: String, pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }

    @Test("200 half-sent requests and 20 concurrent 10 MB bodies: the half-sent are dropped after the read timeout, webhooks are answered within 100 ms, and RSS stays under the Deployment's limit")
    func survivesSlowClientsAndLargeBodies() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        // Enough places in flight for the 20 large bodies and the probe: the probe's answer measures latency, not the
        // cap (which has its own test); and 20 bodies buffered at once is more memory than the default cap allows.
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
            "--read-timeout", "\(Self.readTimeoutSeconds)s", "--max-webhooks-in-flight", "32", "--log-level", "info",
        ])
        defer { daemon.kill() }
        let port = daemon.port
        let pid = daemon.processIdentifier

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
                            try connection.send(Array(Self.head(contentLength: Self.largeBody.count).utf8) + Self.largeBody)
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
        var peakRSSKB = 0
        var closedAt: ContinuousClock.Instant?
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let started = ContinuousClock.now
            let status = try await RawHTTPConnection.inThread {
                let connection = try RawHTTPConnection(port: port)
                try connection.send(Self.head(contentLength: Self.smallWebhook.utf8.count) + Self.smallWebhook)
                return connection.readResponse(timeout: .seconds(10))?.status
            }
            latencies.append(ContinuousClock.now - started)
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
        #expect(large.count == 20)
        #expect(large.allSatisfy { $0 == 202 }, "large bodies answered \(large)")
        #expect(!latencies.isEmpty)
        #expect(probeStatuses.allSatisfy { $0 == 202 }, "probe answers \(probeStatuses)")
        let slowest = latencies.max() ?? .zero
        #expect(slowest < .milliseconds(100), "slowest webhook answer \(slowest) of \(latencies.count)")
        let highWaterKB = Self.memoryKB("VmHWM", pid: pid) ?? peakRSSKB
        #expect(max(highWaterKB, peakRSSKB) < Self.deploymentMemoryLimitKB,
                "peak RSS \(max(highWaterKB, peakRSSKB)) kB, limit \(Self.deploymentMemoryLimitKB) kB")
    }
}
