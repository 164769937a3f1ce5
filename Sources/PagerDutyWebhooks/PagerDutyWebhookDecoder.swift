import Foundation
import TimeText

/// Decodes the body of a PagerDuty v3 webhook into a ``PagerDutyWebhookEvent``.
///
/// Rules:
/// - Unknown fields are ignored; `null` counts as absent.
/// - Required: `event` (an object), `event.id` and `event.event_type` (non-empty strings of at most
///   ``maximumIdentifierBytes`` bytes, no control characters).
/// - For the five incident types (``PagerDutyEventType/changesIncidentState``), `event.data` must be an
///   incident (`event.data.type` is `incident`) with an `id`. For any other type, an incident in `event.data`
///   is read when it is valid and ignored otherwise: such events are counted, never failed.
/// - `event.occurred_at`, when present, must be an RFC 3339 time (with or without fractional seconds).
/// - Identifiers (`id`, `incident_key`, `status`, `html_url`) that are too long or hold a control character are
///   refused; display texts (`title`, `agent.summary`) are cut to their limit and control characters in them
///   become spaces.
/// - A field of the wrong JSON type is an error.
///
/// Errors name the field, never its value.
public enum PagerDutyWebhookDecoder {
    /// The most UTF-8 bytes of `event.id`, `event.event_type`, `data.id` and `data.incident_key` (PagerDuty's
    /// limit of a `dedup_key`).
    public static let maximumIdentifierBytes = 255
    /// The most UTF-8 bytes of `data.status`.
    public static let maximumStatusBytes = 64
    /// The most UTF-8 bytes of `data.html_url`.
    public static let maximumURLBytes = 2048
    /// The most UTF-8 bytes kept of `data.title`; a longer title is cut at a character boundary.
    public static let maximumTitleBytes = 1024
    /// The most UTF-8 bytes kept of `agent.summary`; a longer one is cut at a character boundary.
    public static let maximumAgentSummaryBytes = 255

    /// The event in `body`.
    /// - Throws: ``WebhookPayloadError`` naming the first field that is missing or invalid.
    public static func decode(_ body: some Collection<UInt8>) throws(WebhookPayloadError) -> PagerDutyWebhookEvent {
        let root: JSONTree
        do {
            root = try JSONDecoder().decode(JSONTree.self, from: Data(body))
        } catch {
            throw WebhookPayloadError(reason: "the body is not JSON")
        }
        guard case .object(let top) = root else {
            throw WebhookPayloadError(reason: "the body is not a JSON object")
        }
        let event = try Fields(top, path: "").object("event")
        let id = try event.identifier("id", maximumBytes: maximumIdentifierBytes)
        let type = PagerDutyEventType(
            wireName: try event.identifier("event_type", maximumBytes: maximumIdentifierBytes)
        )
        var occurredAt: Date?
        if let text = try event.optionalString("occurred_at") {
            guard let date = RFC3339.parse(text) else {
                throw WebhookPayloadError(reason: "\(event.path("occurred_at")) is not an RFC 3339 time")
            }
            occurredAt = date
        }
        var agentSummary: String?
        if let agent = try event.optionalObject("agent"), let summary = try agent.optionalString("summary") {
            let text = displayText(summary, maximumBytes: maximumAgentSummaryBytes)
            agentSummary = text.isEmpty || text.contains("@") ? nil : text
        }
        let incident: IncidentSnapshot?
        if type.changesIncidentState {
            let data = try event.object("data")
            guard try data.string("type") == "incident" else {
                throw WebhookPayloadError(reason: "\(data.path("type")) is not incident")
            }
            incident = try decodeIncident(data)
        } else if let data = try? event.optionalObject("data"), (try? data.optionalString("type")) == "incident" {
            incident = try? decodeIncident(data)
        } else {
            incident = nil
        }
        return PagerDutyWebhookEvent(
            id: id,
            type: type,
            occurredAt: occurredAt,
            agentSummary: agentSummary,
            incident: incident
        )
    }

