import AlertmanagerModels
import Foundation
import PagerDutyEvents

/// Builds the synthetic but realistic Alertmanager payloads the benchmarks use.
public enum SampleWebhook {
    /// The label set of alert `index`: the usual Prometheus labels, padded with `extra_N` labels up to `count`.
    public static func labels(index: Int, count: Int = 8) -> [String: String] {
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

    /// The three annotations of alert `index`.
    public static func annotations(index: Int) -> [String: String] {
        [
            "summary": "Disk almost full on db-\(index): 97% of /var/lib/postgresql used",
            "description": "The file system will be full within 4 hours at the current write rate; "
                + "free space or grow the volume before PostgreSQL stops accepting writes.",
            "runbook_url": "https://runbooks.example/storage/disk-almost-full",
        ]
    }

    /// The fingerprint of alert `index` in batch `batch`: 16 hex digits, distinct for every (batch, index)
    /// with index < 2^20.
    public static func fingerprint(index: Int, batch: Int = 0) -> String {
        String(format: "%016llx", (UInt64(batch) << 20 | UInt64(index)) &* 0x9E37_79B9_7F4A_7C15)
    }

    static let generatorURL = "http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes"
    static let startsAt = Date(timeIntervalSince1970: 1_795_000_000)

    /// The JSON of a firing webhook (payload version 4) with `alertCount` alerts.
    public static func json(alertCount: Int) -> Data {
        let alerts = (0..<alertCount).map { index -> [String: Any] in
            [
                "status": "firing",
                "labels": labels(index: index),
                "annotations": annotations(index: index),
                "startsAt": "2026-11-23T13:52:16.045222063Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": generatorURL,
                "fingerprint": fingerprint(index: index),
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

    /// The decoded form of a firing webhook with `alertCount` alerts whose fingerprints belong to `batch`, so
    /// that two batches share no alert (built directly, without JSON).
    public static func message(alertCount: Int, batch: Int = 0) -> WebhookMessage {
        WebhookMessage(
            groupKey: "{}:{alertname=\"DiskAlmostFull\"}",
            truncatedAlerts: 0,
            status: .firing,
            receiver: "pagerduty",
            groupLabels: ["alertname": "DiskAlmostFull"],
            commonLabels: ["alertname": "DiskAlmostFull", "job": "node", "team": "storage"],
            commonAnnotations: ["runbook_url": "https://runbooks.example/storage/disk-almost-full"],
            externalURL: "http://alertmanager.example:9093",
            alerts: (0..<alertCount).map { index in
                Alert(
                    status: .firing,
                    labels: labels(index: index),
                    annotations: annotations(index: index),
                    startsAt: startsAt,
                    generatorURL: generatorURL,
                    fingerprint: fingerprint(index: index, batch: batch)
                )
            }
        )
    }

    /// A trigger event shaped like the daemon's: fingerprint as dedup key, summary from the annotation, labels
    /// and annotations as custom details, the generator URL as a link. Stands in for `EventMapper` where only
    /// the Events API types are wanted.
    public static func event(for alert: Alert) -> AlertEvent {
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
