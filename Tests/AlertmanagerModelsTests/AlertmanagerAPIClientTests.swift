import AlertmanagerModels
import Foundation
import PublisherTestSupport
import Synchronization
import Testing

/// An ``AlertmanagerHTTPGetting`` that records each request and plays back one scripted outcome.
private final class ScriptedHTTP: AlertmanagerHTTPGetting {
    struct Request: Sendable {
        var url: String
        var headers: [(String, String)]

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
        recorded.withLock { $0.append(Request(url: url, headers: headers)) }
        return try outcome.get()
    }
}

@Suite("Alertmanager API client", .timeLimit(.minutes(2)))
struct AlertmanagerAPIClientTests {
    static let token = "tok-7f3a9c1e5b2d4f6a8c0e"
    static let password = "pa55-w0rd-9d8c7b6a"

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
        #expect(request.url == "http://am.example:9093/prefix/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true")
        #expect(request.header("Accept") == ["application/json"])
        #expect(request.header("Authorization") == [], "no credentials, no Authorization header")
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

    /// Each kind of credential with the strings that must never show: the raw secret and its header form.
    static let credentialCases: [(AlertmanagerCredentials, [String])] = [
        (.bearer(token: token), [token]),
        (
            .basic(username: "publisher", password: password),
            [password, Data("publisher:\(password)".utf8).base64EncodedString()]
        ),
    ]

    @Test(arguments: credentialCases)
    func errorsNeverContainTheCredentials(credentials: AlertmanagerCredentials, secrets: [String]) async throws {
        // A proxy that echoes the request, an answer quoting it in a field, and a transport whose message quotes it.
        let echo = "denied: " + secrets.map { "Authorization: \($0)" }.joined(separator: " / ")
        let failures = [
            ScriptedHTTP(status: 401, body: echo),
            ScriptedHTTP(status: 200, body: #"[{"fingerprint":"f","status":{"state":"active"},"endsAt":"\#(echo)"}]"#),
            ScriptedHTTP(failure: AlertmanagerAPIError(reason: echo)),
        ]
        for http in failures {
            let error = try #require(await expectFailure(try client(http, credentials: credentials)))
            for text in [error.reason, error.description, String(describing: error), String(reflecting: error)] {
                for secret in secrets {
                    #expect(!text.contains(secret), "\(text)")
                }
            }
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
