import Foundation

/// Talks to one Alertmanager through its API v2: reads the alerts and silences it holds, creates, extends and expires
/// silences.
///
/// ``alerts()`` lists every alert (active, silenced, inhibited and unprocessed), so the caller can tell which alerts
/// are suppressed and which have disappeared. ``postSilence(_:)`` creates or replaces a silence and
/// ``expireSilence(id:)`` ends one. The client itself holds no state and never retries.
public struct AlertmanagerAPIClient: Sendable {
    /// The query asking for alerts in every state.
    static let alertsPathAndQuery = "/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true"
    /// How much of a non-2xx answer's body an error quotes.
    static let bodyExcerptLimit = 200

    /// The Alertmanager this client talks to.
    public let endpoint: AlertmanagerEndpoint
    private let credentials: AlertmanagerCredentials
    private let http: any AlertmanagerHTTP

    /// Creates a client for `endpoint`, authenticating with `credentials`, going through `http`.
    public init(endpoint: AlertmanagerEndpoint, credentials: AlertmanagerCredentials, http: any AlertmanagerHTTP) {
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
        try await getJSON([APIAlert].self, pathAndQuery: Self.alertsPathAndQuery, path: "/api/v2/alerts", what: "alert list")
    }

    /// GET {base}/api/v2/silences, Accept: application/json: every silence Alertmanager holds (active, pending, and
    /// expired ones within their retention).
    ///
    /// - Throws: ``AlertmanagerAPIError`` as ``alerts()`` does, with `the answer is not a valid silence list: ...`
    ///   when the body does not decode. No error holds the token or the password.
    public func silences() async throws(AlertmanagerAPIError) -> [APISilence] {
        try await getJSON([APISilence].self, pathAndQuery: Self.silencesPath, path: Self.silencesPath, what: "silence list")
    }

