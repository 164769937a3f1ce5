import Foundation

/// Reads the alerts an Alertmanager currently holds through its API v2.
///
/// One call, ``alerts()``, lists every alert (active, silenced, inhibited and unprocessed), so the caller can tell
/// which alerts are suppressed and which have disappeared. The client itself holds no state and never retries.
public struct AlertmanagerAPIClient: Sendable {
    /// The query asking for alerts in every state.
    static let alertsPathAndQuery = "/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true"
    /// How much of a non-2xx answer's body an error quotes.
    static let bodyExcerptLimit = 200

    /// The Alertmanager this client talks to.
    public let endpoint: AlertmanagerEndpoint
    private let credentials: AlertmanagerCredentials
    private let http: any AlertmanagerHTTPGetting

    /// Creates a client for `endpoint`, authenticating with `credentials`, going through `http`.
    public init(endpoint: AlertmanagerEndpoint, credentials: AlertmanagerCredentials, http: any AlertmanagerHTTPGetting) {
        self.endpoint = endpoint
        self.credentials = credentials
        self.http = http
    }

    /// GET {base}/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true, Accept: application/json.
    ///
    /// - Throws: ``AlertmanagerAPIError``: `unreachable: ...` when no answer came back; `HTTP <status> ...` with a
    ///   short excerpt of the body for a non-2xx answer; `the answer is not a valid alert list: at <path>: ...`
    ///   when the body does not decode. No error holds the token or the password.
    public func alerts() async throws(AlertmanagerAPIError) -> [APIAlert] {
        var headers = [("Accept", "application/json")]
        if let authorization = credentials.authorizationHeaderValue {
            headers.append(("Authorization", authorization))
        }
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try await http.get(url: endpoint.baseURL + Self.alertsPathAndQuery, headers: headers)
        } catch {
            throw failure("unreachable: " + error.reason)
        }
        guard (200..<300).contains(answer.status) else {
            throw failure("HTTP \(answer.status) from GET /api/v2/alerts" + excerpt(of: answer.body))
        }
        do {
            return try JSONDecoder().decode([APIAlert].self, from: Data(answer.body))
        } catch let error as DecodingError {
            throw failure("the answer is not a valid alert list: " + DecodingFailureDescription.describe(error))
        } catch {
            throw failure("the answer is not a valid alert list: \(error)")
        }
    }

    /// An error whose reason has every credential removed.
    private func failure(_ reason: String) -> AlertmanagerAPIError {
        AlertmanagerAPIError(reason: credentials.redacting(reason))
    }

    /// `: <first 200 characters of the body, on one line>`, or nothing for an empty body. Credentials are removed
    /// before cutting, so that no part of one survives at the cut.
    private func excerpt(of body: [UInt8]) -> String {
        let text = credentials.redacting(String(decoding: body, as: UTF8.self))
        let oneLine = text.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        guard !oneLine.isEmpty else { return "" }
        guard oneLine.count > Self.bodyExcerptLimit else { return ": " + oneLine }
        return ": " + oneLine.prefix(Self.bodyExcerptLimit) + "…"
    }
}
