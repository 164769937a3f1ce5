import Foundation
import Hummingbird
import HummingbirdTesting
import PublisherCore
import PublisherReceiver
import StructuredLogging
import Testing

/// A webhook as Alertmanager 0.27 sends it, plus what other senders do: one firing alert with a unicode
/// label, one resolved alert without fingerprint, `truncatedAlerts`, Go's zero time and fields this
/// version of the model does not know.
let realisticWebhook = #"""
    {
      "receiver": "pagerduty-publisher",
      "status": "firing",
      "alerts": [
        {
          "status": "firing",
          "labels": {"alertname": "DiskFull", "instance": "db-1:9100", "severity": "critical", "équipe": "stockage ☁️"},
          "annotations": {"summary": "Disk / at 97%", "description": "Only \"3%\" left\non /"},
          "startsAt": "2026-01-01T10:00:00.123456789Z",
          "endsAt": "0001-01-01T00:00:00Z",
          "generatorURL": "http://prometheus.example:9090/graph?g0.expr=disk_free",
          "fingerprint": "a1b2c3d4e5f60718",
          "silencedBy": [],
          "inhibitedBy": null
        },
        {
          "status": "resolved",
          "labels": {"alertname": "DiskFull", "instance": "db-2:9100", "severity": "critical"},
          "annotations": {},
          "startsAt": "2026-01-01T09:00:00Z",
          "endsAt": "2026-01-01T11:30:00+02:00",
          "generatorURL": ""
        }
      ],
      "groupLabels": {"alertname": "DiskFull"},
      "commonLabels": {"alertname": "DiskFull", "severity": "critical"},
      "commonAnnotations": {},
      "externalURL": "http://alertmanager.example:9093",
      "version": "4",
      "groupKey": "{}/{severity=\"critical\"}:{alertname=\"DiskFull\"}",
      "truncatedAlerts": 3,
      "somethingNew": {"nested": [1, 2, 3]}
    }
    """#

/// What a receiver under test is made of, and what it left behind.
struct ReceiverHarness {
    var configuration = ReceiverConfiguration()
    var ingestor = RecordingIngestor(outcome: .success(IngestResult(alerts: 2, queued: 1, unchanged: 1)))
    var changeEvents = RecordingChangeEventIngestor()
    var readiness = ScriptedReadiness(checks: [ReadinessCheck(name: "storage", ok: true)])
    var metricsText = "# TYPE pagerduty_events_resolved_total counter\npagerduty_events_resolved_total{routing_key=\"default\"} 4\n"
    var pagerDutyWebhooks: PagerDutyWebhookSettings?
    var statusReport: (@Sendable () async throws -> StatusReport)?
    let logs = MemoryLogSink()

    /// Runs `test` against the router through HummingbirdTesting's in-process `.router` framework.
    func run(_ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let metricsText = self.metricsText
        let router = Receiver.makeRouter(
            configuration: configuration,
            ingestor: ingestor,
            changeEvents: changeEvents,
            readiness: readiness,
            metrics: { metricsText },
            pagerDutyWebhooks: pagerDutyWebhooks,
            statusReport: statusReport,
            logger: capturingLogger(logs)
        )
        let app = Application(router: router, logger: capturingLogger(logs))
        try await app.test(.router, test)
    }
}

extension TestClientProtocol {
    /// POSTs `body` to `uri` as JSON (unless `contentType` says otherwise).
    func postWebhook(
        _ body: String?,
        uri: String = "/v1/alertmanager",
        contentType: String? = "application/json",
        authorization: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let contentType { headers[.contentType] = contentType }
        if let authorization { headers[.authorization] = authorization }
        return try await execute(uri: uri, method: .post, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    /// The body parsed as a JSON object.
    func jsonObject() throws -> [String: Any] {
        let data = Data(body.readableBytesView)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    var text: String {
        String(buffer: body)
    }
}
