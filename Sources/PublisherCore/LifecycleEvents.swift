import AlertmanagerModels
import Foundation
import PagerDutyEvents

extension EventMapper {
    /// The event for an Alertmanager group on a route with `incident_per: group`: the first firing alert's
    /// fields (the first alert's when none fires), a summary prefixed `[FIRING:n]` or `[RESOLVED]`, the highest
    /// severity among the firing alerts, and custom_details listing the firing alerts' summaries and the group's
    /// labels. Fitted to PagerDuty's limits and encoded once.
    /// - Throws: `EncodingError` when a value cannot be represented in JSON.
    public func encodedGroupEvent(
        for alerts: [Alert],
        action: EventAction,
        in message: WebhookMessage,
        dedupKey: String
    ) throws -> (event: AlertEvent, body: [UInt8]) {
        let firing = alerts.filter { $0.status == .firing }
        guard let representative = firing.first ?? alerts.first else {
            throw AlertMappingError(reason: "a group event needs at least one alert")
        }
        var event = unfittedEvent(for: representative, action: action, in: message, dedupKey: dedupKey)
        if var payload = event.payload {
            let prefix = firing.isEmpty ? "[RESOLVED]" : "[FIRING:\(firing.count)]"
            payload.summary = "\(prefix) \(payload.summary)".truncated(toCharacters: EventLimits.summaryMaxCharacters)
            let severities = firing.map { severityMapping.severity(for: $0.labels) }
            if let highest = severities.min(by: { DeliveryUrgency($0) < DeliveryUrgency($1) }) { payload.severity = highest }
            var details: [String: JSONValue] = [
                "group_key": .string(message.groupKey ?? ""),
                "group_labels": .object(message.groupLabels.mapValues(JSONValue.string)),
                "firing": .array(firing.map { .string(summary(of: $0)) }),
                "firing_count": .number(Double(firing.count)),
                "resolved_count": .number(Double(alerts.count - firing.count)),
            ]
            if let receiver = message.receiver, !receiver.isEmpty { details["receiver"] = .string(receiver) }
            payload.customDetails = .object(details)
            event.payload = payload
        }
        return try event.fittedAndEncoded()
    }

    /// The payload fields a ledger entry keeps from a trigger, to build later acknowledges and resolves.
    public static func remembered(from event: AlertEvent) -> RememberedPayload? {
        event.payload.map { RememberedPayload(summary: $0.summary, source: $0.source, severity: $0.severity) }
    }
}

/// Builds the events the publisher sends on its own initiative, with no webhook to map: acknowledges and
/// resolves from the Alertmanager sync, resolves released after damping, and re-triggers. Their payload comes
/// from the fields the ledger remembered of the last trigger, plus a `reason` in custom_details.
public enum LifecycleEvents {
    /// The outbox message for `action` on `entry`, created at `date`.
    /// - Throws: `EncodingError` when the event cannot be encoded (it never holds non-JSON values).
    public static func message(
        _ action: EventAction,
        for entry: LedgerEntry,
        reason: String,
        at date: Date
    ) throws -> OutboxMessage {
        let remembered =
            entry.remembered
            ?? RememberedPayload(summary: "Alert \(entry.dedupKey)", source: "pagerduty-publisher", severity: .error)
        let payload = AlertPayload(
            summary: remembered.summary,
            source: remembered.source,
            severity: remembered.severity,
            customDetails: ["reason": .string(reason)]
        )
        let event = AlertEvent(routingKey: "", eventAction: action, dedupKey: entry.dedupKey, payload: payload)
        let encoded = try event.fittedAndEncoded()
        return OutboxMessage(
            route: entry.route,
            kind: OutboxKind(action),
            dedupKey: entry.dedupKey,
            severity: remembered.severity,
            body: Data(encoded.body),
            createdAt: date
        )
    }
}
