import Crypto
import Foundation
import PagerDutyWebhooks

/// A PagerDuty v3 webhook for tests: a body shaped like PagerDuty's (with the fields the publisher ignores too)
/// and the `X-PagerDuty-Signature` value that signs it.
///
/// ```swift
/// let webhook = SignedPagerDutyWebhook.incident(
///     .incidentAcknowledged, incident: IncidentSnapshot(id: "PGR0VU2", incidentKey: dedupKey), secrets: ["s3cret"])
/// // POST webhook.body with header SignedPagerDutyWebhook.signatureHeaderName: webhook.signature
/// ```
public struct SignedPagerDutyWebhook: Sendable {
    /// `X-PagerDuty-Signature`.
    public static let signatureHeaderName = "X-PagerDuty-Signature"

    /// The raw JSON body.
    public var body: [UInt8]
    /// The value of `X-PagerDuty-Signature`: `v1=<hex>`, comma-separated, one per secret.
    public var signature: String

    /// `body` signed with each of `secrets`.
    public init(body: [UInt8], secrets: [String]) {
        self.body = body
        self.signature = Self.signatureHeader(for: body, secrets: secrets)
    }

    /// The body as text.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// A signed incident event; see ``incidentEventBody(_:eventID:occurredAt:agentSummary:incident:)``.
    public static func incident(
        _ type: PagerDutyEventType,
        eventID: String = UUID().uuidString.lowercased(),
        occurredAt: Date = Date(),
        agentSummary: String? = "Ada Responder",
        incident: IncidentSnapshot,
        secrets: [String]
    ) -> SignedPagerDutyWebhook {
        SignedPagerDutyWebhook(
            body: incidentEventBody(
                type,
                eventID: eventID,
                occurredAt: occurredAt,
                agentSummary: agentSummary,
                incident: incident
            ),
            secrets: secrets
        )
    }

    /// A signed incident event whose `agent` is `agent` (a user or a service; `nil` writes `"agent": null`); see
    /// ``incidentEventBody(_:eventID:occurredAt:agent:incident:createdAt:)``.
    public static func incident(
        _ type: PagerDutyEventType,
        eventID: String = UUID().uuidString.lowercased(),
        occurredAt: Date = Date(),
        agent: Agent?,
        incident: IncidentSnapshot,
        createdAt: Date? = nil,
        secrets: [String]
    ) -> SignedPagerDutyWebhook {
        SignedPagerDutyWebhook(
            body: incidentEventBody(
                type, eventID: eventID, occurredAt: occurredAt, agent: agent, incident: incident, createdAt: createdAt),
            secrets: secrets
        )
    }

    /// A signed `pagey.ping`; see ``pingBody(eventID:occurredAt:)``.
    public static func ping(
        eventID: String = UUID().uuidString.lowercased(),
        occurredAt: Date = Date(),
        secrets: [String]
    ) -> SignedPagerDutyWebhook {
        SignedPagerDutyWebhook(body: pingBody(eventID: eventID, occurredAt: occurredAt), secrets: secrets)
    }

    /// The body of an incident event of `type`, as PagerDuty sends it.
    ///
    /// `incident.status` defaults to the status the event leaves the incident in (`acknowledged` for
    /// `incident.acknowledged`, `resolved` for `incident.resolved`, `triggered` otherwise); `incident.number`,
    /// `htmlURL` and `title` default to plausible values; a `nil` `incidentKey` is written as `null`. A `nil`
    /// `agentSummary` writes `"agent": null`, as PagerDuty does for changes no one made.
    public static func incidentEventBody(
        _ type: PagerDutyEventType,
        eventID: String = UUID().uuidString.lowercased(),
        occurredAt: Date = Date(),
        agentSummary: String? = "Ada Responder",
        incident: IncidentSnapshot
    ) -> [UInt8] {
        incidentEventBody(
            type, eventID: eventID, occurredAt: occurredAt, agent: agentSummary.map { Agent.user($0) }, incident: incident)
    }