    /// GETs `pathAndQuery` and decodes the 2xx answer's body as `type`; `path` names the request in errors, `what`
    /// names the expected answer.
    private func getJSON<Answer: Decodable>(
        _ type: Answer.Type, pathAndQuery: String, path: String, what: String
    ) async throws(AlertmanagerAPIError) -> Answer {
        let headers = headers([("Accept", "application/json")])
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try await http.get(url: endpoint.baseURL + pathAndQuery, headers: headers)
        } catch {
            throw failure("unreachable: " + error.reason)
        }
        guard (200..<300).contains(answer.status) else {
            throw failure("HTTP \(answer.status) from GET \(path)" + excerpt(of: answer.body))
        }
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(answer.body))
        } catch let error as DecodingError {
            throw failure("the answer is not a valid \(what): " + DecodingFailureDescription.describe(error))
        } catch {
            throw failure("the answer is not a valid \(what): \(error)")
        }
    }

    /// POST {base}/api/v2/silences: creates `silence`, or replaces the silence ``SilenceRequest/id`` names, and
    /// returns the id Alertmanager gave it.
    ///
    /// The body is Alertmanager's `PostableSilence`: `id` (only when set), `matchers` (`name`, `value`, `isRegex`,
    /// `isEqual`), `startsAt` and `endsAt` (RFC 3339 in UTC with milliseconds), `createdBy` and `comment`.
    ///
    /// Alertmanager updates a silence in place (same id) when only its end moves and it has not expired; otherwise
    /// (other matchers, an expired silence) it expires the old one and answers with a new id, so the caller must keep
    /// the id returned, not the one sent. A replaced id Alertmanager no longer knows (garbage-collected after its
    /// retention, 120 h by default) is answered with 404, which this method throws like any non-2xx answer.
    ///
    /// - Throws: ``AlertmanagerAPIError``: `unreachable: ...` when no answer came back; `HTTP <status> from POST
    ///   /api/v2/silences: <excerpt>` for a non-2xx answer; `the answer is not a valid silence id: ...` when a 2xx
    ///   body has no `silenceID`. No error holds the token or the password.
    public func postSilence(_ silence: SilenceRequest) async throws(AlertmanagerAPIError) -> String {
        let body: [UInt8]
        do {
            body = try PostableSilence.encode(silence)
        } catch {
            throw failure("the silence could not be encoded as JSON: \(error)")
        }
        let headers = headers([("Content-Type", "application/json"), ("Accept", "application/json")])
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try await http.post(url: endpoint.baseURL + Self.silencesPath, headers: headers, body: body)
        } catch {
            throw failure("unreachable: " + error.reason)
        }
        guard (200..<300).contains(answer.status) else {
            throw failure("HTTP \(answer.status) from POST \(Self.silencesPath)" + excerpt(of: answer.body))
        }
        let created: PostedSilence
        do {
            created = try JSONDecoder().decode(PostedSilence.self, from: Data(answer.body))
        } catch let error as DecodingError {
            throw failure("the answer is not a valid silence id: " + DecodingFailureDescription.describe(error))
        } catch {
            throw failure("the answer is not a valid silence id: \(error)")
        }
        guard !created.silenceID.isEmpty else {
            throw failure("the answer is not a valid silence id: at silenceID: the id is empty")
        }
        return created.silenceID
    }

    /// DELETE {base}/api/v2/silence/{id}: expires the silence `id` (Alertmanager keeps it, expired, until its
    /// retention ends).
    ///
    /// A silence that is already expired or gone is not an error, since nothing is left to expire. What
    /// Alertmanager answers (checked in its source, api/v2/api.go `deleteSilenceHandler` and silence/silence.go
    /// `expire`):
    /// - already expired: 200 since 0.24 (`expire` is idempotent until the silence is garbage-collected);
    /// - unknown id (never existed there, or garbage-collected after its retention, 120 h by default): 404 since
    ///   0.26; 0.25 answers 500 with the body `"silence not found"`, which this method also takes as done.
    /// Alertmanager's API declares the id a UUID: another id is answered with 422, thrown like any other status.
    /// A 404 from a wrong base URL (say, a missing path prefix) also reads as done here; ``alerts()`` on the same
    /// endpoint fails with 404 then, which is where such a misconfiguration shows.
    ///
    /// - Throws: ``AlertmanagerAPIError``: `the silence id ... is not valid` for an empty, `.` or `..` id;
    ///   `unreachable: ...` when no answer came back; `HTTP <status> from DELETE /api/v2/silence/<id>: <excerpt>`
    ///   for any other non-2xx answer. No error holds the token or the password.
    public func expireSilence(id: String) async throws(AlertmanagerAPIError) {
        guard !id.isEmpty, id != ".", id != ".." else {
            throw failure("the silence id \"\(id)\" is not valid: it must be a non-empty path segment")
        }
        let path = Self.silencePathPrefix + Self.percentEncodedPathSegment(id)
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try await http.delete(url: endpoint.baseURL + path, headers: headers([("Accept", "application/json")]))
        } catch {
            throw failure("unreachable: " + error.reason)
        }
        if (200..<300).contains(answer.status) || answer.status == 404 || Self.isNotFoundOf025(answer) { return }
        throw failure("HTTP \(answer.status) from DELETE \(path)" + excerpt(of: answer.body))
    }

    /// Alertmanager 0.25's answer to a DELETE of an unknown silence: 500 with the JSON string `"silence not found"`
    /// (its `silence.ErrNotFound`; 0.26 turned it into 404).
    private static func isNotFoundOf025(_ answer: (status: Int, body: [UInt8])) -> Bool {
        guard answer.status == 500 else { return false }
        let text = String(decoding: answer.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text == #""silence not found""# || text == "silence not found"
    }

    /// The path of silence creation.
    static let silencesPath = "/api/v2/silences"
    /// The path of one silence, before its id.
    static let silencePathPrefix = "/api/v2/silence/"

    /// `segment` with every byte outside RFC 3986's unreserved characters (letters, digits, `-._~`) percent-encoded,
    /// so that a `/`, `?` or `#` in it cannot change the path.
    static func percentEncodedPathSegment(_ segment: String) -> String {
        var encoded = ""
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return encoded
    }

    /// `extra` and, when there are credentials, the Authorization header.
    private func headers(_ extra: [(String, String)]) -> [(String, String)] {
        var headers = extra
        if let authorization = credentials.authorizationHeaderValue {
            headers.append(("Authorization", authorization))
        }
        return headers
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
