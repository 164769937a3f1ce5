import Foundation
import HummingbirdBcrypt
import HummingbirdTesting
import PublisherCore
import PublisherReceiver
import PublisherTestSupport
import PublisherWebConfig
import Testing

/// The receiver with a web configuration file: its users beside the flags' credentials, on the webhooks and on
/// `/` and `/metrics`; its headers on every answer; `/healthz` and `/readyz` open as before.
@Suite("Receiver with a web configuration file", .timeLimit(.minutes(2)))
struct WebConfigReceiverTests {
    static let password = "w3b-config-Passw0rd"
    static let token = "s3cr3t-T0ken-of-the-receiver-4f9a1c"

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    /// A live web configuration with the user `alertmanager` and two headers, loaded from a file in a scratch directory
    /// that is removed once loaded.
    static func webConfig(users: Bool = true) throws -> LiveWebConfig {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pdp-web-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("web.yml").path
        var text = "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: default-src 'none'\n"
        if users { text += "basic_auth_users:\n  alertmanager: \(Bcrypt.hash(password, cost: 4))\n" }
        // Loaded once here and never reloaded by these tests: the scratch directory can go at once.
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return LiveWebConfig(path: path, initial: try WebConfigLoader.load(path: path))
    }

    func harness(token: String? = nil, users: Bool = true) throws -> ReceiverHarness {
        var harness = ReceiverHarness()
        harness.configuration.authToken = token
        harness.configuration.webConfig = try Self.webConfig(users: users)
        return harness
    }

    @Test func aWebConfigUserOrTheFlagsTokenIsAcceptedOnTheWebhook() async throws {
        let harness = try harness(token: Self.token)
        try await harness.run { client in
            let answer1 = try await client.postWebhook(realisticWebhook, authorization: Self.basic("alertmanager", Self.password))
            #expect(answer1.status == .accepted)
            let answer2 = try await client.postWebhook(realisticWebhook, authorization: "Bearer \(Self.token)")
            #expect(answer2.status == .accepted)
            let answer3 = try await client.postWebhook(realisticWebhook, authorization: Self.basic("alertmanager", "wrong"))
            #expect(answer3.status == .unauthorized)
            let answer4 = try await client.postWebhook(realisticWebhook)
            #expect(answer4.status == .unauthorized)
        }
        #expect(harness.ingestor.calls.count == 2)
        #expect(!harness.logs.lines.joined().contains(Self.password))
    }

    @Test func usersWithoutFlagsCloseTheWebhookThatWasOpen() async throws {
        let harness = try harness()
        try await harness.run { client in
            let answer5 = try await client.postWebhook(realisticWebhook)
            #expect(answer5.status == .unauthorized)
            let answer6 = try await client.postWebhook(realisticWebhook, authorization: Self.basic("alertmanager", Self.password))
            #expect(answer6.status == .accepted)
        }
    }

    @Test func metricsNeedsACredentialWhenTheFileNamesUsersButHealthAndReadinessDoNot() async throws {
        let harness = try harness(token: Self.token)
        try await harness.run { client in
            let refused = try await client.execute(uri: "/metrics", method: .get)
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            let wrong = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: Self.basic("alertmanager", "nope")])
            #expect(wrong.status == .unauthorized)
            let user = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: Self.basic("alertmanager", Self.password)])
            #expect(user.status == .ok)
            let token = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(Self.token)"])
            #expect(token.status == .ok)
            let answer7 = try await client.execute(uri: "/healthz", method: .get)
            #expect(answer7.status == .ok)
            let answer8 = try await client.execute(uri: "/readyz", method: .get)
            #expect(answer8.status == .ok)
        }
    }

    @Test func metricsStaysOpenWhenTheFileNamesNoUsers() async throws {
        let harness = try harness(token: Self.token, users: false)
        try await harness.run { client in
            let answer9 = try await client.execute(uri: "/metrics", method: .get)
            #expect(answer9.status == .ok)
        }
    }

    @Test("the headers are on every answer on the socket: routed, refused, unknown, and a request that cannot be parsed")
    func theHeadersAreOnEveryAnswerErrorsIncluded() async throws {
        var configuration = ReceiverConfiguration(host: "127.0.0.1", port: 0)
        configuration.webConfig = try Self.webConfig()
        let receiver = try await RunningReceiver(configuration: configuration)
        defer { receiver.stop() }
        let webhook = ConnectionLimitTests.smallWebhook
        let authorization = "Authorization: \(Self.basic("alertmanager", Self.password))\r\n"
        let requests = [
            ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 200),
            ("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 401),
            (ConnectionLimitTests.head(contentLength: webhook.utf8.count, extra: authorization) + webhook, 202),
            ("GET /no-such-page HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 404),
            ("NOT AN HTTP REQUEST\r\n\r\n", 400),
        ]
        for (request, status) in requests {
            let connection = try RawHTTPConnection(port: receiver.port)
            defer { connection.close() }
            try connection.send(request)
            let answer = try #require(try await RawHTTPConnection.inThread { connection.readResponse() })
            #expect(answer.status == status, "\(request)")
            #expect(answer.headers["x-frame-options"] == "deny", "\(request)")
            #expect(answer.headers["content-security-policy"] == "default-src 'none'", "\(request)")
        }
        #expect(receiver.ingestor.calls.count == 1)
    }
}
