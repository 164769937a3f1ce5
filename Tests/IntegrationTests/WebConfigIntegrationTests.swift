import Foundation
import HummingbirdBcrypt
import PagerDutyEvents
import PublisherTestSupport
import Synchronization
import Testing

/// The real daemon with `--web.config.file`: TLS with client certificates, bcrypt users, response headers, and
/// certificate renewals picked up without a restart. Certificates are made with the `openssl` command line and
/// requests sent with `curl` and `openssl s_client`, all on 127.0.0.1.
@Suite("Web configuration file: TLS, client certificates, bcrypt users, renewals", .serialized, .timeLimit(.minutes(5)))
struct WebConfigIntegrationTests {
    static let user = "alertmanager"
    static let password = "correct horse battery staple"

    /// What curl said: its exit code, the HTTP status (0 without an answer) and the headers.
    struct CurlAnswer {
        var exitCode: Int32
        var status: Int
        var headers: String
    }

    /// Runs `curl` against `url` with `arguments` (e.g. `--cacert`, `--cert`, `-u`), on a thread of its own.
    static func curl(_ url: String, _ arguments: [String]) async throws -> CurlAnswer {
        try await onOwnThread { try curlBlocking(url, arguments) }
    }

    private static func curlBlocking(_ url: String, _ arguments: [String]) throws -> CurlAnswer {
        let exit = try ChildProcess.runBlocking(
            "curl", ["--silent", "--max-time", "10", "--dump-header", "-", "--output", "/dev/null",
                     "--write-out", "\nstatus=%{http_code}\n"] + arguments + [url])
        let text = exit.output
        let status = text.components(separatedBy: "status=").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        return CurlAnswer(exitCode: exit.status, status: status, headers: text)
    }

