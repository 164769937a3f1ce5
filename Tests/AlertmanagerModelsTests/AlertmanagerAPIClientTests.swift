import AlertmanagerModels
import Foundation
import PublisherTestSupport
import Synchronization
import Testing

/// An ``AlertmanagerHTTP`` that records each request and plays back one scripted outcome.
private final class ScriptedHTTP: AlertmanagerHTTP {
    struct Request: Sendable {
        var method: String
        var url: String
        var headers: [(String, String)]
        var body: [UInt8]?

        /// The body parsed as a JSON object.
        func jsonBody() throws -> [String: Any] {
            let body = try #require(body)
            return try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        }

        func header(_ name: String) -> [String] {
            headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
        }
    }

    private let outcome: Result<(status: Int, body: [UInt8]), AlertmanagerAPIError>
    private let recorded = Mutex<[Request]>([])

    init(status: Int, body: String) {
        outcome = .success((status, Array(body.utf8)))
    }

    init(status: Int, body: [UInt8]) {
        outcome = .success((status, body))
    }

    init(failure: AlertmanagerAPIError) {
        outcome = .failure(failure)
    }

    var requests: [Request] { recorded.withLock { $0 } }

    func get(url: String, headers: [(String, String)]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8]) {
        recorded.withLock { $0.append(Request(method: "GET", url: url, headers: headers, body: nil)) }
        return try outcome.get()
    }

    func post(url: String, headers: [(String, String)], body: [UInt8]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8]) {
        recorded.withLock { $0.append(Request(method: "POST", url: url, headers: headers, body: body)) }
        return try outcome.get()
    }

    func delete(url: String, headers: [(String, String)]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8]) {
        recorded.withLock { $0.append(Request(method: "DELETE", url: url, headers: headers, body: nil)) }
        return try outcome.get()
    }
}

/// The credentials both suites try to leak through errors, and the check that none shows.
private enum CredentialLeaks {
    static let token = "tok-7f3a9c1e5b2d4f6a8c0e"
    static let password = "pa55-w0rd-9d8c7b6a"

    /// Each kind of credential with the strings that must never show: the raw secret and its header form.
    static let cases: [(AlertmanagerCredentials, [String])] = [
        (.bearer(token: token), [token]),
        (
            .basic(username: "publisher", password: password),
            [password, Data("publisher:\(password)".utf8).base64EncodedString()]
        ),
    ]

    /// An answer that quotes the request's `Authorization` header back, as a misbehaving proxy would.
    static func echo(of secrets: [String]) -> String {
        "denied: " + secrets.map { "Authorization: \($0)" }.joined(separator: " / ")
    }

    /// Expects that no secret shows in any of the error's texts.
    static func expectNone(of secrets: [String], in error: AlertmanagerAPIError, sourceLocation: SourceLocation = #_sourceLocation) {
        for text in [error.reason, error.description, String(describing: error), String(reflecting: error)] {
            for secret in secrets {
                #expect(!text.contains(secret), "\(text)", sourceLocation: sourceLocation)
            }
        }
    }
}

@Suite("Alertmanager API client", .timeLimit(.minutes(2)))
struct AlertmanagerAPIClientTests {
    static let token = CredentialLeaks.token
    static let password = CredentialLeaks.password

    private func client(
        _ http: ScriptedHTTP, url: String = "http://am.example:9093/prefix/", credentials: AlertmanagerCredentials = .none
    ) throws -> AlertmanagerAPIClient {
        AlertmanagerAPIClient(endpoint: try AlertmanagerEndpoint(url: url), credentials: credentials, http: http)
    }

