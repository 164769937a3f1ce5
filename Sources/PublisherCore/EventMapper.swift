import AlertmanagerModels
import Foundation
import PagerDutyEvents

/// Why an alert cannot become an event.
public struct AlertMappingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// The dedup_key of an alert: its fingerprint, or when the sender gave none, the Prometheus fingerprint of its
/// labels. Deterministic, so losing the ledger never strands an incident.
public enum DedupKey {
    /// The dedup_key for `alert`; throws when the alert has neither a fingerprint nor labels.
    public static func of(_ alert: Alert) throws(AlertMappingError) -> String {
        if let fingerprint = alert.fingerprint, !fingerprint.isEmpty {
            return fingerprint
        }
        guard !alert.labels.isEmpty else {
            throw AlertMappingError(reason: "an alert needs a fingerprint or at least one label")
        }
        return LabelSetFingerprint.of(alert.labels)
    }

    /// The dedup_key of an Alertmanager group: the SHA-256 (hex) of its group key, as Alertmanager's own
    /// PagerDuty integration derives it.
    public static func ofGroup(_ groupKey: String) -> String {
        TextDigest.sha256Hex(groupKey)
    }
}

/// Turns an Alertmanager alert into a PagerDuty alert event (without its routing key, which the dispatcher adds).
///
/// - summary: the `summary` annotation, else `description`, else the alert name and its identifying labels;
///   cut to 1,024 characters.
/// - severity: from the `severity` label through ``SeverityMapping``.
/// - source: the `instance` label, else `job`, else the host of the generator URL, else `alertmanager`.
/// - component, group, class: the labels of those names, else `service`/`container`, `namespace`/`cluster`,
///   and the alert name.
/// - custom_details: labels, annotations, status, startsAt, endsAt, generatorURL, fingerprint, receiver.
/// - links: the generator URL, the `runbook_url` annotation and dashboard annotations; images from an https
///   `image_url` annotation. client and client_url name the sending Alertmanager.
public struct EventMapper: Sendable {
    /// An annotation whose URL becomes a link, with the text shown for it.
    public struct LinkAnnotation: Sendable, Hashable {
        public var annotation: String
        public var text: String

        public init(annotation: String, text: String) {
            self.annotation = annotation
            self.text = text
        }
    }

    /// The labels that feed the payload's fields, each tried in order.
    public struct FieldLabels: Sendable, Hashable {
        public var source = ["instance", "job"]
        public var component = ["component", "service", "container"]
        public var group = ["group", "namespace", "cluster"]
        public var `class` = ["class", "alertname"]

        public init() {}
    }

    /// Which labels and annotations go into `custom_details`: those in `include` (all when `nil`), less those in
    /// `exclude`.
    public struct DetailsFilter: Sendable, Hashable {
        public var include: Set<String>?
        public var exclude: Set<String>

        public init(include: Set<String>? = nil, exclude: Set<String> = []) {
            self.include = include
            self.exclude = exclude
        }

        func keeps(_ name: String) -> Bool {
            (include?.contains(name) ?? true) && !exclude.contains(name)
        }
    }

    /// The annotations that become links by default.
    public static let defaultLinkAnnotations: [LinkAnnotation] = [
        LinkAnnotation(annotation: "runbook_url", text: "Runbook"),
        LinkAnnotation(annotation: "runbook", text: "Runbook"),
        LinkAnnotation(annotation: "dashboard_url", text: "Dashboard"),
        LinkAnnotation(annotation: "dashboard", text: "Dashboard"),
        LinkAnnotation(annotation: "grafana_url", text: "Dashboard"),
    ]

    public var severityMapping: SeverityMapping
    /// The `client` field of trigger events.
    public var clientName: String
    /// The labels behind source, component, group and class.
    public var fieldLabels: FieldLabels
    /// The summary, from the alert's labels and annotations; `nil` uses summary, description, then labels.
    public var summaryTemplate: SummaryTemplate?
    /// Which labels and annotations `custom_details` carries.
    public var detailsFilter: DetailsFilter
    /// The annotations that become links (after the generator URL).
    public var linkAnnotations: [LinkAnnotation]

