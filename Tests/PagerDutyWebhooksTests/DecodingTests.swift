import Foundation
import PagerDutyWebhooks
import PublisherTestSupport
import Testing

@Suite("PagerDuty v3 webhook decoding", .timeLimit(.minutes(2)))
struct DecodingTests {
    private func decode(_ json: String) throws(WebhookPayloadError) -> PagerDutyWebhookEvent {
        try PagerDutyWebhookDecoder.decode(Array(json.utf8))
    }

    /// The reason `json` is refused, or `nil` when it decodes.
    private func refusal(_ json: String) -> String? {
        do {
            _ = try decode(json)
            return nil
        } catch {
            return error.reason
        }
    }

    /// An incident event in PagerDuty's documented shape, written for these tests.
    private func incidentPayload(
        type: String,
        status: String,
        agent: String = #"{"html_url":"https://acme.pagerduty.com/users/PLH1HKV","id":"PLH1HKV","self":"https://api.pagerduty.com/users/PLH1HKV","summary":"Tenex Engineer","type":"user_reference"}"#
    ) -> String {
        """
        {
          "event": {
            "id": "01BZ4XQ6V2ZQ5RYT3HQ3BDEKPS",
            "event_type": "\(type)",
            "resource_type": "incident",
            "occurred_at": "2020-10-02T18:45:22.169Z",
            "agent": \(agent),
            "client": {"name": "PagerDuty"},
            "data": {
              "id": "PGR0VU2",
              "type": "incident",
              "self": "https://api.pagerduty.com/incidents/PGR0VU2",
              "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
              "number": 2,
              "status": "\(status)",
              "incident_key": "d3640fbd41094207a1c11e58e46b1662",
              "created_at": "2020-04-09T15:16:27Z",
              "title": "[FIRING:1] HighLatency api (page)",
              "service": {"html_url": "https://acme.pagerduty.com/services/PF9KMXH", "id": "PF9KMXH", "self": "https://api.pagerduty.com/services/PF9KMXH", "summary": "API Service", "type": "service_reference"},
              "assignees": [{"html_url": "https://acme.pagerduty.com/users/PTUXL6G", "id": "PTUXL6G", "self": "https://api.pagerduty.com/users/PTUXL6G", "summary": "User 123", "type": "user_reference"}],
              "escalation_policy": {"html_url": "https://acme.pagerduty.com/escalation_policies/PUS0KTE", "id": "PUS0KTE", "self": "https://api.pagerduty.com/escalation_policies/PUS0KTE", "summary": "Default", "type": "escalation_policy_reference"},
              "teams": [],
              "priority": null,
              "urgency": "high",
              "conference_bridge": null,
              "resolve_reason": null
            }
          }
        }
        """
    }

    // MARK: Event types

