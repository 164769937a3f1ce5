import CurlHTTP

// The public surface of the Events API client. Implementations live beside this file.

/// An Events API v2 endpoint.
public enum EventsEndpoint: String, Sendable, Hashable, CaseIterable {
    /// `POST /v2/enqueue`: trigger, acknowledge and resolve.
    case enqueue
    /// `POST /v2/change/enqueue`: change events.
    case change

    /// The path below the Events API base URL.
    public var path: String {
        switch self {
        case .enqueue: "/v2/enqueue"
        case .change: "/v2/change/enqueue"
        }
    }
}

/// Something that can POST a body and return the answer. Blocking work never runs on the caller's executor.
public protocol HTTPTransport: Sendable {
    /// POSTs `body` to `url` with `headers`, throwing ``TransportError`` when no HTTP answer came back.
    func post(url: String, headers: [(String, String)], body: [UInt8]) async throws(TransportError) -> HTTPResponse
    /// Whether requests really leave the process; false for ``DryRunTransport``, whose answers PagerDuty never gave.
    var sendsRequests: Bool { get }
}

extension HTTPTransport {
    /// A transport sends its requests unless it says otherwise.
    public var sendsRequests: Bool { true }
}

/// The libcurl transport (target `CurlHTTP`, shared with the Alertmanager API client) sends the Events API's
/// requests.
extension CurlHTTPTransport: HTTPTransport {}
