import AlertmanagerModels
import Foundation
import PagerDutyEvents
import PublisherCore
import PublisherTestSupport
import Testing

/// Every event the mapper makes from real Alertmanager webhooks, once the dispatcher has added the routing key,
/// satisfies the ``EventContract``: the project's Events API v2 schema, and PagerDuty's official OpenAPI file when
/// `PAGERDUTY_EVENTS_OPENAPI` names it.
@Suite("Mapped events against the event contract", .timeLimit(.minutes(2)))
struct MappedEventContractTests {
    @Test(arguments: [
        "webhook-firing.json", "webhook-mixed.json", "webhook-resolved.json",
        "webhook-truncated-extra-fields.json", "webhook-missing-fingerprint.json",
    ])
    func everyActionOfEveryFixtureAlertValidates(fixture: String) throws {
        let contract = try EventContract.current()
        let message = try JSONDecoder().decode(WebhookMessage.self, from: Fixtures.data(fixture))
        let mapper = EventMapper()
        for alert in message.alerts {
            for action in EventAction.allCases {
                var event = mapper.event(for: alert, action: action, in: message, dedupKey: try DedupKey.of(alert))
                event.routingKey = String(repeating: "0", count: 32)
                let violations = contract.validate(try EventEncoding.encode(event), for: .enqueue)
                #expect(violations.isEmpty, "\(fixture) \(action): \(violations)")
            }
        }
    }

    @Test func aHugeAlertStillValidatesAndFits() throws {
        let contract = try EventContract.current()
        let labels = Dictionary(uniqueKeysWithValues: (0..<2000).map { ("label_\($0)", String(repeating: "v", count: 400)) })
        let alert = Alert(status: .firing, labels: labels.merging(["alertname": "Huge"]) { $1 }, annotations: ["summary": String(repeating: "s", count: 5000)])
        var event = EventMapper().event(for: alert, action: .trigger, in: WebhookMessage(alerts: [alert]), dedupKey: try DedupKey.of(alert))
        event.routingKey = String(repeating: "0", count: 32)
        let body = try EventEncoding.encode(event)
        #expect(body.count <= EventLimits.eventMaxBytes)
        #expect(contract.validate(body, for: .enqueue).isEmpty)
    }
}
