import AlertmanagerModels
import Foundation
import PublisherTestSupport
import Testing

@Suite("Alertmanager API v2 alert decoding", .timeLimit(.minutes(2)))
struct APIAlertDecodingTests {
    private func decodeFixture() throws -> [String: APIAlert] {
        let alerts = try JSONDecoder().decode([APIAlert].self, from: Fixtures.alertmanagerAPI("alerts-0.25.json"))
        #expect(alerts.count == 4)
        return Dictionary(uniqueKeysWithValues: alerts.map { ($0.labels["alertname"] ?? "", $0) })
    }

    private func decode(_ json: String) throws -> [APIAlert] {
        try JSONDecoder().decode([APIAlert].self, from: Data(json.utf8))
    }

    @Test func anActiveAlertFromARealAlertmanager() throws {
        let alert = try #require(try decodeFixture()["DiskFull"])
        #expect(alert.fingerprint == "9f4b6af0aa2e1b53")
        #expect(alert.labels == ["alertname": "DiskFull", "instance": "db-1:9100", "severity": "critical", "team": "database"])
        #expect(alert.annotations == ["summary": "Disk almost full on db-1", "description": "/var is 97% full"])
        #expect(alert.generatorURL == "http://prometheus:9090/graph?g0.expr=disk_free%3C0.03")
        #expect(alert.receivers == ["database-oncall", "pagerduty-publisher"], "receiver objects become their names")
        #expect(alert.status == APIAlertStatus(state: .active))
        #expect(!alert.status.isSilenced && !alert.status.isInhibited)
        #expect(alert.startsAt == RFC3339.parse("2026-11-23T16:16:54.704Z"))
        #expect(alert.updatedAt == RFC3339.parse("2026-11-23T16:16:54.704Z"))
        #expect(alert.endsAt == RFC3339.parse("2026-11-23T16:21:54.704Z"))
    }

    @Test func theSilencedAlertNamesItsSilence() throws {
        let alert = try #require(try decodeFixture()["NoisyCronJob"])
        #expect(alert.status.state == .suppressed)
        #expect(alert.status.silencedBy == ["901f9b91-15ba-42f3-8653-136af2c00be2"])
        #expect(alert.status.isSilenced)
        #expect(!alert.status.isInhibited)
        #expect(alert.generatorURL == nil)
    }

    @Test func theInhibitedAlertNamesTheAlertInhibitingIt() throws {
        let alerts = try decodeFixture()
        let inhibited = try #require(alerts["DiskFilling"])
        #expect(inhibited.status.state == .suppressed)
        #expect(inhibited.status.inhibitedBy == [alerts["DiskFull"]?.fingerprint].compactMap { $0 })
        #expect(inhibited.status.isInhibited)
        #expect(!inhibited.status.isSilenced)
    }

    @Test func emptyAnnotationsUnicodeValuesAndTimeOffsets() throws {
        let alert = try #require(try decodeFixture()["HighLatency"])
        #expect(alert.annotations.isEmpty)
        #expect(alert.labels["team"] == "paiement-团队")
        let startsAt = try #require(alert.startsAt)
        #expect(abs(startsAt.timeIntervalSince1970 - (RFC3339.parse("2026-11-23T15:10:00.123Z")!.timeIntervalSince1970)) < 0.000_5)
    }

    @Test func fingerprintsMatchTheLabelSets() throws {
        for alert in try decodeFixture().values {
            #expect(LabelSetFingerprint.of(alert.labels) == alert.fingerprint)
        }
    }

    @Test func missingOptionalPartsAreEmptyAndUnknownFieldsAreIgnored() throws {
        let alerts = try decode(#"""
            [{"fingerprint":"0123456789abcdef","labels":{"alertname":"A"},"status":{"state":"active","silencedBy":null},
              "startsAt":"0001-01-01T00:00:00Z","endsAt":"","extra":{"nested":[1,2]}}]
            """#)
        let alert = try #require(alerts.first)
        #expect(alert.annotations == [:])
        #expect(alert.receivers == [])
        #expect(alert.status.silencedBy == [])
        #expect(alert.status.inhibitedBy == [])
        #expect(alert.startsAt == nil, "Go's zero time means none")
        #expect(alert.endsAt == nil)
        #expect(alert.updatedAt == nil)
    }

    @Test(arguments: [("active", APIAlertStatus.State.active), ("suppressed", .suppressed), ("unprocessed", .unprocessed),
                      ("something-new", .unprocessed)])
    func statesDecodeAndUnknownOnesAreUnprocessed(text: String, expected: APIAlertStatus.State) throws {
        let alerts = try decode(#"[{"fingerprint":"f","labels":{},"status":{"state":"\#(text)"}}]"#)
        #expect(alerts.first?.status.state == expected)
    }

    @Test func aMissingFingerprintIsAnError() throws {
        #expect(throws: DecodingError.self) {
            _ = try decode(#"[{"labels":{},"status":{"state":"active"}}]"#)
        }
    }

    @Test func anUnparsableTimeIsAnError() throws {
        #expect(throws: DecodingError.self) {
            _ = try decode(#"[{"fingerprint":"f","status":{"state":"active"},"endsAt":"yesterday"}]"#)
        }
    }

    @Test func hasEndedComparesTheEndTimeWithNow() {
        let end = Date(timeIntervalSince1970: 1_800_000_000)
        let alert = APIAlert(fingerprint: "f", labels: [:], endsAt: end)
        #expect(!alert.hasEnded(at: end.addingTimeInterval(-0.001)))
        #expect(alert.hasEnded(at: end), "an end time equal to now has ended")
        #expect(alert.hasEnded(at: end.addingTimeInterval(60)))
        #expect(!APIAlert(fingerprint: "f", labels: [:], endsAt: nil).hasEnded(at: end), "no end time never ends")
    }
}
