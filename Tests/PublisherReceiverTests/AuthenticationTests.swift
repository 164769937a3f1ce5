import HummingbirdTesting
import PublisherReceiver
import StructuredLogging
import Testing

@Suite("Bearer token on the webhook", .timeLimit(.minutes(2)))
struct AuthenticationTests {
    static let token = "s3cr3t-T0ken-of-the-receiver-4f9a1c"

    func harness() -> ReceiverHarness {
        var harness = ReceiverHarness()
        harness.configuration.authToken = Self.token
        return harness
    }

    @Test("a missing or wrong token is 401 with WWW-Authenticate and nothing is ingested",
          arguments: [nil, "Bearer wrong", "Bearer \(token)x", "Bearer \(String(token.dropLast()))",
                      "Basic \(token)", "Bearer", "\(token)"])
    func refusesBadToken(_ authorization: String?) async throws {
        let harness = harness()
        try await harness.run { client in
            let response = try await client.postWebhook(realisticWebhook, authorization: authorization)
            #expect(response.status == .unauthorized)
            #expect(response.headers[.wwwAuthenticate] == "Bearer")
            #expect(try response.jsonObject()["status"] as? String == "error")
            #expect(!response.text.contains(Self.token))
        }
        #expect(harness.ingestor.calls.isEmpty)
    }

    @Test("the right token is accepted, scheme in any case, on both webhook paths",
          arguments: ["Bearer \(token)", "bearer \(token)", "BEARER  \(token) "])
    func acceptsRightToken(_ authorization: String) async throws {
        let harness = harness()
        try await harness.run { client in
            let plain = try await client.postWebhook(realisticWebhook, authorization: authorization)
            #expect(plain.status == .accepted)
            let routed = try await client.postWebhook(realisticWebhook, uri: "/v1/alertmanager/db", authorization: authorization)
            #expect(routed.status == .accepted)
        }
        #expect(harness.ingestor.calls.count == 2)
    }

    @Test("the token is checked before the body: a bad body without token is 401, not 400")
    func tokenBeforeBody() async throws {
        let harness = harness()
        try await harness.run { client in
            let response = try await client.postWebhook("{", contentType: "text/plain")
            #expect(response.status == .unauthorized)
        }
    }

    @Test("the token never appears in the logs, whether sent right or wrong")
    func tokenNeverLogged() async throws {
        let harness = harness()
        try await harness.run { client in
            _ = try await client.postWebhook(realisticWebhook, authorization: "Bearer \(Self.token)")
            _ = try await client.postWebhook(realisticWebhook, authorization: "Bearer \(Self.token)-wrong")
            _ = try await client.postWebhook(realisticWebhook, authorization: "Bearer nope")
            _ = try await client.postWebhook("{", authorization: "Bearer \(Self.token)")
        }
        let lines = harness.logs.lines
        #expect(lines.count >= 4)  // one per request at least: the capture works
        #expect(lines.contains { $0.contains("missing or invalid bearer token") })
        #expect(!lines.contains { $0.contains(Self.token) })
        #expect(!lines.contains { $0.contains("Bearer nope") || $0.contains("nope") })
    }

    @Test("the configuration's description hides the token")
    func configurationDescriptionHidesToken() {
        let configuration = ReceiverConfiguration(authToken: Self.token)
        #expect(!configuration.description.contains(Self.token))
        #expect(configuration.description.contains("authToken: set"))
    }

    @Test("an empty or blank token refuses every request instead of meaning no authentication",
          arguments: ["", "   "])
    func blankTokenFailsClosed(_ blank: String) async throws {
        var harness = ReceiverHarness()
        harness.configuration.authToken = blank
        try await harness.run { client in
            for authorization in [nil, "Bearer", "Bearer \(blank)", "Bearer x"] as [String?] {
                let status = try await client.postWebhook(realisticWebhook, authorization: authorization).status
                #expect(status == .unauthorized)
            }
        }
        #expect(harness.ingestor.calls.isEmpty)
    }
}
