import AlertmanagerModels
import PagerDutyEvents

/// Lets the Alertmanager API client go through the libcurl transport: same worker threads, TLS rules, timeouts and
/// proxies as the calls to PagerDuty. A wrapper rather than a conformance of ``CurlHTTPTransport`` itself, whose own
/// `get(url:headers:)` returns an ``HTTPResponse`` and throws ``TransportError``.
struct CurlAlertmanagerHTTP: AlertmanagerHTTPGetting {
    let transport: CurlHTTPTransport

    /// GETs `url`; a transport failure (timeout, refused, TLS) becomes an ``AlertmanagerAPIError`` saying which.
    func get(url: String, headers: [(String, String)]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8]) {
        do {
            let response = try await transport.get(url: url, headers: headers)
            return (response.status, response.body)
        } catch {
            throw Self.apiError(for: error)
        }
    }

    /// `timed out: ...` or `network error: ...`, with the transport's reason (libcurl's text, never a header).
    static func apiError(for error: TransportError) -> AlertmanagerAPIError {
        switch error.kind {
        case .timeout: AlertmanagerAPIError(reason: "timed out: " + error.reason)
        case .network: AlertmanagerAPIError(reason: "network error: " + error.reason)
        }
    }
}
