import AlertmanagerModels
import Foundation
import PagerDutyEvents
import PublisherCore
import Testing

@Suite("Per-route mapping overrides", .timeLimit(.minutes(2)))
struct MappingOverridesTests {
    let alert = Alert(
        status: .firing,
        labels: ["alertname": "DiskFull", "host": "db-7", "instance": "10.0.0.7:9100", "svc": "postgres", "token_label": "hide-me"],
        annotations: ["summary": "default summary", "logs_url": "https://logs.example/db-7", "runbook_url": "https://runbooks.example/disk"],
        fingerprint: "00000000000000aa"
    )

    func map(_ mapper: EventMapper) -> AlertEvent {
        mapper.event(for: alert, action: .trigger, in: WebhookMessage(alerts: [alert]), dedupKey: "00000000000000aa")
    }

    @Test func aSummaryTemplateFillsInLabelsAnnotationsAndStatus() throws {
        let template = try SummaryTemplate("[{{ status }}] {{labels.alertname}} on {{ labels.host }}{{ labels.missing }}: {{ annotations.summary }}")
        #expect(template.render(alert) == "[firing] DiskFull on db-7: default summary")
        #expect(map(EventMapper(summaryTemplate: template)).payload?.summary == "[firing] DiskFull on db-7: default summary")
    }

    @Test(arguments: ["{{ labels.a", "{{ nope }}", "{{ labels. }}"])
    func malformedTemplatesAreRefused(text: String) {
        #expect(throws: SummaryTemplate.ParseError.self) { try SummaryTemplate(text) }
    }

    @Test func fieldLabelsChooseSourceAndComponent() {
        var fields = EventMapper.FieldLabels()
        fields.source = ["host", "instance"]
        fields.component = ["svc"]
        let payload = map(EventMapper(fieldLabels: fields)).payload
        #expect(payload?.source == "db-7")
        #expect(payload?.component == "postgres")
        #expect(map(EventMapper()).payload?.source == "10.0.0.7:9100", "the default prefers instance")
    }

    @Test func detailsFilterDropsLabels() {
        let event = map(EventMapper(detailsFilter: EventMapper.DetailsFilter(exclude: ["token_label"])))
        guard case .object(let details)? = event.payload?.customDetails, case .object(let labels)? = details["labels"] else {
            Issue.record("no labels in custom_details")
            return
        }
        #expect(labels["token_label"] == nil)
        #expect(labels["host"] == .string("db-7"))
        let included = map(EventMapper(detailsFilter: EventMapper.DetailsFilter(include: ["alertname"])))
        guard case .object(let only)? = included.payload?.customDetails, case .object(let onlyLabels)? = only["labels"] else { return }
        #expect(Array(onlyLabels.keys) == ["alertname"])
    }

    @Test func linksComeFromTheNamedAnnotations() {
        let event = map(EventMapper(linkAnnotations: [EventMapper.LinkAnnotation(annotation: "logs_url", text: "Logs")]))
        #expect(event.links == [Link(href: "https://logs.example/db-7", text: "Logs")])
    }
}
