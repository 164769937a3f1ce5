import Foundation

/// The body Alertmanager POSTs to a webhook receiver (payload version 4).
///
/// Decoding is lenient: unknown fields are ignored and every field Alertmanager may leave out is optional.
public struct WebhookMessage: Sendable, Hashable, Decodable {
    /// The payload version; Alertmanager sends `"4"`.
    public var version: String?
    /// Alertmanager's key of the alert group this notification is for.
    public var groupKey: String?
    /// How many alerts Alertmanager left out because of the receiver's `max_alerts`.
    public var truncatedAlerts: Int?
    /// `firing` when at least one alert of the group fires, else `resolved`.
    public var status: AlertStatus?
    public var receiver: String?
    public var groupLabels: [String: String]
    public var commonLabels: [String: String]
    public var commonAnnotations: [String: String]
    /// The URL of the Alertmanager that sent the notification.
    public var externalURL: String?
    public var alerts: [Alert]

    public init(
        version: String? = "4",
        groupKey: String? = nil,
        truncatedAlerts: Int? = nil,
        status: AlertStatus? = nil,
        receiver: String? = nil,
        groupLabels: [String: String] = [:],
        commonLabels: [String: String] = [:],
        commonAnnotations: [String: String] = [:],
        externalURL: String? = nil,
        alerts: [Alert]
    ) {
        self.version = version
        self.groupKey = groupKey
        self.truncatedAlerts = truncatedAlerts
        self.status = status
        self.receiver = receiver
        self.groupLabels = groupLabels
        self.commonLabels = commonLabels
        self.commonAnnotations = commonAnnotations
        self.externalURL = externalURL
        self.alerts = alerts
    }

    enum CodingKeys: String, CodingKey {
        case version, groupKey, truncatedAlerts, status, receiver, groupLabels, commonLabels, commonAnnotations
        case externalURL, alerts
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.version = try container.decodeIfPresent(String.self, forKey: .version)
        self.groupKey = try container.decodeIfPresent(String.self, forKey: .groupKey)
        self.truncatedAlerts = try container.decodeIfPresent(Int.self, forKey: .truncatedAlerts)
        self.status = try container.decodeIfPresent(AlertStatus.self, forKey: .status)
        self.receiver = try container.decodeIfPresent(String.self, forKey: .receiver)
        self.groupLabels = try container.decodeIfPresent([String: String].self, forKey: .groupLabels) ?? [:]
        self.commonLabels = try container.decodeIfPresent([String: String].self, forKey: .commonLabels) ?? [:]
        self.commonAnnotations =
            try container.decodeIfPresent([String: String].self, forKey: .commonAnnotations) ?? [:]
        self.externalURL = try container.decodeIfPresent(String.self, forKey: .externalURL)
        guard container.contains(.alerts) else {
            throw DecodingError.keyNotFound(
                CodingKeys.alerts,
                .init(codingPath: container.codingPath, debugDescription: "the webhook has no \"alerts\" array")
            )
        }
        self.alerts = try container.decode([Alert].self, forKey: .alerts)
    }
}

/// Whether an alert is firing or resolved.
public enum AlertStatus: String, Sendable, Hashable, Codable {
    case firing
    case resolved
}

/// One alert of a webhook notification.
public struct Alert: Sendable, Hashable, Decodable {
    public var status: AlertStatus
    public var labels: [String: String]
    public var annotations: [String: String]
    /// When the alert started firing; `nil` when absent or Go's zero time.
    public var startsAt: Date?
    /// When the alert ended (resolved alerts) or will be considered ended; `nil` when absent or Go's zero time.
    public var endsAt: Date?
    public var generatorURL: String?
    /// Alertmanager's fingerprint of the label set (16 hex digits); may be absent from other senders.
    public var fingerprint: String?

    public init(
        status: AlertStatus,
        labels: [String: String],
        annotations: [String: String] = [:],
        startsAt: Date? = nil,
        endsAt: Date? = nil,
        generatorURL: String? = nil,
        fingerprint: String? = nil
    ) {
        self.status = status
        self.labels = labels
        self.annotations = annotations
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.generatorURL = generatorURL
        self.fingerprint = fingerprint
    }

    enum CodingKeys: String, CodingKey {
        case status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.status = try container.decode(AlertStatus.self, forKey: .status)
        self.labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        self.annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
        self.startsAt = try container.decodeRFC3339TimeIfPresent(forKey: .startsAt)
        self.endsAt = try container.decodeRFC3339TimeIfPresent(forKey: .endsAt)
        self.generatorURL = try container.decodeIfPresent(String.self, forKey: .generatorURL)
        let fingerprint = try container.decodeIfPresent(String.self, forKey: .fingerprint)
        self.fingerprint = (fingerprint?.isEmpty ?? true) ? nil : fingerprint
    }
}
