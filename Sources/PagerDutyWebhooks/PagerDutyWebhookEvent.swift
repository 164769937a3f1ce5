import Foundation

/// One event of a PagerDuty v3 webhook (PagerDuty sends one per request), reduced to what the publisher uses.
public struct PagerDutyWebhookEvent: Sendable, Equatable {
    /// `event.id`: the event's unique id, the same on every delivery attempt (for deduplicating replays).
    public var id: String
    /// `event.event_type`.
    public var type: PagerDutyEventType
    /// `event.occurred_at`: when the change happened in PagerDuty, if the event says.
    public var occurredAt: Date?
    /// `event.agent.summary`: the display name of the person or integration that made the change. `nil` when
    /// absent, and when it looks like an e-mail address (it contains `@`), which the publisher never records.
    public var agentSummary: String?
    /// `event.data` when it is an incident (`event.data.type` is `incident`).
    public var incident: IncidentSnapshot?

    public init(
        id: String,
        type: PagerDutyEventType,
        occurredAt: Date? = nil,
        agentSummary: String? = nil,
        incident: IncidentSnapshot? = nil
    ) {
        self.id = id
        self.type = type
        self.occurredAt = occurredAt
        self.agentSummary = agentSummary
        self.incident = incident
    }
}

/// The type of a v3 webhook event (`event.event_type`).
///
/// Build one from its wire name with ``init(wireName:)``, which never gives `.other` for a known name.
public enum PagerDutyEventType: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// `incident.triggered`: a new incident.
    case incidentTriggered
    /// `incident.acknowledged`.
    case incidentAcknowledged
    /// `incident.unacknowledged`: an acknowledgement ran out (or was undone), the incident is triggered again.
    case incidentUnacknowledged
    /// `incident.resolved`.
    case incidentResolved
    /// `incident.reopened`: a resolved incident is triggered again.
    case incidentReopened
    /// `pagey.ping`: the test event PagerDuty sends when asked to test a subscription.
    case ping
    /// Any other event type (`incident.annotated`, `incident.priority_updated`, `service.updated`, …): counted,
    /// never failed. Holds the wire name.
    case other(String)

    /// The known types, by wire name.
    private static let known: [String: PagerDutyEventType] = [
        "incident.triggered": .incidentTriggered,
        "incident.acknowledged": .incidentAcknowledged,
        "incident.unacknowledged": .incidentUnacknowledged,
        "incident.resolved": .incidentResolved,
        "incident.reopened": .incidentReopened,
        "pagey.ping": .ping,
    ]

    /// The type whose wire name is `wireName`: a named case for a known name, `.other(wireName)` otherwise.
    public init(wireName: String) {
        self = Self.known[wireName] ?? .other(wireName)
    }

    /// The wire name, e.g. `incident.acknowledged`.
    public var rawValue: String {
        switch self {
        case .incidentTriggered: "incident.triggered"
        case .incidentAcknowledged: "incident.acknowledged"
        case .incidentUnacknowledged: "incident.unacknowledged"
        case .incidentResolved: "incident.resolved"
        case .incidentReopened: "incident.reopened"
        case .ping: "pagey.ping"
        case .other(let name): name
        }
    }

    /// A bounded label for metrics: the wire name of a known type, `other` for any other.
    public var metricLabel: String {
        if case .other = self {
            return "other"
        }
        return rawValue
    }

    /// Whether the event changes an incident's state (the five `incident.*` types the publisher maps to its
    /// ledger); its event then always has an ``PagerDutyWebhookEvent/incident``.
    public var changesIncidentState: Bool {
        switch self {
        case .incidentTriggered, .incidentAcknowledged, .incidentUnacknowledged, .incidentResolved,
            .incidentReopened:
            true
        case .ping, .other:
            false
        }
    }

    public var description: String { rawValue }
}

/// An incident as a v3 webhook event shows it (`event.data` of type `incident`), reduced to what the publisher
/// uses.
public struct IncidentSnapshot: Sendable, Equatable {
    /// `data.id`, e.g. `PGR0VU2`.
    public var id: String
    /// `data.number`: the incident's number in the account.
    public var number: Int?
    /// `data.status`: `triggered`, `acknowledged` or `resolved`.
    public var status: String?
    /// `data.incident_key`: the `dedup_key` the incident was triggered with (the publisher's key for its alert).
    /// `nil` when absent, null or empty.
    public var incidentKey: String?
    /// `data.html_url`: the incident's page in PagerDuty.
    public var htmlURL: String?
    /// `data.title`, cut to at most ``PagerDutyWebhookDecoder/maximumTitleBytes`` bytes.
    public var title: String?

    public init(
        id: String,
        number: Int? = nil,
        status: String? = nil,
        incidentKey: String? = nil,
        htmlURL: String? = nil,
        title: String? = nil
    ) {
        self.id = id
        self.number = number
        self.status = status
        self.incidentKey = incidentKey
        self.htmlURL = htmlURL
        self.title = title
    }
}
