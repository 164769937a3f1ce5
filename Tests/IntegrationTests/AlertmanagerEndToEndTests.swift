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
@Suite("End to end with a real Alertmanager", .serialized, .timeLimit(.minutes(5)))
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

/// The Alertmanager sync against a real Alertmanager: the daemon receives its webhooks and reads its API back.
@Suite("End to end: the Alertmanager sync with a real Alertmanager and amtool", .serialized, .timeLimit(.minutes(5)))
struct AlertmanagerSyncEndToEndTests {
    /// Waits until the fake accepted `action` for `dedupKey` `count` times.
    func waitFor(_ action: String, _ dedupKey: String, count: Int = 1, fake: FakePagerDuty) async throws {
        try await waitUntil("\(count) × \(action) for \(dedupKey)", timeout: .seconds(60)) {
            actions(of: dedupKey, fake: fake).filter { $0 == action }.count >= count
        }
    }

    func actions(of dedupKey: String, fake: FakePagerDuty) -> [String] {
        fake.accepted.filter { $0.stringField("dedup_key") == dedupKey }.compactMap { $0.stringField("event_action") }
    }

    @Test func silencesAcknowledgeExpiryRetriggersAndReconciliationResolvesButNeverWhileAlertmanagerIsDown() async throws {
        let binary = try #require(AlertmanagerEndToEndTests.alertmanagerBinary, "prometheus-alertmanager is not installed (scripts/test installs it)")
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let alertmanagerPort = try FreePort.find()
        let alertmanagerURL = "http://127.0.0.1:\(alertmanagerPort)"
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
            "--auth-token", DaemonProcess.authToken, "--alertmanager-url", alertmanagerURL,
            "--alertmanager-poll-interval", "1s", "--alertmanager-grace-period", "3s",
        ])
        var alertmanager = try await AlertmanagerProcess(
            binary: binary, directory: scratch.url, webhookURL: "\(daemon.baseURL)/v1/alertmanager",
            token: DaemonProcess.authToken, port: alertmanagerPort)
        defer { alertmanager.stop() }

        // Fire → trigger.
        let silenced = ["alertname": "E2ESilenced", "instance": "db-1:9100", "severity": "critical"]
        let silencedKey = LabelSetFingerprint.of(silenced)
        try await alertmanager.post([["labels": silenced, "annotations": ["summary": "disk full on db-1"]]])
        try await waitFor("trigger", silencedKey, fake: fake)

        // amtool silence add → acknowledge.
        let silenceID = try alertmanager.amtool(["silence", "add", "alertname=E2ESilenced", "--duration=1h", "--comment=e2e", "--author=e2e"])
        try await waitFor("acknowledge", silencedKey, fake: fake)
        let acknowledge = try #require(fake.accepted.last { $0.stringField("dedup_key") == silencedKey })
        #expect(acknowledge.schemaViolations.isEmpty)

        // The silence expires → trigger again (Alertmanager itself would stay quiet until repeat_interval).
        _ = try alertmanager.amtool(["silence", "expire", silenceID])
        try await waitFor("trigger", silencedKey, count: 2, fake: fake)

        // Silenced again, then resolved while silenced: Alertmanager sends nothing; reconciliation resolves.
        _ = try alertmanager.amtool(["silence", "add", "alertname=E2ESilenced", "--duration=1h", "--comment=e2e", "--author=e2e"])
        try await waitFor("acknowledge", silencedKey, count: 2, fake: fake)
        try await alertmanager.post([["labels": silenced, "endsAt": RFC3339.format(Date())]])
        try await waitFor("resolve", silencedKey, fake: fake)
        #expect(actions(of: silencedKey, fake: fake) == ["trigger", "acknowledge", "trigger", "acknowledge", "resolve"])

        // Alertmanager restarted without its data: the alert it forgot is resolved after the grace period.
        let forgotten = ["alertname": "E2EForgotten", "instance": "db-2:9100", "severity": "warning"]
        let forgottenKey = LabelSetFingerprint.of(forgotten)
        try await alertmanager.post([["labels": forgotten]])
        try await waitFor("trigger", forgottenKey, fake: fake)
        alertmanager.stop()
        alertmanager = try await AlertmanagerProcess(
            binary: binary, directory: scratch.url, webhookURL: "\(daemon.baseURL)/v1/alertmanager",
            token: DaemonProcess.authToken, port: alertmanagerPort, dataName: "alertmanager-data-2")
        try await waitFor("resolve", forgottenKey, fake: fake)

        // Alertmanager stopped: nothing is resolved, however long it stays away; the gauge and a log line say so.
        let kept = ["alertname": "E2EKept", "instance": "db-3:9100", "severity": "warning"]
        let keptKey = LabelSetFingerprint.of(kept)
        try await alertmanager.post([["labels": kept]])
        try await waitFor("trigger", keptKey, fake: fake)
        alertmanager.stop()
        try await daemon.waitForLog("Alertmanager unreachable; the sync changes nothing it would need it for")
        let downSince = ContinuousClock.now
        while ContinuousClock.now - downSince < .seconds(9) {
            #expect(!actions(of: keptKey, fake: fake).contains("resolve"), "three grace periods without Alertmanager")
            try await Task.sleep(for: .milliseconds(250))
        }
        let metrics = try await HTTP.get("\(daemon.baseURL)/metrics")
        #expect(metrics.body.contains("pagerduty_publisher_alertmanager_up{alertmanager=\"127.0.0.1:\(alertmanagerPort)\"} 0"))
        #expect(actions(of: keptKey, fake: fake) == ["trigger"])
        #expect(fake.accepted.allSatisfy { $0.schemaViolations.isEmpty })
        #expect(try await daemon.terminate() == 0)
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

    /// Starts Alertmanager on `port` (a free one when `nil`) with its data under `directory/dataName`. With
    /// `otherReceiverURL`, every alert also goes to that webhook (another team's chat, say), repeated every
    /// `repeatInterval`. With `tls`, the webhook goes over TLS checked against `caFile`, with a client certificate
    /// when `certFile` and `keyFile` are given; with `basicAuth`, it carries basic credentials instead of `token`.
    init(
        binary: String, directory: URL, webhookURL: String, token: String, port: Int? = nil,
        dataName: String = "alertmanager-data", otherReceiverURL: String? = nil, repeatInterval: String = "1h",
        tls: (caFile: String, certFile: String?, keyFile: String?)? = nil, basicAuth: (username: String, password: String)? = nil
    ) async throws {
        let port = try port ?? FreePort.find()
        // Written line by line: the indentation is YAML's.
        let routes =
            otherReceiverURL == nil
            ? ""
            : ["", "  routes:", "    - receiver: publisher", "      continue: true", "    - receiver: other"]
                .joined(separator: "\n")
        let otherReceiver =
            otherReceiverURL.map { url in
                ["", "  - name: other", "    webhook_configs:", "      - url: \(url)", "        send_resolved: true"]
                    .joined(separator: "\n")
            } ?? ""
        let config = """
            route:
              receiver: publisher
              group_by: ['alertname']
              group_wait: 1s
              group_interval: 1s
              repeat_interval: \(repeatInterval)\(routes)
            receivers:
              - name: publisher
                webhook_configs:
                  - url: \(webhookURL)
                    send_resolved: true
                    max_alerts: 0
                    http_config:\(Self.credentials(token: token, basicAuth: basicAuth))\(Self.tlsConfig(tls))\(otherReceiver)
            """
        let configURL = directory.appendingPathComponent("alertmanager.yml")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--config.file=\(configURL.path)",
            "--storage.path=\(directory.appendingPathComponent(dataName).path)",
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

    /// The `http_config` lines that authenticate: `basic_auth` when given, else a bearer `authorization`.
    private static func credentials(token: String, basicAuth: (username: String, password: String)?) -> String {
        guard let basicAuth else {
            return ["", "          authorization:", "            type: Bearer", "            credentials: \(token)"].joined(separator: "\n")
        }
        return ["", "          basic_auth:", "            username: \(basicAuth.username)", "            password: \(basicAuth.password)"]
            .joined(separator: "\n")
    }

    /// The `http_config.tls_config` lines, or nothing.
    private static func tlsConfig(_ tls: (caFile: String, certFile: String?, keyFile: String?)?) -> String {
        guard let tls else { return "" }
        var lines = ["", "          tls_config:", "            ca_file: \(tls.caFile)"]
        if let certFile = tls.certFile { lines.append("            cert_file: \(certFile)") }
        if let keyFile = tls.keyFile { lines.append("            key_file: \(keyFile)") }
        return lines.joined(separator: "\n")
    }

    /// Runs `amtool` against this Alertmanager and returns what it printed.
    func amtool(_ arguments: [String]) throws -> String {
        let exit = try ChildProcess.runBlocking("/usr/bin/amtool", arguments + ["--alertmanager.url=\(baseURL)"], mergingErrors: true)
        let text = exit.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard exit.status == 0 else { throw DaemonError(reason: "amtool \(arguments) failed: \(text)") }
        return text
    }

    /// The silences `GET /api/v2/silences` lists (every state), as JSON objects.
    func silences() async throws -> [[String: Any]] {
        let answer = try await HTTP.get("\(baseURL)/api/v2/silences")
        guard answer.status == 200, let list = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [[String: Any]] else {
            throw DaemonError(reason: "Alertmanager did not list its silences: \(answer.status) \(answer.body)")
        }
        return list
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
