import Foundation

/// One alert as Alertmanager's API v2 lists it (`GET /api/v2/alerts`): its labels, times, receivers and whether it
/// is active, silenced or inhibited.
///
/// Decoding is lenient: unknown fields are ignored; missing `labels`, `annotations` and `receivers` are empty; a
/// missing, empty or Go-zero time is `nil`. `fingerprint` and `status` are required.
public struct APIAlert: Sendable, Hashable, Decodable {
    /// Alertmanager's fingerprint of the label set (16 hex digits); the alert's identity.
    public var fingerprint: String
    public var labels: [String: String]
    public var annotations: [String: String]
    /// When the alert started firing.
    public var startsAt: Date?
    /// When Alertmanager will consider the alert resolved unless it is sent again (or when it ended).
    public var endsAt: Date?
    /// When Alertmanager last received the alert.
    public var updatedAt: Date?
    public var generatorURL: String?
    /// The names of the receivers the alert is routed to.
    public var receivers: [String]
    /// Active, or suppressed by silences or inhibitions.
    public var status: APIAlertStatus

    /// Creates an alert, for tests and fakes.
    public init(
        fingerprint: String,
        labels: [String: String],
        annotations: [String: String] = [:],
        startsAt: Date? = nil,
        endsAt: Date? = nil,
        updatedAt: Date? = nil,
        generatorURL: String? = nil,
        receivers: [String] = [],
        status: APIAlertStatus = APIAlertStatus(state: .active)
    ) {
        self.fingerprint = fingerprint
        self.labels = labels
        self.annotations = annotations
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.updatedAt = updatedAt
        self.generatorURL = generatorURL
        self.receivers = receivers
        self.status = status
    }

    /// True when the alert has an end time and it is not after `now`.
    public func hasEnded(at now: Date) -> Bool {
        guard let endsAt else { return false }
        return endsAt <= now
    }

    enum CodingKeys: String, CodingKey {
        case fingerprint, labels, annotations, startsAt, endsAt, updatedAt, generatorURL, receivers, status
    }

    /// One element of `receivers`: the API gives objects, of which only the name matters here.
    private struct ReceiverReference: Decodable {
        var name: String
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.fingerprint = try container.decode(String.self, forKey: .fingerprint)
        self.labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        self.annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
        self.startsAt = try container.decodeRFC3339TimeIfPresent(forKey: .startsAt)
        self.endsAt = try container.decodeRFC3339TimeIfPresent(forKey: .endsAt)
        self.updatedAt = try container.decodeRFC3339TimeIfPresent(forKey: .updatedAt)
        self.generatorURL = try container.decodeIfPresent(String.self, forKey: .generatorURL)
        self.receivers = try container.decodeIfPresent([ReceiverReference].self, forKey: .receivers)?.map(\.name) ?? []
        self.status = try container.decode(APIAlertStatus.self, forKey: .status)
    }
}

/// Whether an API v2 alert is active, and which silences and inhibiting alerts suppress it.
public struct APIAlertStatus: Sendable, Hashable, Decodable {
    /// Alertmanager's state of an alert.
    public enum State: String, Sendable, Hashable {
        /// Firing and neither silenced nor inhibited.
        case active
        /// Silenced, inhibited, or both.
        case suppressed
        /// Received but not yet processed by Alertmanager's dispatcher; also any state this client does not know.
        case unprocessed
    }

    public var state: State
    /// The ids of the silences that match the alert.
    public var silencedBy: [String]
    /// The fingerprints of the alerts that inhibit this one.
    public var inhibitedBy: [String]

    /// True when at least one silence matches the alert.
    public var isSilenced: Bool { !silencedBy.isEmpty }
    /// True when at least one other alert inhibits this one.
    public var isInhibited: Bool { !inhibitedBy.isEmpty }

    /// Creates a status, for tests and fakes.
    public init(state: State, silencedBy: [String] = [], inhibitedBy: [String] = []) {
        self.state = state
        self.silencedBy = silencedBy
        self.inhibitedBy = inhibitedBy
    }

    enum CodingKeys: String, CodingKey {
        case state, silencedBy, inhibitedBy
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let stateText = try container.decode(String.self, forKey: .state)
        self.state = State(rawValue: stateText) ?? .unprocessed
        self.silencedBy = try container.decodeIfPresent([String].self, forKey: .silencedBy) ?? []
        self.inhibitedBy = try container.decodeIfPresent([String].self, forKey: .inhibitedBy) ?? []
    }
}