    /// The body of an incident event of `type` made by `agent` (`nil` writes `"agent": null`), as PagerDuty sends it;
    /// the defaults are those of ``incidentEventBody(_:eventID:occurredAt:agentSummary:incident:)``, and
    /// `created_at` is `createdAt`, or a minute before `occurredAt`.
    public static func incidentEventBody(
        _ type: PagerDutyEventType,
        eventID: String = UUID().uuidString.lowercased(),
        occurredAt: Date = Date(),
        agent: Agent?,
        incident: IncidentSnapshot,
        createdAt: Date? = nil
    ) -> [UInt8] {
        let defaultStatus =
            switch type {
            case .incidentAcknowledged: "acknowledged"
            case .incidentResolved: "resolved"
            default: "triggered"
            }
        let data: [String: Any] = [
            "id": incident.id,
            "type": "incident",
            "self": "https://api.pagerduty.com/incidents/\(incident.id)",
            "html_url": incident.htmlURL ?? "https://acme.pagerduty.com/incidents/\(incident.id)",
            "number": incident.number ?? 42,
            "status": incident.status ?? defaultStatus,
            "incident_key": incident.incidentKey ?? NSNull(),
            "created_at": timestamp(createdAt ?? occurredAt.addingTimeInterval(-60)),
            "title": incident.title ?? "[FIRING:1] HighLatency api",
            "service": reference("service", id: "PF9KMXH", summary: "API Service"),
            "assignees": [reference("user", id: "PTUXL6G", summary: "User 123")],
            "escalation_policy": reference("escalation_policy", id: "PUS0KTE", summary: "Default"),
            "teams": [reference("team", id: "PFCVPS0", summary: "Engineering")],
            "priority": NSNull(),
            "urgency": "high",
            "conference_bridge": NSNull(),
            "resolve_reason": NSNull(),
        ]
        let event: [String: Any] = [
            "id": eventID,
            "event_type": type.rawValue,
            "resource_type": "incident",
            "occurred_at": timestamp(occurredAt),
            "agent": agent.map { reference($0.kind.rawValue, id: $0.id, summary: $0.summary) as Any } ?? NSNull(),
            "client": ["name": "PagerDuty"],
            "data": data,
        ]
        return json(["event": event])
    }

    /// The body of PagerDuty's test event, `pagey.ping`.
    public static func pingBody(
        eventID: String = UUID().uuidString.lowercased(),
        occurredAt: Date = Date()
    ) -> [UInt8] {
        let event: [String: Any] = [
            "id": eventID,
            "event_type": PagerDutyEventType.ping.rawValue,
            "resource_type": "pagey",
            "occurred_at": timestamp(occurredAt),
            "agent": ["id": "PLH1HKV", "type": "user_reference"],
            "client": NSNull(),
            "data": ["message": "Hello from your friend Pagey!", "type": "ping"],
        ]
        return json(["event": event])
    }

    /// Who made a change, as `event.agent` shows it: a user (a responder) or a service (a change that came in through
    /// an integration, such as an Events API v2 resolve).
    public struct Agent: Sendable, Equatable {
        /// The kind of reference `event.agent` is.
        public enum Kind: String, Sendable {
            /// `user_reference`.
            case user
            /// `service_reference`.
            case service
        }

        public var kind: Kind
        /// `agent.id`.
        public var id: String
        /// `agent.summary`: the display name.
        public var summary: String

        public init(kind: Kind, id: String, summary: String) {
            self.kind = kind
            self.id = id
            self.summary = summary
        }

        /// A responder.
        public static func user(_ summary: String, id: String = "PLH1HKV") -> Agent {
            Agent(kind: .user, id: id, summary: summary)
        }

        /// A service, for changes made through one of its integrations.
        public static func service(_ summary: String, id: String = "PF9KMXH") -> Agent {
            Agent(kind: .service, id: id, summary: summary)
        }
    }

    /// The value of `X-PagerDuty-Signature` for `body`: `v1=<HMAC-SHA256 of body under secret, lower-case hex>`
    /// for each of `secrets`, joined by commas (as PagerDuty does during a rotation).
    public static func signatureHeader(for body: some Collection<UInt8>, secrets: [String]) -> String {
        let bytes = Array(body)
        return secrets.map { secret in
            let code = HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: Array(secret.utf8)))
            return "v1=" + code.map { String(format: "%02x", $0) }.joined()
        }.joined(separator: ",")
    }

    private static func reference(_ kind: String, id: String, summary: String) -> [String: Any] {
        let collection = kind == "escalation_policy" ? "escalation_policies" : "\(kind)s"
        return [
            "html_url": "https://acme.pagerduty.com/\(collection)/\(id)",
            "id": id,
            "self": "https://api.pagerduty.com/\(collection)/\(id)",
            "summary": summary,
            "type": "\(kind)_reference",
        ]
    }

    private static func timestamp(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    private static func json(_ object: [String: Any]) -> [UInt8] {
        // The objects are built above from strings, numbers, arrays, dictionaries and NSNull only.
        Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    }
}