    static func writeWebConfig(_ text: String, in certs: TestCertificates) throws -> String {
        let path = certs.path("web-config.yml")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func mutualTLSConfig(hash: String) -> String {
        """
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
          client_ca_file: ca.crt
          client_auth_type: RequireAndVerifyClientCert
        http_server_config:
          headers:
            X-Frame-Options: deny
            X-Content-Type-Options: nosniff
        basic_auth_users:
          \(user): \(hash)
        """
    }

    @Test func mutualTLSAndBcryptUsersRefuseWhatTheyShould() async throws {
        let certs = try await TestCertificates.makeOffThePool()
        defer { certs.remove() }
        let scratch = try ScratchDirectory()
        let webConfig = try Self.writeWebConfig(Self.mutualTLSConfig(hash: Bcrypt.hash(Self.password, cost: 6)), in: certs)
        let daemon = try await DaemonProcess(arguments: [
            "--dry-run", "--database", scratch.database, "--web.config.file", webConfig,
        ])
        let url = "https://127.0.0.1:\(daemon.port)"
        let trusted = ["--cacert", certs.path("ca.crt")]
        let client = ["--cert", certs.path("client.crt"), "--key", certs.path("client.key")]
        let login = ["-u", "\(Self.user):\(Self.password)"]

        let metrics = try await Self.curl("\(url)/metrics", trusted + client + login)
        #expect(metrics.status == 200, "\(metrics)")
        #expect(metrics.headers.lowercased().contains("x-frame-options: deny"))
        #expect(metrics.headers.lowercased().contains("x-content-type-options: nosniff"))

        // Plain HTTP on the TLS port gets no answer.
        #expect(try await Self.curl("http://127.0.0.1:\(daemon.port)/healthz", []).status == 0)
        // The server's certificate checked against another CA: curl refuses it.
        let wrongCA = try await Self.curl("\(url)/metrics", ["--cacert", certs.path("other-ca.crt")] + client + login)
        #expect(wrongCA.status == 0 && wrongCA.exitCode == 60, "\(wrongCA)")
        // No client certificate, or one from another CA: the handshake fails.
        let noClient = try await Self.curl("\(url)/healthz", trusted)
        #expect(noClient.status == 0 && noClient.exitCode != 0, "\(noClient)")
        let otherClient = try await Self.curl(
            "\(url)/healthz", trusted + ["--cert", certs.path("other-client.crt"), "--key", certs.path("other-client.key")])
        #expect(otherClient.status == 0 && otherClient.exitCode != 0, "\(otherClient)")
        // A wrong password, or none, on /metrics and on the webhook: 401.
        #expect(try await Self.curl("\(url)/metrics", trusted + client + ["-u", "\(Self.user):wrong"]).status == 401)
        #expect(try await Self.curl("\(url)/metrics", trusted + client).status == 401)
        let webhook = ["-X", "POST", "-H", "Content-Type: application/json", "--data", Webhook.body(Webhook.firing("TLSDisk", ["a"]))]
        #expect(try await Self.curl("\(url)/v1/alertmanager", trusted + client + webhook).status == 401)
        #expect(try await Self.curl("\(url)/v1/alertmanager", trusted + client + login + webhook).status == 202)
        // /healthz needs the client certificate (TLS) but no password, as before.
        #expect(try await Self.curl("\(url)/healthz", trusted + client).status == 200)
        // Neither the password nor the hash reaches the log.
        let logs = daemon.lines.joined(separator: "\n")
        #expect(!logs.contains(Self.password))
        #expect(!logs.contains("$2b$06$"))
        _ = try await daemon.terminate()
    }

    @Test func anExpiredServerCertificateIsRefusedByTheClient() async throws {
        let certs = try await TestCertificates.makeOffThePool()
        defer { certs.remove() }
        let scratch = try ScratchDirectory()
        let webConfig = try Self.writeWebConfig("tls_server_config: {cert_file: expired.crt, key_file: expired.key}", in: certs)
        let daemon = try await DaemonProcess(arguments: ["--dry-run", "--database", scratch.database, "--web.config.file", webConfig])
        let answer = try await Self.curl("https://127.0.0.1:\(daemon.port)/healthz", ["--cacert", certs.path("ca.crt")])
        #expect(answer.status == 0 && answer.exitCode == 60, "curl must refuse an expired certificate: \(answer)")
        _ = try await daemon.terminate()
    }

    @Test func aRenewedCertificateIsUsedByNewConnectionsWhileAnOpenOneKeepsWorking() async throws {
        let certs = try await TestCertificates.makeOffThePool()
        defer { certs.remove() }
        let scratch = try ScratchDirectory()
        let webConfig = try Self.writeWebConfig("tls_server_config: {cert_file: server.crt, key_file: server.key}", in: certs)
        let daemon = try await DaemonProcess(arguments: [
            "--dry-run", "--database", scratch.database, "--web.config.file", webConfig, "--config-check-interval", "200ms",
        ])
        #expect(try await Self.servedSubject(port: daemon.port, certs: certs).contains("CN = 127.0.0.1"))

        // A kept-alive connection, opened before the renewal.
        let open = try KeptAliveTLSConnection(port: daemon.port, caFile: certs.path("ca.crt"))
        defer { open.close() }
        try open.get("/healthz")
        try await waitUntil("the first answer on the open connection") { open.answers == 1 }

        // cert-manager renews in place: a new key and certificate (another subject, to tell them apart).
        try await onOwnThread { try certs.issue("renewed", by: "ca", subject: "renewed.127.0.0.1", extensions: "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth") }
        try FileManager.default.removeItem(atPath: certs.path("server.key"))
        try FileManager.default.copyItem(atPath: certs.path("renewed.key"), toPath: certs.path("server.key"))
        try FileManager.default.removeItem(atPath: certs.path("server.crt"))
        try FileManager.default.copyItem(atPath: certs.path("renewed.crt"), toPath: certs.path("server.crt"))
        try await waitUntilAnswered("a new connection to get the renewed certificate", timeout: .seconds(20)) {
            try await Self.servedSubject(port: daemon.port, certs: certs).contains("renewed.127.0.0.1")
        }
        // The connection opened before still answers, with its first certificate.
        try open.get("/healthz")
        try await waitUntil("the second answer on the open connection") { open.answers == 2 }
        #expect(open.transcript.contains("CN = 127.0.0.1"))
        #expect(try await Self.curl("https://127.0.0.1:\(daemon.port)/healthz", ["--cacert", certs.path("ca.crt")]).status == 200)

        // A reload whose key does not match its certificate is refused whole; the renewed certificate stays.
        // (The renewal itself may have been refused once, between the key's copy and the certificate's.)
        let refusal = "Web configuration reload failed; keeping the settings in force"
        let refusedBefore = daemon.records.filter { $0["msg"] as? String == refusal }.count
        try FileManager.default.removeItem(atPath: certs.path("server.key"))
        try FileManager.default.copyItem(atPath: certs.path("client.key"), toPath: certs.path("server.key"))
        try await daemon.waitForLog(refusal, count: refusedBefore + 1)
        #expect(try await Self.servedSubject(port: daemon.port, certs: certs).contains("renewed.127.0.0.1"))
        _ = try await daemon.terminate()
    }

    /// The subject of the certificate a new connection gets, as `openssl s_client` prints it.
    static func servedSubject(port: Int, certs: TestCertificates) async throws -> String {
        try await onOwnThread { try servedSubjectBlocking(port: port, certs: certs) }
    }

    private static func servedSubjectBlocking(port: Int, certs: TestCertificates) throws -> String {
        let text = try ChildProcess.runBlocking(
            "openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", certs.path("ca.crt"), "-verify_return_error"],
            mergingErrors: true
        ).output
        return text.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? ""
    }
}

