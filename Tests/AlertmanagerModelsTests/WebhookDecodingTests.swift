import AlertmanagerModels
import Foundation
import PublisherTestSupport
import Testing

@Suite("Webhook v4 decoding", .timeLimit(.minutes(2)))
struct WebhookDecodingTests {
    func decode(_ fixture: String) throws -> WebhookMessage {
        try JSONDecoder().decode(WebhookMessage.self, from: Fixtures.data(fixture))
    }

    @Test func decodesARealFiringWebhook() throws {
        let message = try decode("webhook-firing.json")
        #expect(message.version == "4")
        #expect(message.status == .firing)
        #expect(message.receiver == "hook")
        #expect(message.groupKey == #"{}:{alertname="DiskFull"}"#)
        #expect(message.truncatedAlerts == 0)
        #expect(message.externalURL == "http://vm:19093")
        #expect(message.alerts.count == 2)
        let first = try #require(message.alerts.first)
        #expect(first.status == .firing)
        #expect(first.fingerprint == "08a60fe3af9b2c97")
        #expect(first.labels["team"] == "stôrage-团队", "unicode labels survive")
        #expect(first.annotations["summary"] == "Disk almost full on db-1")
        #expect(first.endsAt == nil, "Go's zero time means no end")
        let startsAt = try #require(first.startsAt)
        #expect(abs(startsAt.timeIntervalSince1970 - 1_795_441_936.045222063) < 0.000_01, "nanosecond timestamps parse")
    }

    @Test func decodesMixedAndResolvedWebhooks() throws {
        let mixed = try decode("webhook-mixed.json")
        #expect(mixed.alerts.map(\.status) == [.firing, .resolved])
        #expect(mixed.alerts[1].endsAt == RFC3339.parse("2026-11-23T13:52:16Z"))
        let resolved = try decode("webhook-resolved.json")
        #expect(resolved.status == .resolved)
        #expect(resolved.alerts.allSatisfy { $0.status == .resolved })
        #expect(resolved.alerts[0].endsAt == RFC3339.parse("2026-11-23T12:55:01.5Z"), "offsets are honoured")
    }

    @Test func toleratesUnknownFieldsAndReportsTruncation() throws {
        let message = try decode("webhook-truncated-extra-fields.json")
        #expect(message.truncatedAlerts == 3)
        #expect(message.alerts.count == 2)
    }

    @Test func missingFingerprintsAreNil() throws {
        let message = try decode("webhook-missing-fingerprint.json")
        #expect(message.alerts.map(\.fingerprint) == [nil, nil], "absent and empty fingerprints both mean none")
        #expect(message.alerts[0].annotations.isEmpty)
        #expect(message.alerts[0].startsAt == nil)
        #expect(message.groupLabels.isEmpty && message.commonLabels.isEmpty)
    }

    @Test func theLabelFingerprintMatchesAlertmanagers() throws {
        let message = try decode("webhook-mixed.json")
        for alert in message.alerts {
            #expect(LabelSetFingerprint.of(alert.labels) == alert.fingerprint)
        }
        #expect(LabelSetFingerprint.of([:]) == "cbf29ce484222325", "the empty set hashes to FNV-1a's offset basis")
    }

    @Test func rejectsBodiesWithoutAlertsOrWithBadValues() {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(WebhookMessage.self, from: Data(#"{"version":"4"}"#.utf8)) }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(WebhookMessage.self, from: Data(#"{"alerts":[{"status":"burning","labels":{}}]}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(WebhookMessage.self, from: Data(#"{"alerts":[{"status":"firing","labels":{"a":1}}]}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(WebhookMessage.self, from: Data(#"{"alerts":[{"status":"firing","startsAt":"yesterday"}]}"#.utf8))
        }
    }
}

@Suite("RFC 3339 times", .timeLimit(.minutes(2)))
struct RFC3339Tests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", 0.0),
        ("2026-11-23T13:52:16Z", 1_795_441_936.0),
        ("2026-11-23T14:52:16+01:00", 1_795_441_936.0),
        ("2026-11-23T13:52:16.25Z", 1_795_441_936.25),
        ("2000-02-29T00:00:00-00:30", 951_784_200.0),
    ])
    func parses(text: String, seconds: Double) throws {
        let date = try #require(RFC3339.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    @Test(arguments: ["", "2026-11-23", "2026-13-01T00:00:00Z", "2026-11-23T13:52:16", "2026-11-23T13:52:16.Z", "x2026-11-23T13:52:16Z"])
    func refusesNonTimes(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func formatsRoundTrip() throws {
        let date = Date(timeIntervalSince1970: 1_795_441_936.123)
        #expect(RFC3339.format(date) == "2026-11-23T13:52:16.123Z")
        let reparsed = try #require(RFC3339.parse(RFC3339.format(date)))
        #expect(abs(reparsed.timeIntervalSince(date)) < 0.000_001)
        #expect(RFC3339.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59.000Z")
    }

    @Test func goZeroTimeIsRecognised() {
        #expect(RFC3339.parse("0001-01-01T00:00:00Z") == RFC3339.goZeroTime)
    }
}