    private func expectFailure(_ client: AlertmanagerAPIClient) async -> AlertmanagerAPIError? {
        await #expect(throws: AlertmanagerAPIError.self) {
            _ = try await client.alerts()
        }
    }

    @Test func asksForAlertsInEveryStateAndDecodesTheAnswer() async throws {
        let http = ScriptedHTTP(status: 200, body: Array(try Fixtures.alertmanagerAPI("alerts-0.25.json")))
        let alerts = try await client(http).alerts()
        #expect(alerts.count == 4)
        #expect(Set(alerts.map(\.fingerprint)) == ["3477fcdaf5de3f87", "4005477b62c301a4", "8e7c50d72040066f", "9f4b6af0aa2e1b53"])

        let request = try #require(http.requests.first)
        #expect(http.requests.count == 1)
        #expect(request.method == "GET")
        #expect(request.url == "http://am.example:9093/prefix/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true")
        #expect(request.header("Accept") == ["application/json"])
        #expect(request.header("Authorization") == [], "no credentials, no Authorization header")
    }

    @Test func listsSilencesWithTheirCreatorAndState() async throws {
        // Alertmanager's GettableSilence, as 0.25 answers it (fields the client does not read included).
        let body = """
            [{"id":"6d6e1c5c-9f0e-4f5e-8f0a-2f9c1b3e4d5a","status":{"state":"active"},"updatedAt":"2026-12-07T10:00:00.000Z",
              "comment":"Acknowledged in PagerDuty by Ada","createdBy":"pagerduty-publisher",
              "endsAt":"2026-12-07T11:00:00.000Z","startsAt":"2026-12-07T10:00:00.000Z",
              "matchers":[{"isEqual":true,"isRegex":false,"name":"alertname","value":"DiskFull"}]},
             {"id":"0b1c2d3e-0000-4000-8000-000000000001","status":{"state":"expired"},"comment":"maintenance",
              "createdBy":"ops","endsAt":"2026-12-06T11:00:00.000Z","startsAt":"2026-12-06T10:00:00.000Z",
              "matchers":[]},
             {"id":"0b1c2d3e-0000-4000-8000-000000000002","status":{"state":"dormant"},"comment":"",
              "createdBy":"ops","endsAt":"2026-12-08T11:00:00.000Z","startsAt":"2026-12-08T10:00:00.000Z","matchers":[]}]
            """
        let http = ScriptedHTTP(status: 200, body: body)
        let silences = try await client(http, credentials: .bearer(token: Self.token)).silences()
        #expect(silences == [
            APISilence(id: "6d6e1c5c-9f0e-4f5e-8f0a-2f9c1b3e4d5a", createdBy: "pagerduty-publisher", state: .active),
            APISilence(id: "0b1c2d3e-0000-4000-8000-000000000001", createdBy: "ops", state: .expired),
            APISilence(id: "0b1c2d3e-0000-4000-8000-000000000002", createdBy: "ops", state: .unknown),
        ])
        let request = try #require(http.requests.first)
        #expect(request.method == "GET")
        #expect(request.url == "http://am.example:9093/prefix/api/v2/silences")
        #expect(request.header("Authorization") == ["Bearer \(Self.token)"])

        let broken = ScriptedHTTP(status: 200, body: #"[{"id":"x","status":{"state":"active"}}]"#)
        let error = await #expect(throws: AlertmanagerAPIError.self) { _ = try await client(broken).silences() }
        #expect(error?.reason.hasPrefix("the answer is not a valid silence list: ") == true, "\(String(describing: error))")
        #expect(error?.reason.contains("createdBy") == true, "names the missing field")

        let refused = ScriptedHTTP(status: 503, body: "busy")
        let failure = await #expect(throws: AlertmanagerAPIError.self) { _ = try await client(refused).silences() }
        #expect(failure?.reason == "HTTP 503 from GET /api/v2/silences: busy")
    }

    @Test func theEndpointIsKept() throws {
        let client = try client(ScriptedHTTP(status: 200, body: "[]"))
        #expect(client.endpoint.displayName == "am.example:9093/prefix")
    }

    @Test func aBearerTokenIsSentInTheAuthorizationHeader() async throws {
        let http = ScriptedHTTP(status: 200, body: "[]")
        _ = try await client(http, credentials: .bearer(token: Self.token)).alerts()
        #expect(http.requests.first?.header("Authorization") == ["Bearer \(Self.token)"])
    }

    @Test func basicCredentialsAreSentBase64Encoded() async throws {
        let http = ScriptedHTTP(status: 200, body: "[]")
        _ = try await client(http, credentials: .basic(username: "publisher", password: Self.password)).alerts()
        let expected = "Basic " + Data("publisher:\(Self.password)".utf8).base64EncodedString()
        #expect(http.requests.first?.header("Authorization") == [expected])
    }

    @Test func aServerErrorNamesTheStatusAndQuotesTheBody() async throws {
        let http = ScriptedHTTP(status: 500, body: "internal error:\nstore unavailable\n")
        let error = await expectFailure(try client(http))
        #expect(error?.reason == "HTTP 500 from GET /api/v2/alerts: internal error: store unavailable")
    }

    @Test func aLongBodyIsCutShort() async throws {
        let http = ScriptedHTTP(status: 502, body: String(repeating: "x", count: 5000))
        let reason = await expectFailure(try client(http))?.reason ?? ""
        #expect(reason.hasPrefix("HTTP 502 from GET /api/v2/alerts: xxx"))
        #expect(reason.count < 300, "reason is \(reason.count) characters")
    }

    @Test func anEmptyErrorBodyGivesJustTheStatus() async throws {
        let error = await expectFailure(try client(ScriptedHTTP(status: 404, body: "")))
        #expect(error?.reason == "HTTP 404 from GET /api/v2/alerts")
    }

    @Test func aBodyThatIsNotJSONIsNamedSo() async throws {
        let error = await expectFailure(try client(ScriptedHTTP(status: 200, body: "<html>proxy login</html>")))
        #expect(error?.reason == "the answer is not a valid alert list: the answer is not valid JSON")
    }

    @Test func aBadFieldIsNamedByItsPath() async throws {
        let body = #"[{"fingerprint":"a","status":{"state":"active"}},{"fingerprint":"b","status":{"silencedBy":[]}}]"#
        let error = await expectFailure(try client(ScriptedHTTP(status: 200, body: body)))
        #expect(error?.reason == #"the answer is not a valid alert list: at [1].status.state: required field "state" is missing"#)
    }

    @Test func aWrongTypeIsNamedByItsPath() async throws {
        let body = #"[{"fingerprint":"a","labels":{"team":7},"status":{"state":"active"}}]"#
        let error = await expectFailure(try client(ScriptedHTTP(status: 200, body: body)))
        #expect(error?.reason == "the answer is not a valid alert list: at [0].labels.team: wrong type, expected a string")
    }

    @Test func anObjectInsteadOfAListIsRejected() async throws {
        let error = await expectFailure(try client(ScriptedHTTP(status: 200, body: #"{"alerts":[]}"#)))
        #expect(error?.reason == "the answer is not a valid alert list: at $: wrong type, expected an array")
    }

    @Test func aTransportFailureIsUnreachable() async throws {
        let http = ScriptedHTTP(failure: AlertmanagerAPIError(reason: "network error: Connection refused"))
        let error = await expectFailure(try client(http))
        #expect(error?.reason == "unreachable: network error: Connection refused")
    }

    static let credentialCases = CredentialLeaks.cases

    @Test(arguments: credentialCases)
    func errorsNeverContainTheCredentials(credentials: AlertmanagerCredentials, secrets: [String]) async throws {
        // A proxy that echoes the request, an answer quoting it in a field, and a transport whose message quotes it.
        let echo = CredentialLeaks.echo(of: secrets)
        let failures = [
            ScriptedHTTP(status: 401, body: echo),
            ScriptedHTTP(status: 200, body: #"[{"fingerprint":"f","status":{"state":"active"},"endsAt":"\#(echo)"}]"#),
            ScriptedHTTP(failure: AlertmanagerAPIError(reason: echo)),
        ]
        for http in failures {
            let error = try #require(await expectFailure(try client(http, credentials: credentials)))
            CredentialLeaks.expectNone(of: secrets, in: error)
            #expect(error.reason.contains("denied: Authorization: [REDACTED]"), "\(error.reason)")
        }
    }

    @Test func aSecretCutByTheExcerptLimitDoesNotLeakAPrefix() async throws {
        let body = String(repeating: "y", count: 190) + Self.token + String(repeating: "z", count: 100)
        let error = await expectFailure(try client(ScriptedHTTP(status: 500, body: body), credentials: .bearer(token: Self.token)))
        let reason = error?.reason ?? ""
        #expect(!reason.contains(Self.token.prefix(8)), "\(reason)")
    }

    @Test func credentialDescriptionsHideTheSecrets() {
        let bearer = AlertmanagerCredentials.bearer(token: Self.token)
        let basic = AlertmanagerCredentials.basic(username: "publisher", password: Self.password)
        #expect(!bearer.description.contains(Self.token))
        #expect(!String(describing: bearer).contains(Self.token))
        #expect(!basic.description.contains(Self.password))
        #expect(!"\(basic)".contains(Self.password))
        #expect(basic.description.contains("publisher"))
        #expect(AlertmanagerCredentials.none.description == "no credentials")
    }
}

@Suite("Alertmanager API client: silences", .timeLimit(.minutes(2)))
struct AlertmanagerAPIClientSilenceTests {
    static let token = CredentialLeaks.token
    static let password = CredentialLeaks.password
    static let silenceID = "4f1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    static let createdAnswer = #"{"silenceID":"4f1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}"#

    private func client(
        _ http: ScriptedHTTP, url: String = "http://am.example:9093/prefix/", credentials: AlertmanagerCredentials = .none
    ) throws -> AlertmanagerAPIClient {
        AlertmanagerAPIClient(endpoint: try AlertmanagerEndpoint(url: url), credentials: credentials, http: http)
    }

    /// 2024-05-01T12:00:00.250Z and two hours later.
    private func silence(id: String? = nil) -> SilenceRequest {
        SilenceRequest(
            id: id,
            matchers: SilenceRequest.matchers(exactly: ["alertname": "DiskFull", "instance": "db-1:9100"]),
            startsAt: Date(timeIntervalSince1970: 1_714_564_800.25),
            endsAt: Date(timeIntervalSince1970: 1_714_564_800.25 + 7200),
            createdBy: "pagerduty-publisher",
            comment: "Acknowledged in PagerDuty by Jane"
        )
    }

    private func postFailure(_ client: AlertmanagerAPIClient, _ silence: SilenceRequest) async -> AlertmanagerAPIError? {
        await #expect(throws: AlertmanagerAPIError.self) {
            _ = try await client.postSilence(silence)
        }
    }

    private func expireFailure(_ client: AlertmanagerAPIClient, id: String = silenceID) async -> AlertmanagerAPIError? {
        await #expect(throws: AlertmanagerAPIError.self) {
            try await client.expireSilence(id: id)
        }
    }

    // MARK: POST /api/v2/silences

    @Test func creatingPostsAPostableSilenceAndReturnsTheNewID() async throws {
        let http = ScriptedHTTP(status: 200, body: Self.createdAnswer)
        let id = try await client(http, credentials: .bearer(token: Self.token)).postSilence(silence())
        #expect(id == Self.silenceID)

        let request = try #require(http.requests.first)
        #expect(http.requests.count == 1)
        #expect(request.method == "POST")
        #expect(request.url == "http://am.example:9093/prefix/api/v2/silences")
        #expect(request.header("Content-Type") == ["application/json"])
        #expect(request.header("Accept") == ["application/json"])
        #expect(request.header("Authorization") == ["Bearer \(Self.token)"])

        let json = try request.jsonBody()
        #expect(Set(json.keys) == ["matchers", "startsAt", "endsAt", "createdBy", "comment"], "no id when creating")
        let matchers = try #require(json["matchers"] as? [[String: Any]])
        #expect(matchers.count == 2)
        #expect(matchers[0]["name"] as? String == "alertname")
        #expect(matchers[0]["value"] as? String == "DiskFull")
        #expect(matchers[0]["isRegex"] as? Bool == false)
        #expect(matchers[0]["isEqual"] as? Bool == true)
        #expect(matchers[1]["name"] as? String == "instance")
        #expect(matchers[1]["value"] as? String == "db-1:9100")
        #expect(Set(matchers[1].keys) == ["name", "value", "isRegex", "isEqual"])
        #expect(json["startsAt"] as? String == "2024-05-01T12:00:00.250Z")
        #expect(json["endsAt"] as? String == "2024-05-01T14:00:00.250Z")
        #expect(json["createdBy"] as? String == "pagerduty-publisher")
        #expect(json["comment"] as? String == "Acknowledged in PagerDuty by Jane")
    }

    @Test func replacingSendsTheIDAndReturnsTheOneAlertmanagerAnswers() async throws {
        let http = ScriptedHTTP(status: 200, body: #"{"silenceID":"new-id-after-replace"}"#)
        let id = try await client(http).postSilence(silence(id: "old-id"))
        #expect(id == "new-id-after-replace")
        let json = try #require(http.requests.first).jsonBody()
        #expect(json["id"] as? String == "old-id")
        #expect(json["endsAt"] as? String == "2024-05-01T14:00:00.250Z")
        #expect(http.requests.first?.header("Authorization") == [], "no credentials, no Authorization header")
    }

    @Test func aRegexOrNegativeMatcherIsSentAsSuch() async throws {
        var request = silence()
        request.matchers = [.init(name: "job", value: "node.*", isRegex: true, isEqual: false)]
        let http = ScriptedHTTP(status: 200, body: Self.createdAnswer)
        _ = try await client(http).postSilence(request)
        let json = try #require(http.requests.first).jsonBody()
        let matchers = try #require(json["matchers"] as? [[String: Any]])
        #expect(matchers.first?["isRegex"] as? Bool == true)
        #expect(matchers.first?["isEqual"] as? Bool == false)
    }

    @Test func aRejectedSilenceNamesTheStatusAndQuotesTheBody() async throws {
        let http = ScriptedHTTP(status: 500, body: "\"store unavailable\"\n")
        let error = await postFailure(try client(http), silence())
        #expect(error?.reason == #"HTTP 500 from POST /api/v2/silences: "store unavailable""#)
    }

    @Test func replacingAnIDAlertmanagerNoLongerKnowsIsAnError() async throws {
        let http = ScriptedHTTP(status: 404, body: #""silence not found""#)
        let error = await postFailure(try client(http), silence(id: "gone"))
        #expect(error?.reason == #"HTTP 404 from POST /api/v2/silences: "silence not found""#)
    }

    @Test func anAnswerThatIsNotJSONIsNamedSo() async throws {
        let error = await postFailure(try client(ScriptedHTTP(status: 200, body: "<html>proxy login</html>")), silence())
        #expect(error?.reason == "the answer is not a valid silence id: the answer is not valid JSON")
    }

    @Test func anAnswerWithoutASilenceIDIsNamedSo() async throws {
        let error = await postFailure(try client(ScriptedHTTP(status: 200, body: #"{"id":"x"}"#)), silence())
        let reason = error?.reason ?? ""
        #expect(reason.hasPrefix("the answer is not a valid silence id: "), "\(reason)")
        #expect(reason.contains("silenceID"), "\(reason)")
    }

    @Test func anEmptySilenceIDIsRejected() async throws {
        let error = await postFailure(try client(ScriptedHTTP(status: 200, body: #"{"silenceID":""}"#)), silence())
        #expect(error?.reason == "the answer is not a valid silence id: at silenceID: the id is empty")
    }

    @Test func aTransportFailureWhilePostingIsUnreachable() async throws {
        let http = ScriptedHTTP(failure: AlertmanagerAPIError(reason: "timed out: Operation timed out"))
        let error = await postFailure(try client(http), silence())
        #expect(error?.reason == "unreachable: timed out: Operation timed out")
    }

    // MARK: DELETE /api/v2/silence/{id}

    @Test func expiringDeletesTheSilenceByID() async throws {
        let http = ScriptedHTTP(status: 200, body: "")
        try await client(http, credentials: .bearer(token: Self.token)).expireSilence(id: Self.silenceID)
        let request = try #require(http.requests.first)
        #expect(http.requests.count == 1)
        #expect(request.method == "DELETE")
        #expect(request.url == "http://am.example:9093/prefix/api/v2/silence/\(Self.silenceID)")
        #expect(request.header("Authorization") == ["Bearer \(Self.token)"])
        #expect(request.body == nil)
    }

    @Test func theIDIsPercentEncodedAsOnePathSegment() async throws {
        let http = ScriptedHTTP(status: 200, body: "")
        try await client(http).expireSilence(id: "a/b c?d#é")
        #expect(http.requests.first?.url == "http://am.example:9093/prefix/api/v2/silence/a%2Fb%20c%3Fd%23%C3%A9")
    }

    @Test(arguments: ["", ".", ".."])
    func anIDThatIsNoPathSegmentIsRefusedWithoutARequest(id: String) async throws {
        let http = ScriptedHTTP(status: 200, body: "")
        let error = await expireFailure(try client(http), id: id)
        #expect(error?.reason.hasPrefix("the silence id \"\(id)\" is not valid") == true, "\(error?.reason ?? "")")
        #expect(http.requests.isEmpty)
    }

    @Test func aSilenceAlertmanagerDoesNotKnowIsAlreadyDone() async throws {
        // 404: Alertmanager 0.26 and later, for an id it never had or has garbage-collected.
        try await client(ScriptedHTTP(status: 404, body: "")).expireSilence(id: Self.silenceID)
        // Alertmanager 0.25 answers the same case with 500 and its ErrNotFound text.
        try await client(ScriptedHTTP(status: 500, body: "\"silence not found\"\n")).expireSilence(id: Self.silenceID)
    }

    @Test func anotherServerErrorIsAnError() async throws {
        let http = ScriptedHTTP(status: 500, body: #""snapshot write failed""#)
        let error = await expireFailure(try client(http))
        #expect(error?.reason == #"HTTP 500 from DELETE /api/v2/silence/\#(Self.silenceID): "snapshot write failed""#)
    }

    @Test func aRejectedIDIsAnError() async throws {
        let http = ScriptedHTTP(status: 422, body: #"{"code":605,"message":"silenceID in path must be of type uuid"}"#)
        let error = await expireFailure(try client(http), id: "not-a-uuid")
        #expect(error?.reason.hasPrefix("HTTP 422 from DELETE /api/v2/silence/not-a-uuid: ") == true, "\(error?.reason ?? "")")
    }

    @Test func aTransportFailureWhileExpiringIsUnreachable() async throws {
        let http = ScriptedHTTP(failure: AlertmanagerAPIError(reason: "network error: Connection refused"))
        let error = await expireFailure(try client(http))
        #expect(error?.reason == "unreachable: network error: Connection refused")
    }

    // MARK: credentials

    static let credentialCases = CredentialLeaks.cases

    @Test(arguments: credentialCases)
    func errorsNeverContainTheCredentials(credentials: AlertmanagerCredentials, secrets: [String]) async throws {
        let echo = CredentialLeaks.echo(of: secrets)
        let answers = [
            ScriptedHTTP(status: 401, body: echo),
            ScriptedHTTP(status: 200, body: #"{"silenceID":7,"note":"\#(echo)"}"#),
            ScriptedHTTP(failure: AlertmanagerAPIError(reason: echo)),
        ]
        var errors: [AlertmanagerAPIError] = []
        for http in answers {
            errors.append(try #require(await postFailure(try client(http, credentials: credentials), silence())))
        }
        for http in [answers[0], answers[2], ScriptedHTTP(status: 500, body: echo)] {
            errors.append(try #require(await expireFailure(try client(http, credentials: credentials))))
        }
        for error in errors {
            CredentialLeaks.expectNone(of: secrets, in: error)
        }
        #expect(errors[0].reason.contains("denied: Authorization: [REDACTED]"), "\(errors[0].reason)")
        #expect(errors[3].reason.contains("denied: Authorization: [REDACTED]"), "\(errors[3].reason)")
    }
}
