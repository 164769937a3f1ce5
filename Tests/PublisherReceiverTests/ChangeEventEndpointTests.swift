import Foundation
import HummingbirdTesting
import PublisherCore
import PublisherReceiver
import StructuredLogging
import Testing

/// A change event as a CI pipeline posts it, with every optional field.
let deployChangeEvent = #"""
    {
      "summary": "Deployed checkout v2.4.1 to production",
      "source": "github-actions",
      "timestamp": "2026-01-01T10:00:00+02:00",
      "custom_details": {"commit": "4f2a9c1", "environment": "production", "replicas": 6},
      "links": [{"href": "https://ci.example/runs/812", "text": "Pipeline run"}, {"href": "http://git.example/c/4f2a9c1"}],
      "somethingNew": true
    }
    """#

@Suite("Accepting change events", .timeLimit(.minutes(2)))
struct ChangeEventAcceptanceTests {
    @Test("202 once stored; the ingestor got the decoded request once, and the webhook ingestor nothing")
    func acceptsChangeEvent() async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            let response = try await client.postWebhook(deployChangeEvent, uri: "/v1/change-events")
            #expect(response.status == .accepted)
            #expect(response.headers[.contentType] == "application/json; charset=utf-8")
            let body = try response.jsonObject()
            #expect(body["status"] as? String == "accepted")
            #expect(body["queued"] as? Int == 1)
        }
        let calls = harness.changeEvents.calls
        try #require(calls.count == 1)
        #expect(calls[0].route == nil)
        let request = calls[0].request
        #expect(request.summary == "Deployed checkout v2.4.1 to production")
        #expect(request.source == "github-actions")
        #expect(request.timestamp == "2026-01-01T10:00:00+02:00")
        #expect(request.customDetails == ["commit": "4f2a9c1", "environment": "production", "replicas": .number(6)])
        #expect(request.links?.map(\.href) == ["https://ci.example/runs/812", "http://git.example/c/4f2a9c1"])
        #expect(request.links?.map(\.text) == ["Pipeline run", nil])
        #expect(harness.ingestor.calls.isEmpty)
    }

    @Test("only a summary is required")
    func acceptsSummaryOnly() async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            let response = try await client.postWebhook(#"{"summary":"Feature flag new-cart on"}"#, uri: "/v1/change-events")
            #expect(response.status == .accepted)
        }
        #expect(harness.changeEvents.calls.map(\.request) == [ChangeEventRequest(summary: "Feature flag new-cart on")])
    }

    @Test("the route in the path reaches the ingestor, percent-decoded")
    func passesRoute() async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            let response = try await client.postWebhook(deployChangeEvent, uri: "/v1/change-events/db%20team")
            #expect(response.status == .accepted)
        }
        #expect(harness.changeEvents.calls.map(\.route) == ["db team"])
    }

    @Test("the bearer token is required, and the right one accepted on both paths")
    func requiresToken() async throws {
        var configured = ReceiverHarness()
        configured.configuration.authToken = AuthenticationTests.token
        let harness = configured
        try await harness.run { client in
            for authorization in [nil, "Bearer wrong"] {
                let refused = try await client.postWebhook(deployChangeEvent, uri: "/v1/change-events", authorization: authorization)
                #expect(refused.status == .unauthorized)
                #expect(refused.headers[.wwwAuthenticate] == "Bearer")
                #expect(!refused.text.contains(AuthenticationTests.token))
            }
            #expect(harness.changeEvents.calls.isEmpty)
            for uri in ["/v1/change-events", "/v1/change-events/db"] {
                let accepted = try await client.postWebhook(
                    deployChangeEvent, uri: uri, authorization: "Bearer \(AuthenticationTests.token)"
                )
                #expect(accepted.status == .accepted)
            }
        }
        #expect(harness.changeEvents.calls.map(\.route) == [nil, "db"])
        #expect(!harness.logs.lines.joined().contains(AuthenticationTests.token))
    }

    @Test("the ingestor's answers: 404 unknown route, 400 with its field, 503 storage unavailable", arguments: [
        (IngestError.unknownRoute("nope"), 404, nil as String?, #"unknown route "nope""#),
        (IngestError.invalidAlert(field: "summary", reason: "must not be empty or blank"), 400, "summary", "blank"),
        (IngestError.storageUnavailable(reason: "database is locked"), 503, nil, "database is locked"),
    ])
    func ingestorFailures(error: IngestError, status: Int, field: String?, reasonContains: String) async throws {
        let harness = ReceiverHarness(changeEvents: RecordingChangeEventIngestor(outcome: .failure(error)))
        try await harness.run { client in
            let response = try await client.postWebhook(deployChangeEvent, uri: "/v1/change-events/nope")
            #expect(Int(response.status.code) == status)
            let body = try response.jsonObject()
            #expect(body["status"] as? String == "error")
            #expect(body["field"] as? String == field)
            #expect((body["error"] as? String)?.contains(reasonContains) == true)
        }
        #expect(harness.changeEvents.calls.count == 1)
    }

    @Test("other methods are 405 with Allow: POST")
    func wrongMethod() async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            for uri in ["/v1/change-events", "/v1/change-events/db"] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
            }
        }
    }
}

@Suite("Refusing bad change events", .timeLimit(.minutes(2)))
struct ChangeEventRejectionTests {
    static let cases: [RejectionCase] = [
        .init(name: "missing summary", body: #"{"source":"ci"}"#, status: 400, field: "summary", reasonContains: "missing"),
        .init(name: "null summary", body: #"{"summary":null}"#, status: 400, field: "summary", reasonContains: "null"),
        .init(name: "blank summary", body: #"{"summary":"  \n "}"#, status: 400, field: "summary", reasonContains: "blank"),
        .init(name: "summary as a number", body: #"{"summary":42}"#, status: 400, field: "summary",
              reasonContains: "expected a string"),
        .init(name: "source as an object", body: #"{"summary":"s","source":{"a":1}}"#, status: 400, field: "source",
              reasonContains: "expected a string"),
        .init(name: "bad timestamp", body: #"{"summary":"s","timestamp":"yesterday at noon"}"#, status: 400,
              field: "timestamp", reasonContains: "RFC 3339"),
        .init(name: "timestamp as a number", body: #"{"summary":"s","timestamp":1767261600}"#, status: 400,
              field: "timestamp", reasonContains: "expected a string"),
        .init(name: "link not http", body: #"{"summary":"s","links":[{"href":"https://ok.example"},{"href":"ftp://x.example/f"}]}"#,
              status: 400, field: "links[1].href", reasonContains: "http"),
        .init(name: "relative link", body: #"{"summary":"s","links":[{"href":"/runs/1"}]}"#, status: 400,
              field: "links[0].href", reasonContains: "absolute"),
        .init(name: "link without href", body: #"{"summary":"s","links":[{"text":"run"}]}"#, status: 400,
              field: "links[0].href", reasonContains: "missing"),
        .init(name: "links not an array", body: #"{"summary":"s","links":"https://x.example"}"#, status: 400,
              field: "links", reasonContains: "expected an array"),
        .init(name: "custom_details not an object", body: #"{"summary":"s","custom_details":"deploy"}"#, status: 400,
              field: "custom_details", reasonContains: "object"),
        .init(name: "custom_details an array", body: #"{"summary":"s","custom_details":[1,2]}"#, status: 400,
              field: "custom_details", reasonContains: "object"),
        .init(name: "malformed JSON", body: #"{"summary": "s""#, status: 400, field: "$", reasonContains: "not valid JSON"),
        .init(name: "empty body", body: "", status: 400, field: "$", reasonContains: "empty"),
        .init(name: "not an object", body: #"["summary"]"#, status: 400, field: "$", reasonContains: "expected an object"),
        .init(name: "text/plain", body: deployChangeEvent, contentType: "text/plain", status: 415, field: nil,
              reasonContains: "text/plain"),
    ]

    @Test("bad input is refused with a JSON error naming the field, and nothing is ingested", arguments: cases)
    func refuses(_ rejection: RejectionCase) async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            let response = try await client.postWebhook(rejection.body, uri: "/v1/change-events", contentType: rejection.contentType)
            #expect(Int(response.status.code) == rejection.status)
            let body = try response.jsonObject()
            #expect(body["status"] as? String == "error")
            #expect(body["field"] as? String == rejection.field)
            let reason = try #require(body["error"] as? String)
            #expect(reason.contains(rejection.reasonContains), "reason was: \(reason)")
        }
        #expect(harness.changeEvents.calls.isEmpty)
        #expect(harness.ingestor.calls.isEmpty)
    }

    @Test("a body over the limit is refused with 413 and not ingested")
    func refusesOversizeBody() async throws {
        var harness = ReceiverHarness()
        harness.configuration.maxBodyBytes = 512
        try await harness.run { client in
            let body = #"{"summary":""# + String(repeating: "x", count: 600) + #""}"#
            let response = try await client.postWebhook(body, uri: "/v1/change-events")
            #expect(response.status == .contentTooLarge)
            #expect((try response.jsonObject()["error"] as? String)?.contains("512 bytes") == true)
        }
        #expect(harness.changeEvents.calls.isEmpty)
    }
}