    private static func decodeIncident(_ data: Fields) throws(WebhookPayloadError) -> IncidentSnapshot {
        let id = try data.identifier("id", maximumBytes: maximumIdentifierBytes)
        var incidentKey: String?
        if let key = try data.optionalString("incident_key"), !key.isEmpty {
            try data.checkIdentifier(key, "incident_key", maximumBytes: maximumIdentifierBytes)
            incidentKey = key
        }
        var status: String?
        if let text = try data.optionalString("status") {
            try data.checkIdentifier(text, "status", maximumBytes: maximumStatusBytes)
            status = text
        }
        var htmlURL: String?
        if let text = try data.optionalString("html_url"), !text.isEmpty {
            try data.checkIdentifier(text, "html_url", maximumBytes: maximumURLBytes)
            htmlURL = text
        }
        return IncidentSnapshot(
            id: id,
            number: try data.optionalInteger("number"),
            status: status,
            incidentKey: incidentKey,
            htmlURL: htmlURL,
            title: try data.optionalString("title").map { displayText($0, maximumBytes: maximumTitleBytes) }
        )
    }

    /// `text` with control characters as spaces, cut to at most `maximumBytes` UTF-8 bytes at a character
    /// boundary.
    static func displayText(_ text: String, maximumBytes: Int) -> String {
        var result = ""
        var bytes = 0
        for character in text {
            let kept: Character = character.unicodeScalars.contains(where: \.isControl) ? " " : character
            let size = kept.utf8.count
            guard bytes + size <= maximumBytes else { break }
            result.append(kept)
            bytes += size
        }
        return result
    }
}

/// Why a webhook body cannot be used: a sentence that names the field (`event.id is missing`), never its value.
public struct WebhookPayloadError: Error, CustomStringConvertible, Sendable {
    /// The reason, as a sentence.
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// Any JSON value, to walk a body whose fields are checked one by one.
private enum JSONTree: Decodable {
    case object([String: JSONTree])
    case array([JSONTree])
    case string(String)
    case integer(Int)
    case number(Double)
    case bool(Bool)
    case null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONTree].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONTree].self))
        }
    }
}

/// The fields of one JSON object, at `prefix` in the body (`event`, `event.data`), with errors naming them.
private struct Fields {
    let values: [String: JSONTree]
    let prefix: String

    init(_ values: [String: JSONTree], path prefix: String) {
        self.values = values
        self.prefix = prefix
    }

    func path(_ key: String) -> String {
        prefix.isEmpty ? key : "\(prefix).\(key)"
    }

    /// The value at `key`, `nil` when absent or null.
    private func value(_ key: String) -> JSONTree? {
        switch values[key] {
        case nil, .null?: nil
        case let value?: value
        }
    }

    private func wrongType(_ key: String, _ expected: String) -> WebhookPayloadError {
        WebhookPayloadError(reason: "\(path(key)) is not \(expected)")
    }

    func optionalObject(_ key: String) throws(WebhookPayloadError) -> Fields? {
        guard let value = value(key) else { return nil }
        guard case .object(let fields) = value else { throw wrongType(key, "an object") }
        return Fields(fields, path: path(key))
    }

    func object(_ key: String) throws(WebhookPayloadError) -> Fields {
        guard let fields = try optionalObject(key) else {
            throw WebhookPayloadError(reason: "\(path(key)) is missing")
        }
        return fields
    }

    func optionalString(_ key: String) throws(WebhookPayloadError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw wrongType(key, "a string") }
        return text
    }

    func string(_ key: String) throws(WebhookPayloadError) -> String {
        guard let text = try optionalString(key) else {
            throw WebhookPayloadError(reason: "\(path(key)) is missing")
        }
        return text
    }

    func optionalInteger(_ key: String) throws(WebhookPayloadError) -> Int? {
        guard let value = value(key) else { return nil }
        guard case .integer(let number) = value else { throw wrongType(key, "an integer") }
        return number
    }

    /// The non-empty string at `key`, checked as an identifier.
    func identifier(_ key: String, maximumBytes: Int) throws(WebhookPayloadError) -> String {
        let text = try string(key)
        guard !text.isEmpty else {
            throw WebhookPayloadError(reason: "\(path(key)) is empty")
        }
        try checkIdentifier(text, key, maximumBytes: maximumBytes)
        return text
    }

    /// Refuses an identifier longer than `maximumBytes` or holding a control character.
    func checkIdentifier(_ text: String, _ key: String, maximumBytes: Int) throws(WebhookPayloadError) {
        guard text.utf8.count <= maximumBytes else {
            throw WebhookPayloadError(reason: "\(path(key)) is longer than \(maximumBytes) bytes")
        }
        guard !text.unicodeScalars.contains(where: \.isControl) else {
            throw WebhookPayloadError(reason: "\(path(key)) holds a control character")
        }
    }
}

extension Unicode.Scalar {
    /// Whether this is a control character (general category Cc: C0, DEL, C1).
    fileprivate var isControl: Bool { properties.generalCategory == .control }
}
