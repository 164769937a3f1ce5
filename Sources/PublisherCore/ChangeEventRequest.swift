import AlertmanagerModels
import Foundation
import PagerDutyEvents

/// The body of `POST /v1/change-events[/{route}]`: what a CI/CD pipeline or a configuration tool says changed.
///
/// ```json
/// {"summary": "Deployed checkout v2.4.1", "source": "github-actions",
///  "timestamp": "2026-01-01T10:00:00Z", "custom_details": {"commit": "4f2a9c1"},
///  "links": [{"href": "https://ci.example/runs/812", "text": "Pipeline run"}]}
/// ```
///
/// Decoding checks the JSON types; ``validate()`` checks the rules types cannot express. Unknown fields are
/// ignored, as in the Alertmanager webhook.
public struct ChangeEventRequest: Sendable, Hashable, Codable {
    /// What changed, in one line. Required and not blank; cut to 1,024 characters.
    public var summary: String
    /// Where the change happened (a host, a service, a pipeline).
    public var source: String?
    /// When the change happened, RFC 3339 (`2026-01-01T10:00:00Z`); PagerDuty uses the time it receives the
    /// event when absent.
    public var timestamp: String?
    /// Free-form details; must be a JSON object (or null, meaning none).
    public var customDetails: JSONValue?
    /// Links shown on the change event; each `href` must be an absolute http(s) URL.
    public var links: [Link]?

    /// Creates a request; only the summary is required.
    public init(
        summary: String,
        source: String? = nil,
        timestamp: String? = nil,
        customDetails: JSONValue? = nil,
        links: [Link]? = nil
    ) {
        self.summary = summary
        self.source = source
        self.timestamp = timestamp
        self.customDetails = customDetails
        self.links = links
    }

    enum CodingKeys: String, CodingKey {
        case summary, source, timestamp, links
        case customDetails = "custom_details"
    }

    /// Checks the rules the JSON types do not express; throws ``IngestError/invalidAlert(field:reason:)``
    /// naming the first offending field (`summary`, `timestamp`, `custom_details`, `links[2].href`).
    public func validate() throws(IngestError) {
        _ = try changeEvent()
    }

    /// The change event this request describes, with an empty routing key (the dispatcher adds the route's key
    /// when it sends) and fitted to PagerDuty's limits. Throws what ``validate()`` throws.
    public func changeEvent() throws(IngestError) -> ChangeEvent {
        guard !summary.allSatisfy(\.isWhitespace) else {
            throw .invalidAlert(field: "summary", reason: "must not be empty or blank")
        }
        var normalizedTimestamp: String?
        if let timestamp {
            guard let date = RFC3339.parse(timestamp) else {
                throw .invalidAlert(
                    field: "timestamp",
                    reason: "must be an RFC 3339 time such as 2026-01-01T10:00:00Z"
                )
            }
            normalizedTimestamp = RFC3339.format(date)
        }
        var details: JSONValue?
        switch customDetails {
        case nil, .null?: details = nil
        case .object?: details = customDetails
        default: throw .invalidAlert(field: "custom_details", reason: "must be a JSON object")
        }
        var checkedLinks: [Link] = []
        for (index, link) in (links ?? []).enumerated() {
            guard let href = EventMapper.webURL(link.href) else {
                throw .invalidAlert(field: "links[\(index)].href", reason: "must be an absolute http or https URL")
            }
            checkedLinks.append(Link(href: href, text: link.text))
        }
        let source = self.source.flatMap { $0.allSatisfy(\.isWhitespace) ? nil : $0 }
        let event = ChangeEvent(
            routingKey: "",
            payload: ChangeEventPayload(
                summary: summary.truncated(toCharacters: EventLimits.summaryMaxCharacters),
                source: source,
                timestamp: normalizedTimestamp,
                customDetails: details
            ),
            links: checkedLinks.isEmpty ? nil : checkedLinks
        )
        return event.fittedToLimits()
    }
}
