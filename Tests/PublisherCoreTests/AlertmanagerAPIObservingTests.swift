import AlertmanagerModels
import PublisherCore
import Synchronization
import Testing

/// An Alertmanager API answering `GET /api/v2/alerts` and `GET /api/v2/silences` with fixed bodies.
final class AlertmanagerAPIAnswers: AlertmanagerHTTP {
    let alerts: String
    let silences: String
    private let paths = Mutex<[String]>([])

    init(alerts: String, silences: String) {
        self.alerts = alerts
        self.silences = silences
    }

    /// The paths asked for, in order.
    var asked: [String] { paths.withLock { $0 } }

    func get(url: String, headers: [(String, String)]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8]) {
        let path = String(url.dropFirst("http://am.example:9093".count))
        paths.withLock { $0.append(path) }
        if path.hasPrefix("/api/v2/alerts") { return (200, Array(alerts.utf8)) }
        if path == "/api/v2/silences" { return (200, Array(silences.utf8)) }
        return (404, [])
    }

    func post(url: String, headers: [(String, String)], body: [UInt8]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8]) {
        (405, [])
    }

    func delete(url: String, headers: [(String, String)]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8]) {
        (405, [])
    }
}

@Suite("The sync's view of an Alertmanager through its API", .timeLimit(.minutes(1)))
struct AlertmanagerAPIObservingTests {
    static func alert(_ fingerprint: String, silencedBy: [String]) -> String {
        let ids = silencedBy.map { "\"\($0)\"" }.joined(separator: ",")
        return """
            {"fingerprint":"\(fingerprint)","labels":{"alertname":"A\(fingerprint)"},"annotations":{},
             "startsAt":"2026-12-07T10:00:00.000Z","endsAt":"2026-12-07T11:00:00.000Z","updatedAt":"2026-12-07T10:00:00.000Z",
             "receivers":[{"name":"pagerduty"}],
             "status":{"state":"\(silencedBy.isEmpty ? "active" : "suppressed")","silencedBy":[\(ids)],"inhibitedBy":[]}}
            """
    }

    static func silence(_ id: String, createdBy: String) -> String {
        """
        {"id":"\(id)","status":{"state":"active"},"createdBy":"\(createdBy)","comment":"",
         "startsAt":"2026-12-07T10:00:00.000Z","endsAt":"2026-12-07T11:00:00.000Z","matchers":[]}
        """
    }

    static func client(_ http: AlertmanagerAPIAnswers) throws -> AlertmanagerAPIClient {
        AlertmanagerAPIClient(endpoint: try AlertmanagerEndpoint(url: "http://am.example:9093"), credentials: .none, http: http)
    }

    @Test func theSilencesThisDaemonCreatedAreTold() async throws {
        let http = AlertmanagerAPIAnswers(
            alerts: "[" + [
                Self.alert("a1", silencedBy: ["ours-1", "ops-1"]), Self.alert("a2", silencedBy: ["ops-1"]),
                Self.alert("a3", silencedBy: []),
            ].joined(separator: ",") + "]",
            silences: "[" + [Self.silence("ours-1", createdBy: "pagerduty-publisher"), Self.silence("ops-1", createdBy: "ops")]
                .joined(separator: ",") + "]")
        let observed = try await Self.client(http).currentAlerts()
        let byFingerprint = Dictionary(uniqueKeysWithValues: observed.map { ($0.alert.fingerprint, $0) })
        #expect(byFingerprint["a1"]?.silencedBy == ["ours-1", "ops-1"])
        #expect(byFingerprint["a1"]?.ownSilences == ["ours-1"])
        #expect(byFingerprint["a2"]?.ownSilences == [])
        #expect(byFingerprint["a3"]?.ownSilences == [])
        #expect(http.asked == ["/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true", "/api/v2/silences"])
    }

    @Test func withNoSilencedAlertTheSilencesAreNotAskedFor() async throws {
        let http = AlertmanagerAPIAnswers(alerts: "[" + Self.alert("a1", silencedBy: []) + "]", silences: "not read")
        let observed = try await Self.client(http).currentAlerts()
        #expect(observed.map(\.alert.fingerprint) == ["a1"])
        #expect(http.asked.count == 1)
    }

    @Test func anUnreadableSilenceListFailsTheRead() async throws {
        // Without it the sync could take a silence of its own for a mute: better to know nothing this poll.
        let http = AlertmanagerAPIAnswers(alerts: "[" + Self.alert("a1", silencedBy: ["ours-1"]) + "]", silences: "{}")
        await #expect(throws: AlertmanagerAPIError.self) { _ = try await Self.client(http).currentAlerts() }
    }
}