    public init(
        severityMapping: SeverityMapping = SeverityMapping(),
        clientName: String = "Alertmanager",
        fieldLabels: FieldLabels = FieldLabels(),
        summaryTemplate: SummaryTemplate? = nil,
        detailsFilter: DetailsFilter = DetailsFilter(),
        linkAnnotations: [LinkAnnotation] = EventMapper.defaultLinkAnnotations
    ) {
        self.severityMapping = severityMapping
        self.clientName = clientName
        self.fieldLabels = fieldLabels
        self.summaryTemplate = summaryTemplate
        self.detailsFilter = detailsFilter
        self.linkAnnotations = linkAnnotations
    }

    /// The event for `action` on `alert`, which arrived in `message`, fitted to PagerDuty's limits.
    public func event(
        for alert: Alert,
        action: EventAction,
        in message: WebhookMessage,
        dedupKey: String
    ) -> AlertEvent {
        unfittedEvent(for: alert, action: action, in: message, dedupKey: dedupKey).fittedToLimits()
    }

    /// ``event(for:action:in:dedupKey:)`` with its JSON, encoded once (the ingest path stores these bytes).
    /// - Throws: `EncodingError` when a value cannot be represented in JSON.
    public func encodedEvent(
        for alert: Alert,
        action: EventAction,
        in message: WebhookMessage,
        dedupKey: String
    ) throws -> (event: AlertEvent, body: [UInt8]) {
        try unfittedEvent(for: alert, action: action, in: message, dedupKey: dedupKey).fittedAndEncoded()
    }

    func unfittedEvent(
        for alert: Alert,
        action: EventAction,
        in message: WebhookMessage,
        dedupKey: String
    ) -> AlertEvent {
        let labels = alert.labels
        let severity = severityMapping.severity(for: labels)
        let payload = AlertPayload(
            summary: summary(of: alert),
            source: source(of: alert, message: message),
            severity: severity,
            timestamp: alert.startsAt.map(RFC3339.format),
            component: labels.firstValue(of: fieldLabels.component),
            group: labels.firstValue(of: fieldLabels.group),
            class: labels.firstValue(of: fieldLabels.class),
            customDetails: customDetails(of: alert, message: message, dedupKey: dedupKey)
        )
        let isTrigger = action == .trigger
        let event = AlertEvent(
            routingKey: "",
            eventAction: action,
            dedupKey: dedupKey,
            payload: payload,
            client: isTrigger ? clientName : nil,
            clientURL: isTrigger ? message.externalURL.flatMap(Self.webURL) : nil,
            links: links(of: alert),
            images: images(of: alert)
        )
        return event
    }

    /// The change event for `alert` (one carrying ``AlertPublisher/changeEventLabel``), which arrived in
    /// `message`: summary, source, timestamp (the alert's `startsAt`), custom_details, links and images come
    /// from the same rules as a trigger's. Its routing key is empty; it is fitted to PagerDuty's limits.
    public func changeEvent(for alert: Alert, in message: WebhookMessage) -> ChangeEvent {
        let fingerprint = try? DedupKey.of(alert)
        let event = ChangeEvent(
            routingKey: "",
            payload: ChangeEventPayload(
                summary: summary(of: alert),
                source: source(of: alert, message: message),
                timestamp: alert.startsAt.map(RFC3339.format),
                customDetails: customDetails(of: alert, message: message, dedupKey: fingerprint)
            ),
            links: links(of: alert),
            images: images(of: alert)
        )
        return event.fittedToLimits()
    }

