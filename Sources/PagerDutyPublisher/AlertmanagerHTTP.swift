import CurlHTTP
import AlertmanagerModels
import PagerDutyEvents

/// Lets the Alertmanager API client go through the libcurl transport: same worker threads, TLS rules, timeouts and
/// proxies as the calls to PagerDuty. A wrapper rather than a conformance of ``CurlHTTPTransport`` itself, whose own
/// `get(url:headers:)`, `post(url:headers:body:)` and `delete(url:headers:)` return an ``HTTPResponse`` and throw
/// ``TransportError``.
struct CurlAlertmanagerHTTP: AlertmanagerHTTP {
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

    /// POSTs `body` to `url`; a transport failure becomes an ``AlertmanagerAPIError`` as for ``get(url:headers:)``.
    func post(url: String, headers: [(String, String)], body: [UInt8]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8]) {
        do {
            let response = try await transport.post(url: url, headers: headers, body: body)
            return (response.status, response.body)
        } catch {
            throw Self.apiError(for: error)
        }
    }

    /// DELETEs `url`; a transport failure becomes an ``AlertmanagerAPIError`` as for ``get(url:headers:)``.
    func delete(url: String, headers: [(String, String)]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8]) {
        do {
            let response = try await transport.delete(url: url, headers: headers)
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
