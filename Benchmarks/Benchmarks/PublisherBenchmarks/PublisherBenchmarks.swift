import AlertmanagerModels
import Benchmark
import Foundation
import PagerDutyEvents

// CPU-bound hot paths of the publisher, measured without any I/O.
// Run: `swift package benchmark --target PublisherBenchmarks` from Benchmarks/.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        maxDuration: .seconds(3),
        maxIterations: 100_000
    )

    let webhookBody = SampleWebhook.json(alertCount: 100)

    /// Measures `JSONDecoder` turning a realistic 100-alert Alertmanager webhook (8 labels, 3 annotations,
    /// RFC 3339 times, fingerprints) into a `WebhookMessage`. One iteration = one webhook.
    Benchmark("Webhook decode (100 alerts)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try JSONDecoder().decode(WebhookMessage.self, from: webhookBody))
        }
    }

    /// Measures decoding the same 100-alert webhook and then, per alert, building the `AlertEvent` and encoding
    /// it with `EventEncoding.encode`: the daemon's per-webhook CPU work up to the outbox, minus `EventMapper`
    /// (not a product of the root package yet), which is stood in for by ``SampleWebhook/event(for:)``.
    Benchmark("Webhook decode + build and encode 100 events") { benchmark in
        for _ in benchmark.scaledIterations {
            let message = try JSONDecoder().decode(WebhookMessage.self, from: webhookBody)
            for alert in message.alerts {
                blackHole(try EventEncoding.encode(SampleWebhook.event(for: alert).fittedToLimits()))
            }
        }
    }

    let triggerEvent = SampleWebhook.event(
        for: try! JSONDecoder().decode(WebhookMessage.self, from: SampleWebhook.json(alertCount: 1)).alerts[0])

    /// Measures `EventEncoding.encode` of one trigger event with a payload, custom details from 8 labels and
    /// 3 annotations, and one link: the bytes written to the outbox and sent to PagerDuty.
    Benchmark("Event encode (trigger)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try EventEncoding.encode(triggerEvent))
        }
    }

    let longSummary = String(
        repeating: "Disk almost full on db-17:9100 (/var/lib/postgresql), 97% used; ", count: 80
    ).prefix(5_000)
    let summary = String(longSummary)
    precondition(summary.unicodeScalars.count == 5_000)

    /// Measures `String.truncated(toCharacters:)` cutting a 5,000-character ASCII summary to PagerDuty's
    /// 1,024-character limit (grapheme-cluster walk plus the ellipsis).
    Benchmark("Truncate summary (5,000 → 1,024 characters)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(summary.truncated(toCharacters: EventLimits.summaryMaxCharacters))
        }
    }

    let labels = SampleWebhook.labels(index: 42, count: 10)

    /// Measures `LabelSetFingerprint.of` over a 10-label set (sort by name, FNV-1a, hex): the dedup key of an
    /// alert whose sender gave no fingerprint.
    Benchmark("Label fingerprint (10 labels)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(LabelSetFingerprint.of(labels))
        }
    }
}

/// Builds the synthetic but realistic Alertmanager payloads the benchmarks use.
enum SampleWebhook {
    /// The label set of alert `index`: the usual Prometheus labels, padded with `extra_N` labels up to `count`.
    static func labels(index: Int, count: Int = 8) -> [String: String] {
        var labels = [
            "alertname": "DiskAlmostFull",
            "instance": "db-\(index).prod.example:9100",
            "job": "node",
            "severity": index % 3 == 0 ? "critical" : "warning",
            "team": "storage",
            "cluster": "eu-west-1",
            "device": "/dev/nvme\(index % 4)n1",
            "mountpoint": "/var/lib/postgresql",
        ]
        var extra = 0
        while labels.count < count {
            labels["extra_\(extra)"] = "value-\(index)-\(extra)"
            extra += 1
        }
        return labels
    }

    /// The JSON of a firing webhook (payload version 4) with `alertCount` alerts.
    static func json(alertCount: Int) -> Data {
        let alerts = (0..<alertCount).map { index -> [String: Any] in
            [
                "status": "firing",
                "labels": labels(index: index),
                "annotations": [
                    "summary": "Disk almost full on db-\(index): 97% of /var/lib/postgresql used",
                    "description": "The file system will be full within 4 hours at the current write rate; "
                        + "free space or grow the volume before PostgreSQL stops accepting writes.",
                    "runbook_url": "https://runbooks.example/storage/disk-almost-full",
                ],
                "startsAt": "2026-11-23T13:52:16.045222063Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes",
                "fingerprint": String(format: "%016llx", UInt64(index) &* 0x9E37_79B9_7F4A_7C15),
            ]
        }
        let message: [String: Any] = [
            "version": "4",
            "groupKey": "{}:{alertname=\"DiskAlmostFull\"}",
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "pagerduty",
            "groupLabels": ["alertname": "DiskAlmostFull"],
            "commonLabels": ["alertname": "DiskAlmostFull", "job": "node", "team": "storage"],
            "commonAnnotations": ["runbook_url": "https://runbooks.example/storage/disk-almost-full"],
            "externalURL": "http://alertmanager.example:9093",
            "alerts": alerts,
        ]
        return try! JSONSerialization.data(withJSONObject: message, options: [.sortedKeys])
    }

    /// A trigger event shaped like the daemon's: fingerprint as dedup key, summary from the annotation, labels
    /// and annotations as custom details, the generator URL as a link.
    static func event(for alert: Alert) -> AlertEvent {
        var details: [String: JSONValue] = [:]
        for (name, value) in alert.labels { details[name] = .string(value) }
        for (name, value) in alert.annotations { details["annotation_" + name] = .string(value) }
        return AlertEvent(
            routingKey: "R0123456789ABCDEF0123456789ABCDE",
            eventAction: alert.status == .firing ? .trigger : .resolve,
            dedupKey: alert.fingerprint ?? LabelSetFingerprint.of(alert.labels),
            payload: AlertPayload(
                summary: (alert.annotations["summary"] ?? alert.labels["alertname"] ?? "alert")
                    .truncated(toCharacters: EventLimits.summaryMaxCharacters),
                source: alert.labels["instance"] ?? "alertmanager",
                severity: Severity(rawValue: alert.labels["severity"] ?? "") ?? .error,
                timestamp: "2026-11-23T13:52:16.045Z",
                component: alert.labels["job"],
                group: alert.labels["cluster"],
                class: alert.labels["alertname"],
                customDetails: .object(details)
            ),
            client: "Alertmanager",
            clientURL: "http://alertmanager.example:9093",
            links: alert.generatorURL.map { [Link(href: $0, text: "Source")] }
        )
    }
}
