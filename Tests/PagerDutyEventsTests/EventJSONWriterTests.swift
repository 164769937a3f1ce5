import Foundation
import Testing
@testable import PagerDutyEvents

@Suite("The events' JSON writer", .timeLimit(.minutes(2)))
struct EventJSONWriterTests {
    /// Foundation's encoder with the same rules, as the reference.
    static func reference<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    static let awkwardText = "quote \" backslash \\ slash / tab \t newline \n cr \r bell \u{07} nul \u{00} del \u{7F} é 日本 🚨"

    static let details: JSONValue = [
        "labels": ["alertname": "DiskFull", "instance": "db-1:9100", "zone": "eu/west"],
        "text": .string(awkwardText),
        "numbers": .array([.number(3), .number(0.1), .number(-2.5), .number(1e20), .number(1e-7), .number(0)]),
        "flags": .array([.bool(true), .bool(false), .null]),
        "empty_object": .object([:]),
        "empty_array": .array([]),
    ]

    static let alertEvents: [AlertEvent] = [
        AlertEvent(
            routingKey: "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey12", eventAction: .trigger, dedupKey: "0123456789abcdef",
            payload: AlertPayload(
                summary: awkwardText, source: "db-1", severity: .critical, timestamp: "2026-11-23T16:00:00.123Z",
                component: "postgres", group: "prod", class: "DiskFull", customDetails: details),
            client: "Alertmanager", clientURL: "https://alertmanager.example.com/#/alerts?x=1&y=2",
            links: [Link(href: "https://runbooks.example.com/disk", text: "Runbook"), Link(href: "https://x.example.com")],
            images: [Image(src: "https://img.example.com/a.png", href: "https://grafana.example.com", alt: "graph")]),
        AlertEvent(routingKey: "", eventAction: .resolve, dedupKey: "k"),
        AlertEvent(
            routingKey: "", eventAction: .acknowledge, dedupKey: "k",
            payload: AlertPayload(summary: "s", source: "src", severity: .info)),
    ]

    @Test("alert events: the same bytes as Foundation's encoder, and they decode to the same event", arguments: alertEvents)
    func alertEventsMatchTheReference(event: AlertEvent) throws {
        let written = try EventJSONWriter.encode(event)
        #expect(written == (try Self.reference(event)), "\(String(decoding: written, as: UTF8.self))")
        #expect(try JSONDecoder().decode(AlertEvent.self, from: Data(written)) == event)
    }

    @Test("change events: the same bytes as Foundation's encoder, and they decode to the same event")
    func changeEventsMatchTheReference() throws {
        let events = [
            ChangeEvent(
                routingKey: "key", payload: ChangeEventPayload(
                    summary: Self.awkwardText, source: "ci/cd", timestamp: "2026-11-23T16:00:00Z", customDetails: Self.details),
                links: [Link(href: "https://ci.example.com/build/1", text: "Build")],
                images: [Image(src: "https://img.example.com/b.png")]),
            ChangeEvent(routingKey: "", payload: ChangeEventPayload(summary: "Deployed v2")),
        ]
        for event in events {
            let written = try EventJSONWriter.encode(event)
            #expect(written == (try Self.reference(event)), "\(String(decoding: written, as: UTF8.self))")
            #expect(try JSONDecoder().decode(ChangeEvent.self, from: Data(written)) == event)
        }
    }

    @Test("a non-finite number in custom_details is refused, as by Foundation's encoder")
    func nonFiniteNumbersAreRefused() {
        let event = AlertEvent(
            routingKey: "", eventAction: .trigger, dedupKey: "k",
            payload: AlertPayload(summary: "s", source: "s", severity: .info, customDetails: ["x": .number(.nan)]))
        #expect(throws: EventJSONWriter.NonFiniteNumber.self) { try EventJSONWriter.encode(event) }
        #expect(throws: (any Error).self) { try Self.reference(event) }
        #expect(throws: (any Error).self) { try EventEncoding.encode(event) }
    }
}
