import AlertmanagerModels

/// What accepting a webhook (or a change event request) did.
public struct IngestResult: Sendable, Hashable, Codable {
    /// Alerts in the webhook; 0 for a change event request.
    public var alerts: Int
    /// Events queued for PagerDuty (real transitions only).
    public var queued: Int
    /// Alerts whose PagerDuty state was already right: no call.
    public var unchanged: Int
    /// Alerts no route took (no matcher matched and no default route is configured): not sent, logged.
    public var unrouted: Int

    /// Creates a result from its figures.
    public init(alerts: Int, queued: Int, unchanged: Int, unrouted: Int = 0) {
        self.alerts = alerts
        self.queued = queued
        self.unchanged = unchanged
        self.unrouted = unrouted
    }
}

/// Why a webhook or a change event request was not accepted. Nothing was stored.
public enum IngestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The path named a route the configuration does not define.
    case unknownRoute(String)
    /// An alert (or a change event request) cannot be turned into an event; `field` is a JSON path such as
    /// `alerts[3].labels` or `links[0].href`.
    case invalidAlert(field: String, reason: String)
    /// Storage failed; the sender should retry.
    case storageUnavailable(reason: String)

    public var description: String {
        switch self {
        case .unknownRoute(let name): "unknown route \"\(name)\""
        case .invalidAlert(let field, let reason): "\(field): \(reason)"
        case .storageUnavailable(let reason): "storage unavailable: \(reason)"
        }
    }
}

/// Accepts Alertmanager webhooks: decides each alert's transition and stores the resulting events durably.
public protocol AlertIngesting: Sendable {
    /// Stores every alert of `message` for `route` (the default route when `nil`) in one transaction.
    /// Returns only after the transaction committed; throws ``IngestError`` otherwise.
    func ingest(_ message: WebhookMessage, route: String?) async throws(IngestError) -> IngestResult
}

/// Accepts change events (`POST /v1/change-events`): checks the request and stores the change event durably.
public protocol ChangeEventIngesting: Sendable {
    /// Stores the change event `request` describes for `route` (the default route when `nil`) in one
    /// transaction. Returns only after the transaction committed; throws ``IngestError`` otherwise
    /// (``IngestError/invalidAlert(field:reason:)`` names the offending field of the request).
    func ingest(_ request: ChangeEventRequest, route: String?) async throws(IngestError) -> IngestResult
}

/// One readiness check's outcome.
public struct ReadinessCheck: Sendable, Hashable, Codable {
    public var name: String
    public var ok: Bool
    /// Why the check failed; never a secret.
    public var detail: String?

    public init(name: String, ok: Bool, detail: String? = nil) {
        self.name = name
        self.ok = ok
        self.detail = detail
    }
}

/// Answers `/readyz`: whether the daemon can accept work now.
public protocol ReadinessChecking: Sendable {
    func readiness() async -> [ReadinessCheck]
}
