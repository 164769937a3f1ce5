import AlertmanagerModels
import Foundation
import PagerDutyEvents
import PublisherCore
import Testing

@Suite("Alert to event mapping", .timeLimit(.minutes(2)))
struct EventMapperTests {
    let mapper = EventMapper()
    let startsAt = Date(timeIntervalSince1970: 1_700_000_000.5)

    func message(_ alerts: [Alert]) -> WebhookMessage {
        WebhookMessage(receiver: "pagerduty", externalURL: "http://alertmanager.example:9093", alerts: alerts)
    }

    func alert(labels: [String: String], annotations: [String: String] = [:], generatorURL: String? = nil) -> Alert {
        Alert(status: .firing, labels: labels, annotations: annotations, startsAt: startsAt, generatorURL: generatorURL, fingerprint: "0123456789abcdef")
    }

    func map(_ alert: Alert, _ action: EventAction = .trigger) -> AlertEvent {
        mapper.event(for: alert, action: action, in: message([alert]), dedupKey: "0123456789abcdef")
    }

    @Test func summaryPrefersTheSummaryAnnotationThenDescriptionThenLabels() {
        let labels = ["alertname": "HighLatency", "instance": "web-1:9100", "job": "api", "severity": "page"]
        #expect(map(alert(labels: labels, annotations: ["summary": "p99 over 2s", "description": "long"])).payload?.summary == "p99 over 2s")
        #expect(map(alert(labels: labels, annotations: ["summary": "  ", "description": "long text"])).payload?.summary == "long text")
        #expect(map(alert(labels: labels)).payload?.summary == "HighLatency (instance=web-1:9100, job=api)")
        #expect(map(alert(labels: ["alertname": "Solo"])).payload?.summary == "Solo")
    }

    @Test func summaryIsCutTo1024Characters() {
        let long = String(repeating: "é", count: 2000)
        let summary = map(alert(labels: ["alertname": "X"], annotations: ["summary": long])).payload?.summary ?? ""
        #expect(summary.unicodeScalars.count <= EventLimits.summaryMaxCharacters)
        #expect(summary.unicodeScalars.count > 1000)
        #expect(summary.hasPrefix("éééé"))
    }

    @Test func fieldsComeFromLabels() throws {
        let event = map(alert(
            labels: ["alertname": "DiskFull", "instance": "db-1", "severity": "warning", "service": "postgres", "namespace": "prod"],
            annotations: ["runbook_url": "https://runbooks.example/disk", "dashboard_url": "https://grafana.example/d/1", "image_url": "http://insecure.example/x.png"],
            generatorURL: "http://prometheus.example/graph?g0.expr=up"
        ))
        let payload = try #require(event.payload)
        #expect(event.eventAction == .trigger)
        #expect(event.dedupKey == "0123456789abcdef")
        #expect(event.routingKey == "", "the routing key is added at dispatch, never stored")
        #expect(payload.severity == .warning)
        #expect(payload.source == "db-1")
        #expect(payload.component == "postgres")
        #expect(payload.group == "prod")
        #expect(payload.class == "DiskFull")
        #expect(payload.timestamp == "2023-11-14T22:13:20.500Z")
        #expect(event.client == "Alertmanager")
        #expect(event.clientURL == "http://alertmanager.example:9093")
        #expect(event.links == [
            Link(href: "http://prometheus.example/graph?g0.expr=up", text: "Source"),
            Link(href: "https://runbooks.example/disk", text: "Runbook"),
            Link(href: "https://grafana.example/d/1", text: "Dashboard"),
        ])
        #expect(event.images == nil, "an http image is never sent")
    }

    @Test func httpsImagesAreKept() {
        let event = map(alert(labels: ["alertname": "A"], annotations: ["image_url": "https://charts.example/a.png"]))
        #expect(event.images == [Image(src: "https://charts.example/a.png", alt: "A")])
    }

    @Test func customDetailsCarryLabelsAnnotationsAndTimes() throws {
        let event = map(alert(labels: ["alertname": "A", "team": "sre"], annotations: ["summary": "s"], generatorURL: "http://p/g"))
        guard case .object(let details)? = event.payload?.customDetails else {
            Issue.record("custom_details is not an object")
            return
        }
        #expect(details["labels"] == .object(["alertname": "A", "team": "sre"]))
        #expect(details["annotations"] == .object(["summary": "s"]))
        #expect(details["startsAt"] == .string("2023-11-14T22:13:20.500Z"))
        #expect(details["generatorURL"] == .string("http://p/g"))
        #expect(details["fingerprint"] == .string("0123456789abcdef"))
        #expect(details["status"] == .string("firing"))
    }

    @Test func sourceFallsBackToJobThenGeneratorHost() {
        #expect(map(alert(labels: ["alertname": "A", "job": "node"])).payload?.source == "node")
        #expect(map(alert(labels: ["alertname": "A"], generatorURL: "http://prom-7:9090/graph")).payload?.source == "prom-7")
        #expect(map(alert(labels: ["alertname": "A"])).payload?.source == "alertmanager")
    }

    @Test func resolveEventsKeepAPayloadButNoClient() {
        let event = map(alert(labels: ["alertname": "A"]), .resolve)
        #expect(event.eventAction == .resolve)
        #expect(event.payload != nil)
        #expect(event.client == nil && event.clientURL == nil)
    }

    @Test func dedupKeyIsTheFingerprintElseTheLabelFingerprint() throws {
        let withFingerprint = Alert(status: .firing, labels: ["a": "b"], fingerprint: "feedface00000000")
        #expect(try DedupKey.of(withFingerprint) == "feedface00000000")
        let without = Alert(status: .firing, labels: ["alertname": "A", "job": "x"])
        let reordered = Alert(status: .resolved, labels: ["job": "x", "alertname": "A"])
        #expect(try DedupKey.of(without) == LabelSetFingerprint.of(["alertname": "A", "job": "x"]))
        #expect(try DedupKey.of(without) == DedupKey.of(reordered))
        #expect(throws: AlertMappingError.self) { try DedupKey.of(Alert(status: .firing, labels: [:])) }
    }

    @Test func hugeDetailsAreShrunkToFitTheEventLimit() throws {
        let huge = String(repeating: "x", count: 700 * 1024)
        let event = map(alert(labels: ["alertname": "A"], annotations: ["summary": "big", "description": huge]))
        let size = try EventEncoding.encode(event).count
        #expect(size <= EventLimits.eventMaxBytes)
        #expect(event.payload?.summary == "big")
    }
}