/// One TLS connection kept open (`openssl s_client`), to send HTTP/1.1 requests on it at chosen moments.
final class KeptAliveTLSConnection: Sendable {
    private let process: Process
    private let input: Pipe
    private let output = Locked<String>("")

    init(port: Int, caFile: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", caFile, "-verify_return_error", "-ign_eof"]
        input = Pipe()
        let pipe = Pipe()
        process.standardInput = input
        process.standardOutput = pipe
        process.standardError = pipe
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { output.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        }
        try process.run()
    }

    /// Everything the connection printed: the handshake, then the answers.
    var transcript: String { output.withLock { $0 } }

    /// How many HTTP answers arrived.
    var answers: Int { transcript.components(separatedBy: "HTTP/1.1 200").count - 1 }

    func get(_ path: String) throws {
        try input.fileHandleForWriting.write(contentsOf: Data("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
    }

    func close() {
        if process.isRunning { process.terminate() }
    }
}

/// A real Alertmanager posting through TLS with a client certificate (mTLS) and a bcrypt-hashed user.
@Suite("End to end: Alertmanager over mutual TLS with a bcrypt user", .serialized, .timeLimit(.minutes(5)))
struct WebConfigAlertmanagerEndToEndTests {
    @Test func anAlertPostedOverMutualTLSWithBasicAuthReachesPagerDuty() async throws {
        let binary = try #require(AlertmanagerEndToEndTests.alertmanagerBinary, "prometheus-alertmanager is not installed (scripts/test installs it)")
        let certs = try await TestCertificates.makeOffThePool()
        defer { certs.remove() }
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let webConfig = try WebConfigIntegrationTests.writeWebConfig(
            WebConfigIntegrationTests.mutualTLSConfig(hash: Bcrypt.hash(WebConfigIntegrationTests.password, cost: 6)), in: certs)
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
            "--web.config.file", webConfig,
        ])
        let alertmanager = try await AlertmanagerProcess(
            binary: binary, directory: scratch.url, webhookURL: "https://127.0.0.1:\(daemon.port)/v1/alertmanager",
            token: "unused", tls: (certs.path("ca.crt"), certs.path("client.crt"), certs.path("client.key")),
            basicAuth: (WebConfigIntegrationTests.user, WebConfigIntegrationTests.password))
        defer { alertmanager.stop() }

        try await alertmanager.post([["labels": ["alertname": "MutualTLSDiskFull", "instance": "db-1:9100", "severity": "critical"]]])
        let triggers = try await fake.waitForAccepted(count: 1, timeout: .seconds(60))
        #expect(triggers.first?.stringField("event_action") == "trigger")
        await fake.stop()
        _ = try await daemon.terminate()
    }
}

