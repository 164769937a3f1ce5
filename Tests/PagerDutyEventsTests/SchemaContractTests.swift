import PagerDutyEvents
import PublisherTestSupport
import Testing

/// What the client puts on the wire must satisfy PagerDuty's official OpenAPI request schemas.
@Suite("Contract with PagerDuty's OpenAPI schema")
struct SchemaContractTests {
    private func sentBody(_ event: AlertEvent) async throws -> [UInt8] {
        let transport = ScriptedTransport(status: 202, body: #"{"status":"success"}"#)
        let client = try EventsAPIClient(baseURL: "https://events.pagerduty.com", transport: transport)
        _ = await client.send(event)
        return try #require(transport.calls.first).body
    }

    @Test(arguments: EventAction.allCases)
    func alertEventsBuiltByTheClientAreValid(action: EventAction) async throws {
        var event = sampleTrigger()
        event.eventAction = action
        let validator = try EventSchemaValidator.official()
        let violations = validator.validate(try await sentBody(event), for: .enqueue)
        #expect(violations == [])
    }

    @Test func aMinimalResolveIsValid() async throws {
        let event = AlertEvent(routingKey: testRoutingKey, eventAction: .resolve, dedupKey: "alert-fingerprint-1")
        let validator = try EventSchemaValidator.official()
        #expect(validator.validate(try await sentBody(event), for: .enqueue) == [])
    }

    @Test func changeEventsBuiltByTheClientAreValid() async throws {
        let transport = ScriptedTransport(status: 202, body: #"{"status":"success"}"#)
        let client = try EventsAPIClient(baseURL: "https://events.pagerduty.com", transport: transport)
        _ = await client.send(sampleChange())
        let body = try #require(transport.calls.first).body
        let validator = try EventSchemaValidator.official()
        #expect(validator.validate(body, for: .change) == [])
    }

    @Test func anInvalidEventYieldsViolations() throws {
        let validator = try EventSchemaValidator.official()
        let invalid: JSONValue = [
            "routing_key": .number(42),
            "event_action": "explode",
            "client_url": "not a url",
            "payload": [
                "source": "host-1",
                "severity": "fatal",
                "timestamp": "yesterday",
            ],
            "images": .array([["alt": "no source"]]),
        ]
        let violations = validator.validate(invalid, for: .enqueue)
        let expectedLocations = [
            "$.routing_key", "$.event_action", "$.client_url", "$.payload.severity", "$.payload.timestamp",
            "$.payload: required property \"summary\"", "$.images[0]: required property \"src\"",
        ]
        for location in expectedLocations {
            #expect(violations.contains { $0.hasPrefix(location) }, "no violation at \(location) in \(violations)")
        }
        #expect(validator.validate([UInt8]("not json".utf8), for: .change).count == 1)
        #expect(validator.validate(["payload": ["summary": "x"]], for: .change) == ["$: required property \"routing_key\" is missing"])
    }
}
