/// The severity PagerDuty accepts in `payload.severity`; no other value is valid.
public enum Severity: String, Sendable, Hashable, Codable, CaseIterable {
    case critical
    case error
    case warning
    case info
}

/// What an alert event does to the PagerDuty alert its `dedup_key` names.
public enum EventAction: String, Sendable, Hashable, Codable, CaseIterable {
    case trigger
    case acknowledge
    case resolve
}

/// A link shown on the PagerDuty alert and incident.
public struct Link: Sendable, Hashable, Codable {
    public var href: String
    public var text: String?

    public init(href: String, text: String? = nil) {
        self.href = href
        self.text = text
    }
}

/// An image shown on the PagerDuty alert and incident; PagerDuty requires an `https` source.
public struct Image: Sendable, Hashable, Codable {
    public var src: String
    public var href: String?
    public var alt: String?

    public init(src: String, href: String? = nil, alt: String? = nil) {
        self.src = src
        self.href = href
        self.alt = alt
    }
}

/// The `payload` of an alert event.
public struct AlertPayload: Sendable, Hashable, Codable {
    public var summary: String
    public var source: String
    public var severity: Severity
    /// ISO 8601 time at which the condition was detected.
    public var timestamp: String?
    public var component: String?
    public var group: String?
    public var `class`: String?
    public var customDetails: JSONValue?

    public init(
        summary: String,
        source: String,
        severity: Severity,
        timestamp: String? = nil,
        component: String? = nil,
        group: String? = nil,
        class: String? = nil,
        customDetails: JSONValue? = nil
    ) {
        self.summary = summary
        self.source = source
        self.severity = severity
        self.timestamp = timestamp
        self.component = component
        self.group = group
        self.class = `class`
        self.customDetails = customDetails
    }

    enum CodingKeys: String, CodingKey {
        case summary, source, severity, timestamp, component, group, `class`
        case customDetails = "custom_details"
    }
}

/// An Events API v2 alert event, sent to `POST /v2/enqueue`.
public struct AlertEvent: Sendable, Hashable, Codable {
    /// The integration key. Secret: never log it.
    public var routingKey: String
    public var eventAction: EventAction
    public var dedupKey: String?
    public var payload: AlertPayload?
    public var client: String?
    public var clientURL: String?
    public var links: [Link]?
    public var images: [Image]?

    public init(
        routingKey: String,
        eventAction: EventAction,
        dedupKey: String? = nil,
        payload: AlertPayload? = nil,
        client: String? = nil,
        clientURL: String? = nil,
        links: [Link]? = nil,
        images: [Image]? = nil
    ) {
        self.routingKey = routingKey
        self.eventAction = eventAction
        self.dedupKey = dedupKey
        self.payload = payload
        self.client = client
        self.clientURL = clientURL
        self.links = links
        self.images = images
    }

    enum CodingKeys: String, CodingKey {
        case routingKey = "routing_key"
        case eventAction = "event_action"
        case dedupKey = "dedup_key"
        case payload, client
        case clientURL = "client_url"
        case links, images
    }
}

/// The `payload` of a change event.
public struct ChangeEventPayload: Sendable, Hashable, Codable {
    public var summary: String
    public var source: String?
    public var timestamp: String?
    public var customDetails: JSONValue?

    public init(summary: String, source: String? = nil, timestamp: String? = nil, customDetails: JSONValue? = nil) {
        self.summary = summary
        self.source = source
        self.timestamp = timestamp
        self.customDetails = customDetails
    }

    enum CodingKeys: String, CodingKey {
        case summary, source, timestamp
        case customDetails = "custom_details"
    }
}

/// An Events API v2 change event (a deploy, a configuration change), sent to `POST /v2/change/enqueue`.
public struct ChangeEvent: Sendable, Hashable, Codable {
    /// The integration key. Secret: never log it.
    public var routingKey: String
    public var payload: ChangeEventPayload
    public var links: [Link]?
    public var images: [Image]?

    public init(routingKey: String, payload: ChangeEventPayload, links: [Link]? = nil, images: [Image]? = nil) {
        self.routingKey = routingKey
        self.payload = payload
        self.links = links
        self.images = images
    }

    enum CodingKeys: String, CodingKey {
        case routingKey = "routing_key"
        case payload, links, images
    }
}
