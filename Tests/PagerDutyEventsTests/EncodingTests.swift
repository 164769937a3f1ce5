import Foundation
import PagerDutyEvents
import Testing

@Suite("Event encoding", .timeLimit(.minutes(2)))
struct EncodingTests {
    @Test func alertEventUsesPagerDutyFieldNames() throws {
        let json = try decodeJSON(EventEncoding.encode(sampleTrigger()))
        #expect(json["routing_key"] == .string(testRoutingKey))
        #expect(json["event_action"] == "trigger")
        #expect(json["dedup_key"] == "alert-fingerprint-1")
        #expect(json["client_url"] == "https://alertmanager.example.com/#/alerts")
        #expect(json["payload"]?["custom_details"]?["job"] == "node")
        #expect(json["payload"]?["severity"] == "critical")
        #expect(json["payload"]?["class"] == "capacity")
        #expect(json["routingKey"] == nil)
        #expect(json["payload"]?["customDetails"] == nil)
    }

    @Test func outputHasSortedKeysAndUnescapedSlashes() throws {
        let text = String(decoding: try EventEncoding.encode(sampleTrigger()), as: UTF8.self)
        #expect(text.contains(#""client_url":"https://alertmanager.example.com/#/alerts""#))
        #expect(!text.contains(#"\/"#))
        let order = ["\"client\"", "\"client_url\"", "\"dedup_key\"", "\"event_action\"", "\"images\"", "\"links\"", "\"payload\"", "\"routing_key\""]
        let positions = try order.map { key in try #require(text.range(of: key)).lowerBound }
        #expect(positions == positions.sorted())
    }

    @Test func eventsRoundTrip() throws {
        let alert = sampleTrigger()
        #expect(try JSONDecoder().decode(AlertEvent.self, from: Data(EventEncoding.encode(alert))) == alert)
        let change = sampleChange()
        #expect(try JSONDecoder().decode(ChangeEvent.self, from: Data(EventEncoding.encode(change))) == change)
    }

    @Test func absentOptionalFieldsAreOmitted() throws {
        let resolve = AlertEvent(routingKey: testRoutingKey, eventAction: .resolve, dedupKey: "k")
        let json = try decodeJSON(EventEncoding.encode(resolve))
        guard case .object(let members) = json else {
            Issue.record("not an object")
            return
        }
        #expect(Set(members.keys) == ["routing_key", "event_action", "dedup_key"])
    }
}