    @Test(arguments: [
        ("incident.triggered", "triggered", PagerDutyEventType.incidentTriggered),
        ("incident.acknowledged", "acknowledged", .incidentAcknowledged),
        ("incident.unacknowledged", "triggered", .incidentUnacknowledged),
        ("incident.resolved", "resolved", .incidentResolved),
        ("incident.reopened", "triggered", .incidentReopened),
    ])
    func eachIncidentEventType(wireName: String, status: String, expected: PagerDutyEventType) throws {
        let event = try decode(incidentPayload(type: wireName, status: status))
        #expect(event == PagerDutyWebhookEvent(
            id: "01BZ4XQ6V2ZQ5RYT3HQ3BDEKPS",
            type: expected,
            occurredAt: Date(timeIntervalSince1970: 1_601_664_322.169),
            agentSummary: "Tenex Engineer",
            incident: IncidentSnapshot(
                id: "PGR0VU2",
                number: 2,
                status: status,
                incidentKey: "d3640fbd41094207a1c11e58e46b1662",
                htmlURL: "https://acme.pagerduty.com/incidents/PGR0VU2",
                title: "[FIRING:1] HighLatency api (page)"
            )
        ))
        #expect(expected.changesIncidentState)
        #expect(expected.rawValue == wireName)
        #expect(expected.metricLabel == wireName)
        #expect(PagerDutyEventType(wireName: wireName) == expected)
    }

    @Test func thePing() throws {
        let json = #"""
            {"event":{"id":"01FKZOXA868SHYEE4DVNWB5P9W","event_type":"pagey.ping","resource_type":"pagey",
            "occurred_at":"2021-11-05T18:35:55.532Z","agent":{"id":"PVE0ZR9","type":"user_reference"},"client":null,
            "data":{"message":"Hello from your friend Pagey!","type":"ping"}}}
            """#
        let event = try decode(json)
        #expect(event.type == .ping)
        #expect(event.id == "01FKZOXA868SHYEE4DVNWB5P9W")
        #expect(event.incident == nil)
        #expect(event.agentSummary == nil, "the ping's agent has no summary")
        #expect(event.type.rawValue == "pagey.ping" && event.type.metricLabel == "pagey.ping")
        #expect(!event.type.changesIncidentState)
    }

    @Test func anUnknownTypeIsOtherWithABoundedLabel() throws {
        let json = #"""
            {"event":{"id":"01BRB6ZP4M6T8ZG4X6BP63ZB9O","event_type":"service.updated","resource_type":"service",
            "occurred_at":"2021-03-02T13:35:11.682Z","agent":null,"client":null,
            "data":{"id":"PF9KMXH","summary":"testing service updates","type":"service","teams":[]}}}
            """#
        let event = try decode(json)
        #expect(event.type == .other("service.updated"))
        #expect(event.type.rawValue == "service.updated")
        #expect(event.type.metricLabel == "other")
        #expect(!event.type.changesIncidentState)
        #expect(event.incident == nil)
        #expect(event.agentSummary == nil)
    }

    @Test func anOtherIncidentEventKeepsAValidIncidentAndIgnoresAnInvalidOne() throws {
        let valid = try decode(incidentPayload(type: "incident.priority_updated", status: "triggered"))
        #expect(valid.type == .other("incident.priority_updated"))
        #expect(valid.incident?.incidentKey == "d3640fbd41094207a1c11e58e46b1662")
        let invalid = try decode(#"""
            {"event":{"id":"E1","event_type":"incident.escalated","data":{"type":"incident","number":"three"}}}
            """#)
        #expect(invalid.type == .other("incident.escalated"))
        #expect(invalid.incident == nil, "an event the publisher does not act on is counted, not failed")
        let note = try decode(#"""
            {"event":{"id":"E2","event_type":"incident.annotated","data":{"type":"incident_note","id":"P2LA89X",
            "content":"I sure am glad we are using PagerDuty!","incident":{"id":"PGR0VU2","type":"incident_reference"}}}}
            """#)
        #expect(note.incident == nil)
    }

    @Test func theWireNamesOfTheKnownTypes() {
        let all: [PagerDutyEventType] = [
            .incidentTriggered, .incidentAcknowledged, .incidentUnacknowledged, .incidentResolved,
            .incidentReopened, .ping,
        ]
        for type in all {
            #expect(PagerDutyEventType(wireName: type.rawValue) == type)
            #expect(type.metricLabel == type.rawValue)
        }
        #expect(Set(all.map(\.metricLabel)).count == all.count)
        #expect(PagerDutyEventType(wireName: "Incident.Triggered") == .other("Incident.Triggered"))
        #expect(PagerDutyEventType(wireName: "incident.triggered") == .incidentTriggered)
    }

    @Test func theTestHelpersBodiesDecode() throws {
        let at = Date(timeIntervalSince1970: 1_800_000_000.25)
        let body = SignedPagerDutyWebhook.incidentEventBody(
            .incidentResolved,
            eventID: "evt-1",
            occurredAt: at,
            agentSummary: "Grace Hopper",
            incident: IncidentSnapshot(id: "PABC123", number: 7, incidentKey: "route-a/abc", title: "Disk full")
        )
        let event = try PagerDutyWebhookDecoder.decode(body)
        #expect(event.id == "evt-1")
        #expect(event.type == .incidentResolved)
        #expect(abs((event.occurredAt ?? .distantPast).timeIntervalSince(at)) < 0.001)
        #expect(event.agentSummary == "Grace Hopper")
        #expect(event.incident == IncidentSnapshot(
            id: "PABC123",
            number: 7,
            status: "resolved",
            incidentKey: "route-a/abc",
            htmlURL: "https://acme.pagerduty.com/incidents/PABC123",
            title: "Disk full"
        ))
        let ping = try PagerDutyWebhookDecoder.decode(SignedPagerDutyWebhook.pingBody(eventID: "ping-1"))
        #expect(ping == PagerDutyWebhookEvent(id: "ping-1", type: .ping, occurredAt: ping.occurredAt))
        #expect(ping.occurredAt != nil)
        let noKey = try PagerDutyWebhookDecoder.decode(SignedPagerDutyWebhook.incidentEventBody(
            .incidentAcknowledged, agentSummary: nil, incident: IncidentSnapshot(id: "PABC123")
        ))
        #expect(noKey.incident?.incidentKey == nil)
        #expect(noKey.incident?.status == "acknowledged")
        #expect(noKey.agentSummary == nil)
    }

    // MARK: Optional fields

    @Test(arguments: [#""incident_key": null,"#, #""incident_key": "","#, ""])
    func anAbsentIncidentKeyIsNil(field: String) throws {
        let event = try decode("""
            {"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident",\(field) "id":"P1"}}}
            """)
        #expect(event.incident == IncidentSnapshot(id: "P1"))
        #expect(event.occurredAt == nil && event.agentSummary == nil)
    }

    @Test(arguments: [
        ("2020-10-02T18:45:22Z", 1_601_664_322.0),
        ("2020-10-02T18:45:22.169Z", 1_601_664_322.169),
        ("2020-10-02T18:45:22.169123456Z", 1_601_664_322.169123456),
        ("2020-10-02T20:45:22+02:00", 1_601_664_322.0),
        ("2020-10-02T18:45:22.5-00:30", 1_601_666_122.5),
    ])
    func occurredAtWithOrWithoutFractionalSeconds(text: String, seconds: Double) throws {
        let event = try decode(#"{"event":{"id":"E1","event_type":"pagey.ping","occurred_at":"\#(text)"}}"#)
        let date = try #require(event.occurredAt)
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_01)
    }

    @Test(arguments: [0, 1, 2, 123_456])
    func incidentNumbersAreIntegersEvenZeroAndOne(number: Int) throws {
        let event = try decode(#"{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident","id":"P1","number":\#(number)}}}"#)
        #expect(event.incident?.number == number)
    }

    @Test func aLongTitleIsCutAtACharacterBoundary() throws {
        let title = String(repeating: "é", count: 600) + "tail"  // 1204 bytes
        let event = try decode(#"{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident","id":"P1","title":"\#(title)"}}}"#)
        let kept = try #require(event.incident?.title)
        #expect(kept == String(repeating: "é", count: 512))
        #expect(kept.utf8.count == PagerDutyWebhookDecoder.maximumTitleBytes)
    }

    @Test func controlCharactersInDisplayTextsBecomeSpaces() throws {
        let event = try decode(#"""
            {"event":{"id":"E1","event_type":"incident.acknowledged","agent":{"summary":"Ada\nLovelace"},
            "data":{"type":"incident","id":"P1","title":"line one\nline two\u0000 👩‍💻"}}}
            """#)
        #expect(event.agentSummary == "Ada Lovelace")
        #expect(event.incident?.title == "line one line two  👩‍💻", "a zero-width joiner is not a control character")
    }

    @Test(arguments: ["ada@example.com", "Ada Lovelace <ada@example.com>"])
    func anAgentSummaryThatLooksLikeAnEmailAddressIsDropped(summary: String) throws {
        let event = try decode(incidentPayload(
            type: "incident.acknowledged",
            status: "acknowledged",
            agent: #"{"id":"PLH1HKV","type":"user_reference","summary":"\#(summary)","email":"ada@example.com"}"#
        ))
        #expect(event.agentSummary == nil)
        #expect(event.incident?.id == "PGR0VU2")
    }

    @Test func aLongAgentSummaryIsCut() throws {
        let summary = String(repeating: "a", count: 300)
        let event = try decode(#"{"event":{"id":"E1","event_type":"pagey.ping","agent":{"summary":"\#(summary)"}}}"#)
        #expect(event.agentSummary == String(repeating: "a", count: 255))
    }

    // MARK: Refusals: the field is named, its value never quoted

    @Test(arguments: [
        ("not json SENTINEL", "the body is not JSON"),
        ("", "the body is not JSON"),
        (#"["SENTINEL"]"#, "the body is not a JSON object"),
        (#"{"events":[]}"#, "event is missing"),
        (#"{"event":null}"#, "event is missing"),
        (#"{"event":"SENTINEL"}"#, "event is not an object"),
        (#"{"event":{"event_type":"incident.triggered"}}"#, "event.id is missing"),
        (#"{"event":{"id":"","event_type":"incident.triggered"}}"#, "event.id is empty"),
        (#"{"event":{"id":12345,"event_type":"incident.triggered"}}"#, "event.id is not a string"),
        (#"{"event":{"id":"SENTINEL\u0000","event_type":"pagey.ping"}}"#, "event.id holds a control character"),
        (#"{"event":{"id":"E1"}}"#, "event.event_type is missing"),
        (#"{"event":{"id":"E1","event_type":""}}"#, "event.event_type is empty"),
        (#"{"event":{"id":"E1","event_type":["SENTINEL"]}}"#, "event.event_type is not a string"),
        (#"{"event":{"id":"E1","event_type":"incident.triggered"}}"#, "event.data is missing"),
        (#"{"event":{"id":"E1","event_type":"incident.resolved","data":[]}}"#, "event.data is not an object"),
        (#"{"event":{"id":"E1","event_type":"incident.acknowledged","data":{"id":"P1"}}}"#, "event.data.type is missing"),
        (#"{"event":{"id":"E1","event_type":"incident.acknowledged","data":{"id":"P1","type":"incident_note"}}}"#, "event.data.type is not incident"),
        (#"{"event":{"id":"E1","event_type":"incident.reopened","data":{"type":"incident"}}}"#, "event.data.id is missing"),
        (#"{"event":{"id":"E1","event_type":"incident.reopened","data":{"type":"incident","id":7}}}"#, "event.data.id is not a string"),
        (#"{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident","id":"P1","incident_key":42}}}"#, "event.data.incident_key is not a string"),
        (#"{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident","id":"P1","incident_key":"SENTINEL\u0007"}}}"#, "event.data.incident_key holds a control character"),
        (#"{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident","id":"P1","number":"2"}}}"#, "event.data.number is not an integer"),
        (#"{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident","id":"P1","number":2.5}}}"#, "event.data.number is not an integer"),
        (#"{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident","id":"P1","status":true}}}"#, "event.data.status is not a string"),
        (#"{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident","id":"P1","title":{}}}}"#, "event.data.title is not a string"),
        (#"{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident","id":"P1","html_url":["SENTINEL"]}}}"#, "event.data.html_url is not a string"),
        (#"{"event":{"id":"E1","event_type":"pagey.ping","occurred_at":"SENTINEL"}}"#, "event.occurred_at is not an RFC 3339 time"),
        (#"{"event":{"id":"E1","event_type":"pagey.ping","occurred_at":""}}"#, "event.occurred_at is not an RFC 3339 time"),
        (#"{"event":{"id":"E1","event_type":"pagey.ping","occurred_at":"2020-13-02T18:45:22Z"}}"#, "event.occurred_at is not an RFC 3339 time"),
        (#"{"event":{"id":"E1","event_type":"pagey.ping","occurred_at":1601664322}}"#, "event.occurred_at is not a string"),
        (#"{"event":{"id":"E1","event_type":"pagey.ping","agent":"SENTINEL"}}"#, "event.agent is not an object"),
        (#"{"event":{"id":"E1","event_type":"pagey.ping","agent":{"summary":5}}}"#, "event.agent.summary is not a string"),
    ])
    func aMissingOrInvalidFieldIsNamed(json: String, reason: String) {
        let refused = refusal(json)
        #expect(refused == reason)
        #expect(refused?.contains("SENTINEL") != true)
    }

    @Test func identifiersLongerThanTheirLimitAreRefused() {
        let long = String(repeating: "x", count: 256)
        let limit = String(repeating: "x", count: 255)
        #expect(refusal(#"{"event":{"id":"\#(long)","event_type":"pagey.ping"}}"#) == "event.id is longer than 255 bytes")
        #expect(refusal(#"{"event":{"id":"\#(limit)","event_type":"pagey.ping"}}"#) == nil)
        #expect(refusal(#"{"event":{"id":"E1","event_type":"\#(long)"}}"#) == "event.event_type is longer than 255 bytes")
        let incident = #"{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident","id":"P1",%@}}}"#
        func withField(_ field: String) -> String { incident.replacingOccurrences(of: "%@", with: field) }
        #expect(refusal(withField(#""incident_key":"\#(long)""#)) == "event.data.incident_key is longer than 255 bytes")
        #expect(refusal(withField(#""incident_key":"\#(limit)""#)) == nil)
        #expect(refusal(withField(#""status":"\#(String(repeating: "s", count: 65))""#)) == "event.data.status is longer than 64 bytes")
        #expect(refusal(withField(#""html_url":"https://\#(String(repeating: "h", count: 2048))""#)) == "event.data.html_url is longer than 2048 bytes")
        #expect(refusal(#"{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident","id":"\#(long)"}}}"#) == "event.data.id is longer than 255 bytes")
    }

    @Test func unknownFieldsAnywhereAreIgnored() throws {
        let event = try decode(#"""
            {"version":"v3","extra":[1,2,{"a":null}],"event":{"id":"E1","event_type":"incident.acknowledged",
            "new_field":{"deep":[[[true]]]},"agent":{"summary":"Ada","type":"user_reference","email":"ada@example.com"},
            "data":{"type":"incident","id":"P1","incident_key":"k","something_new":12.5,"number":3}}}
            """#)
        #expect(event == PagerDutyWebhookEvent(
            id: "E1",
            type: .incidentAcknowledged,
            agentSummary: "Ada",
            incident: IncidentSnapshot(id: "P1", number: 3, incidentKey: "k")
        ))
    }
}
