import Foundation
import HummingbirdTesting
import PublisherReceiver
import Testing

@Suite("Basic auth on the webhook", .timeLimit(.minutes(2)))
struct BasicAuthenticationTests {
    static let credentials = BasicAuthCredentials(username: "alertmanager", password: "b4sic-Passw0rd-of-the-receiver")
    static let token = "s3cr3t-T0ken-of-the-receiver-4f9a1c"

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    func harness(withToken: Bool) -> ReceiverHarness {
        var harness = ReceiverHarness()
        harness.configuration.basicAuth = Self.credentials
        harness.configuration.authToken = withToken ? Self.token : nil
        return harness
    }

    @Test("the right basic credentials are accepted on the webhook and change-event paths")
    func acceptsRightCredentials() async throws {
        let harness = harness(withToken: false)
        try await harness.run { client in
            let authorization = Self.basic("alertmanager", "b4sic-Passw0rd-of-the-receiver")
            let response1 = try await client.postWebhook(realisticWebhook, authorization: authorization)
            #expect(response1.status == .accepted)
            let response2 = try await client.postWebhook(realisticWebhook, uri: "/v1/alertmanager/db", authorization: authorization)
            #expect(response2.status == .accepted)
            let response3 = try await client.postWebhook(#"{"summary":"deployed"}"#, uri: "/v1/change-events", authorization: authorization)
            #expect(response3.status == .accepted)
        }
        #expect(harness.ingestor.calls.count == 2)
    }

    @Test("wrong basic credentials, or a bearer token when only basic is configured, are 401",
          arguments: [
            basic("alertmanager", "wrong"), basic("someone", "b4sic-Passw0rd-of-the-receiver"),
            basic("alertmanager", "b4sic-Passw0rd-of-the-receiver") + "x", "Basic", "Bearer \(token)", nil,
          ])
    func refusesWrongCredentials(_ authorization: String?) async throws {
        let harness = harness(withToken: false)
        try await harness.run { client in
            let response = try await client.postWebhook(realisticWebhook, authorization: authorization)
            #expect(response.status == .unauthorized)
            #expect(!response.text.contains("b4sic-Passw0rd"))
        }
        #expect(harness.ingestor.calls.isEmpty)
        #expect(!harness.logs.lines.joined().contains("b4sic-Passw0rd"))
    }

    @Test("with both configured, either the token or the basic credentials is accepted")
    func eitherSchemeWhenBothAreConfigured() async throws {
        let harness = harness(withToken: true)
        try await harness.run { client in
            let response4 = try await client.postWebhook(realisticWebhook, authorization: "Bearer \(Self.token)")
            #expect(response4.status == .accepted)
            let response5 = try await client.postWebhook(realisticWebhook, authorization: Self.basic("alertmanager", "b4sic-Passw0rd-of-the-receiver"))
            #expect(response5.status == .accepted)
            let response6 = try await client.postWebhook(realisticWebhook, authorization: Self.basic("alertmanager", Self.token))
            #expect(response6.status == .unauthorized)
        }
        #expect(harness.ingestor.calls.count == 2)
    }

    @Test func theConfigurationDescriptionHidesThePassword() {
        let configuration = ReceiverConfiguration(basicAuth: Self.credentials)
        #expect(!"\(configuration)".contains("b4sic-Passw0rd"))
        #expect("\(configuration)".contains("alertmanager"))
    }
}