/// `check-config --web-config`, `serve` refusing an invalid file, the environment variable, and SIGHUP.
@Suite("Web configuration file: check-config, start and SIGHUP", .serialized, .timeLimit(.minutes(5)))
struct WebConfigCommandTests {
    @Test func checkConfigAcceptsAGoodFileAndListsEveryProblemOfABadOneWithoutSecrets() async throws {
        let certs = try await TestCertificates.makeOffThePool()
        defer { certs.remove() }
        let hash = Bcrypt.hash(WebConfigIntegrationTests.password, cost: 4)
        let good = try WebConfigIntegrationTests.writeWebConfig(WebConfigIntegrationTests.mutualTLSConfig(hash: hash), in: certs)
        let ok = try await DaemonProcess.runToExit(["check-config", "--web-config", good])
        #expect(ok.status == 0, "\(ok.errorOutput)")
        #expect(ok.output.contains("\(good): OK, TLS with \(certs.path("server.crt")), client auth RequireAndVerifyClientCert"))
        #expect(ok.output.contains("basic_auth_users alertmanager"))
        #expect(!ok.output.contains(hash))
        // The variable names the file too.
        let fromVariable = try await DaemonProcess.runToExit(["check-config"], environment: ["PAGERDUTY_PUBLISHER_WEB_CONFIG_FILE": good])
        #expect(fromVariable.status == 0)

        let bad = certs.path("bad.yml")
        try Data("""
            tls_server_config: {cert_file: server.crt, key_file: client.key}
            basic_auth_users: {alertmanager: \(WebConfigIntegrationTests.password)}
            http_server_config: {headers: {Server: me}}
            """.utf8).write(to: URL(fileURLWithPath: bad))
        let refused = try await DaemonProcess.runToExit(["check-config", "--web-config", bad])
        #expect(refused.status == 1)
        #expect(refused.errorOutput.contains("2 problems:"), "\(refused.errorOutput)")
        #expect(refused.errorOutput.contains("basic_auth_users.alertmanager must be a bcrypt hash"))
        #expect(refused.errorOutput.contains("http_server_config.headers.Server cannot be configured"))
        #expect(!refused.errorOutput.contains(WebConfigIntegrationTests.password))
        // Once the form is right, the files are read: the key does not match the certificate.
        try Data("tls_server_config: {cert_file: server.crt, key_file: client.key}".utf8).write(to: URL(fileURLWithPath: bad))
        let mismatch = try await DaemonProcess.runToExit(["check-config", "--web-config", bad])
        #expect(mismatch.status == 1)
        #expect(mismatch.errorOutput.contains("cannot be used together"))
    }

    @Test func serveRefusesToStartWithAnInvalidFile() async throws {
        let scratch = try ScratchDirectory()
        let path = scratch.url.appendingPathComponent("web.yml").path
        try Data("tls_server_config: {cert_file: missing.crt}".utf8).write(to: URL(fileURLWithPath: path))
        let database = scratch.database
        let exit = try await DaemonProcess.runToExit(["serve", "--dry-run", "--database", database, "--web.config.file", path])
        #expect(exit.status == 78)
        #expect(exit.errorOutput.contains("tls_server_config.key_file is missing"))
    }

    @Test func theVariableNamesTheFileAndSIGHUPReloadsIt() async throws {
        let scratch = try ScratchDirectory()
        let path = scratch.url.appendingPathComponent("web.yml").path
        let hash = Bcrypt.hash(WebConfigIntegrationTests.password, cost: 4)
        try Data("basic_auth_users: {alertmanager: \(hash)}".utf8).write(to: URL(fileURLWithPath: path))
        let daemon = try await DaemonProcess(
            arguments: ["--dry-run", "--database", scratch.database, "--config-check-interval", "1h"],
            environment: ["PAGERDUTY_PUBLISHER_WEB_CONFIG_FILE": path])
        // curl, not URLSession: a 401 asking for Basic makes URLSession wait for credentials.
        #expect(try await WebConfigIntegrationTests.curl("\(daemon.baseURL)/metrics", []).status == 401)
        let webhook = ["-X", "POST", "-H", "Content-Type: application/json", "--data", Webhook.body(Webhook.firing("Hup", ["a"]))]
        #expect(try await WebConfigIntegrationTests.curl("\(daemon.baseURL)/v1/alertmanager", webhook + ["-u", "alertmanager:\(WebConfigIntegrationTests.password)"]).status == 202)

        // An invalid file on SIGHUP: refused whole, the user stays.
        try Data("basic_auth_users: {alertmanager: not-a-hash}".utf8).write(to: URL(fileURLWithPath: path))
        daemon.hangUp()
        try await daemon.waitForLog("Web configuration reload failed; keeping the settings in force")
        #expect(try await WebConfigIntegrationTests.curl("\(daemon.baseURL)/metrics", []).status == 401)
        #expect(!daemon.lines.joined().contains("not-a-hash"))

        // A valid file without users on SIGHUP: /metrics is open again.
        try Data("http_server_config: {headers: {X-Frame-Options: sameorigin}}".utf8).write(to: URL(fileURLWithPath: path))
        daemon.hangUp()
        try await daemon.waitForLog("Web configuration reloaded")
        let metrics = try await WebConfigIntegrationTests.curl("\(daemon.baseURL)/metrics", [])
        #expect(metrics.status == 200)
        #expect(metrics.headers.lowercased().contains("x-frame-options: sameorigin"))
        #expect(!daemon.lines.joined().contains(hash))
        _ = try await daemon.terminate()
    }
}
