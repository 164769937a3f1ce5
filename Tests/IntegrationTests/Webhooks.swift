import Foundation

/// Builds Alertmanager webhook bodies (version 4) as Alertmanager writes them.
enum Webhook {
    struct AlertSpec {
        var name: String
        var instance: String
        var firing: Bool
        var severity = "critical"
        var startsAt = "2026-11-23T10:00:00.000Z"

        /// Alertmanager's fingerprint stands in as a stable 16-hex value derived from the instance.
        var fingerprint: String {
            var hash: UInt64 = 14_695_981_039_346_656_037
            for byte in "\(name)/\(instance)".utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 1_099_511_628_211
            }
            let hex = String(hash, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }
    }

    static func firing(_ name: String, _ instances: [String]) -> [AlertSpec] {
        instances.map { AlertSpec(name: name, instance: $0, firing: true) }
    }

    static func resolved(_ name: String, _ instances: [String]) -> [AlertSpec] {
        instances.map { AlertSpec(name: name, instance: $0, firing: false) }
    }

    static func body(_ alerts: [AlertSpec], receiver: String = "pagerduty-publisher") -> String {
        let anyFiring = alerts.contains { $0.firing }
        let alertObjects: [[String: Any]] = alerts.map { alert in
            [
                "status": alert.firing ? "firing" : "resolved",
                "labels": ["alertname": alert.name, "instance": alert.instance, "job": "node", "severity": alert.severity],
                "annotations": ["summary": "\(alert.name) on \(alert.instance)", "runbook_url": "https://runbooks.example/\(alert.name)"],
                "startsAt": alert.startsAt,
                "endsAt": alert.firing ? "0001-01-01T00:00:00Z" : "2026-11-23T10:30:00.000Z",
                "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
                "fingerprint": alert.fingerprint,
            ]
        }
        let object: [String: Any] = [
            "version": "4",
            "groupKey": "{}:{alertname=\"\(alerts.first?.name ?? "")\"}",
            "truncatedAlerts": 0,
            "status": anyFiring ? "firing" : "resolved",
            "receiver": receiver,
            "groupLabels": ["alertname": alerts.first?.name ?? ""],
            "commonLabels": ["job": "node"],
            "commonAnnotations": [:] as [String: String],
            "externalURL": "http://alertmanager.example:9093",
            "alerts": alertObjects,
        ]
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
