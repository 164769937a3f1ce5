import AlertmanagerModels
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PagerDutyEvents
import PublisherTestSupport
import Testing

/// A real Alertmanager (Debian's prometheus-alertmanager, which scripts/test installs) posting its webhooks to
/// the real daemon, which delivers to the fake PagerDuty. Everything on 127.0.0.1.
@Suite("End to end with a real Alertmanager", .serialized)
struct AlertmanagerEndToEndTests {
    static var alertmanagerBinary: String? {
        let candidates = ["/usr/bin/prometheus-alertmanager", "/usr/local/bin/alertmanager", "/usr/bin/alertmanager"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func alertsFiredAndResolvedInAlertmanagerTriggerAndResolvePerAlert() async throws {
        let binary = try #require(Self.alertmanagerBinary, "prometheus-alertmanager is not installed (scripts/test installs it)")
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
            "--auth-token", DaemonProcess.authToken,
        ])
        let alertmanager = try await AlertmanagerProcess(binary: binary, directory: scratch.url, webhookURL: "\(daemon.baseURL)/v1/alertmanager", token: DaemonProcess.authToken)
        defer { alertmanager.stop() }

        let labels: [[String: String]] = [
            ["alertname": "E2EDiskFull", "instance": "db-1:9100", "severity": "critical"],
            ["alertname": "E2EDiskFull", "instance": "db-2:9100", "severity": "warning"],
        ]
        try await alertmanager.post(labels.map { ["labels": $0, "annotations": ["summary": "disk full on \($0["instance"]!)"]] })
        let triggers = try await fake.waitForAccepted(count: 2, timeout: .seconds(60))
        let expectedKeys = Set(labels.map(LabelSetFingerprint.of))
        #expect(Set(triggers.compactMap { $0.stringField("dedup_key") }) == expectedKeys, "one trigger per alert, keyed by Alertmanager's fingerprint")
        #expect(triggers.allSatisfy { $0.stringField("event_action") == "trigger" })
        #expect(triggers.allSatisfy { $0.schemaViolations.isEmpty })

        let now = RFC3339.format(Date())
        try await alertmanager.post(labels.map { ["labels": $0, "endsAt": now] })
        let all = try await fake.waitForAccepted(count: 4, timeout: .seconds(60))
        let resolves = all.dropFirst(2)
        #expect(resolves.allSatisfy { $0.stringField("event_action") == "resolve" })
        #expect(Set(resolves.compactMap { $0.stringField("dedup_key") }) == expectedKeys)
        await fake.stop()
    }
}

extension FakePagerDuty.ReceivedRequest {
    /// A top-level string field of the request's JSON body.
    func stringField(_ name: String) -> String? {
        guard case .object(let object)? = json, case .string(let value)? = object[name] else { return nil }
        return value
    }
}

/// A real Alertmanager process with a webhook receiver pointing at the daemon.
final class AlertmanagerProcess: Sendable {
    private let process: Process
    let baseURL: String

    init(binary: String, directory: URL, webhookURL: String, token: String) async throws {
        let port = try FreePort.find()
        let config = """
            route:
              receiver: publisher
              group_by: ['alertname']
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: publisher
                webhook_configs:
                  - url: \(webhookURL)
                    send_resolved: true
                    max_alerts: 0
                    http_config:
                      authorization:
                        type: Bearer
                        credentials: \(token)
            """
        let configURL = directory.appendingPathComponent("alertmanager.yml")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--config.file=\(configURL.path)",
            "--storage.path=\(directory.appendingPathComponent("alertmanager-data").path)",
            "--web.listen-address=127.0.0.1:\(port)",
            "--cluster.listen-address=",
        ]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        baseURL = "http://127.0.0.1:\(port)"
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let answer = try? await HTTP.get("\(baseURL)/-/ready"), answer.status == 200 { break }
            guard process.isRunning, ContinuousClock.now < deadline else {
                stop()
                throw DaemonError(reason: "Alertmanager did not become ready on \(baseURL)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Posts alerts to Alertmanager's API v2, as Prometheus does.
    func post(_ alerts: [[String: Any]]) async throws {
        let body = try JSONSerialization.data(withJSONObject: alerts)
        let answer = try await HTTP.post("\(baseURL)/api/v2/alerts", body: String(decoding: body, as: UTF8.self))
        guard answer.status == 200 else { throw DaemonError(reason: "Alertmanager refused the alerts: \(answer.status) \(answer.body)") }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

/// Finds a free TCP port on 127.0.0.1 by binding port 0 and reading what the kernel chose.
enum FreePort {
    static func find() throws -> Int {
        let socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketDescriptor >= 0 else { throw DaemonError(reason: "socket() failed") }
        defer { close(socketDescriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw DaemonError(reason: "bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketDescriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