    /// The summary line of an alert.
    public func summary(of alert: Alert) -> String {
        let text: String
        if let summaryTemplate, let rendered = Optional(summaryTemplate.render(alert)).nonBlank {
            text = rendered
        } else if let summary = alert.annotations["summary"].nonBlank {
            text = summary
        } else if let description = alert.annotations["description"].nonBlank {
            text = description
        } else {
            let name = alert.labels["alertname"].nonBlank ?? "Alert"
            let identifying = alert.labels
                .filter { $0.key != "alertname" && $0.key != severityMapping.label }
                .sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }
            text = identifying.isEmpty ? name : "\(name) (\(identifying.joined(separator: ", ")))"
        }
        return text.truncated(toCharacters: EventLimits.summaryMaxCharacters)
    }

    private func source(of alert: Alert, message: WebhookMessage) -> String {
        if let source = alert.labels.firstValue(of: fieldLabels.source) { return source }
        if let host = alert.generatorURL.flatMap({ URLComponents(string: $0)?.host }), !host.isEmpty { return host }
        return "alertmanager"
    }

    private func customDetails(of alert: Alert, message: WebhookMessage, dedupKey: String?) -> JSONValue {
        var details: [String: JSONValue] = [
            "labels": .object(alert.labels.filter { detailsFilter.keeps($0.key) }.mapValues(JSONValue.string)),
            "annotations": .object(alert.annotations.filter { detailsFilter.keeps($0.key) }.mapValues(JSONValue.string)),
            "status": .string(alert.status.rawValue),
        ]
        if let dedupKey { details["fingerprint"] = .string(dedupKey) }
        if let startsAt = alert.startsAt { details["startsAt"] = .string(RFC3339.format(startsAt)) }
        if let endsAt = alert.endsAt { details["endsAt"] = .string(RFC3339.format(endsAt)) }
        if let url = alert.generatorURL.nonBlank { details["generatorURL"] = .string(url) }
        if let receiver = message.receiver.nonBlank { details["receiver"] = .string(receiver) }
        return .object(details)
    }

    private func links(of alert: Alert) -> [Link]? {
        var links: [Link] = []
        var seen: Set<String> = []
        func add(_ href: String?, _ text: String) {
            guard let href = href.flatMap(Self.webURL), seen.insert(href).inserted else { return }
            links.append(Link(href: href, text: text))
        }
        add(alert.generatorURL, "Source")
        for link in linkAnnotations {
            add(alert.annotations[link.annotation], link.text)
        }
        return links.isEmpty ? nil : links
    }

    private func images(of alert: Alert) -> [Image]? {
        guard let source = alert.annotations["image_url"].flatMap(Self.webURL), source.hasPrefix("https://") else {
            return nil
        }
        return [Image(src: source, alt: alert.labels["alertname"])]
    }

    /// `text` when it is an absolute http(s) URL.
    static func webURL(_ text: String) -> String? {
        // Most URLs are plain ASCII: checked without Foundation, which was a tenth of the webhook path's CPU.
        if let plain = PlainWebURL.check(text) { return plain ? text : nil }
        return foundationWebURL(text)
    }

    /// ``webURL(_:)`` decided by `URLComponents` alone: the reference of the fast check.
    static func foundationWebURL(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let components = URLComponents(string: trimmed),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else { return nil }
        return trimmed
    }
}

/// A fast check of the common case of ``EventMapper/webURL(_:)``: an http(s) URL of RFC 3986 characters with no
/// surrounding blanks and no percent-escapes. Answers `nil` (undecided) for anything else, which then goes
/// through `URLComponents`.
enum PlainWebURL {
    /// `true`: a usable http(s) URL with a host; `false`: not one; `nil`: undecided.
    static func check(_ text: String) -> Bool? {
        var utf8 = Substring(text).utf8
        guard utf8.allSatisfy(isPlainURLByte) else { return nil }
        let lowered = utf8.prefix(8).map { $0 | 0x20 }
        if lowered.starts(with: Array("https://".utf8)) {
            utf8 = utf8.dropFirst(8)
        } else if lowered.starts(with: Array("http://".utf8)) {
            utf8 = utf8.dropFirst(7)
        } else {
            return utf8.contains(UInt8(ascii: ":")) ? nil : false
        }
        let authority = utf8.prefix { $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }
        let hostAndPort = authority.split(separator: UInt8(ascii: "@"), omittingEmptySubsequences: false).last ?? authority
        guard hostAndPort.first != UInt8(ascii: "[") else { return nil }  // IPv6 literals: leave to Foundation
        let parts = hostAndPort.split(separator: UInt8(ascii: ":"), maxSplits: 1, omittingEmptySubsequences: false)
        guard let host = parts.first, !host.isEmpty else { return nil }
        if parts.count == 2, !parts[1].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) { return nil }
        return true
    }

    /// Unreserved and reserved characters of RFC 3986, without `%`.
    private static func isPlainURLByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "-._~:/?#[]@!$&'()*+,;=".utf8.contains(byte)
        }
    }
}

extension Dictionary where Key == String, Value == String {
    /// The first non-blank value among `keys`.
    fileprivate func firstValue(of keys: [String]) -> String? {
        for key in keys {
            if let value = self[key].nonBlank { return value }
        }
        return nil
    }
}

extension Optional where Wrapped == String {
    /// The string when it has something besides white space.
    fileprivate var nonBlank: String? {
        guard let value = self, !value.allSatisfy(\.isWhitespace) else { return nil }
        return value
    }
}
