/// What became of one delivery attempt to the Events API.
public enum DeliveryOutcome: Sendable, Hashable {
    /// 2xx (PagerDuty answers 202): the event was accepted; `dedupKey` is the key PagerDuty reported, if any.
    case accepted(dedupKey: String?)
    /// 400, 413 or 422, or an event that cannot be encoded: PagerDuty will never take it. Not retried; the event
    /// becomes a dead letter. `reason` is PagerDuty's message and errors, trimmed, without the routing key.
    case rejected(reason: String)
    /// 429: not ingested; retry after `retryAfter` (from the `Retry-After` header, in seconds) or a backoff.
    case rateLimited(retryAfter: Duration?)
    /// 5xx: retried with backoff.
    case serverError(status: Int, reason: String)
    /// Any other status (3xx, 401, 403, 404…): retried with backoff.
    case unexpectedStatus(status: Int, reason: String)
    /// No answer within the transport's timeout: retried.
    case timeout(reason: String)
    /// No answer (DNS, connection, TLS, proxy failure): retried.
    case network(reason: String)

    /// The `error_type` label of `pagerduty_api_errors_total`; nil for an accepted event.
    public var errorType: String? {
        switch self {
        case .accepted: nil
        case .rejected: "client_error"
        case .rateLimited: "rate_limited"
        case .serverError: "server_error"
        case .unexpectedStatus: "unexpected_status"
        case .timeout: "timeout"
        case .network: "network"
        }
    }

    /// Whether sending the same event again may succeed.
    public var isRetryable: Bool {
        switch self {
        case .accepted, .rejected: false
        case .rateLimited, .serverError, .unexpectedStatus, .timeout, .network: true
        }
    }
}

/// The result of one call to ``EventsAPIClient``.
public struct DeliveryReport: Sendable, Hashable {
    /// The endpoint called.
    public var endpoint: EventsEndpoint
    /// What happened.
    public var outcome: DeliveryOutcome
    /// The HTTP status, when an answer came back.
    public var httpStatus: Int?
    /// From just before encoding to the end of the answer (or the failure).
    public var duration: Duration
    /// False when the request never left the process (a dry run): the answer was made up, not PagerDuty's.
    public var wasSent: Bool

    /// Creates a report.
    public init(endpoint: EventsEndpoint, outcome: DeliveryOutcome, httpStatus: Int?, duration: Duration, wasSent: Bool = true) {
        self.endpoint = endpoint
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.duration = duration
        self.wasSent = wasSent
    }

    /// The `status` label of `pagerduty_api_requests_total`: the HTTP status code, or `timeout` / `network` when no
    /// answer came back (`client_error` for an event rejected before sending), or `dry_run` for a request that was
    /// never sent.
    public var statusLabel: String {
        if !wasSent, httpStatus != nil { return "dry_run" }
        if let httpStatus { return String(httpStatus) }
        switch outcome {
        case .timeout: return "timeout"
        case .rejected: return "client_error"
        default: return "network"
        }
    }
}
