import Foundation
import HTTPTypes
import HummingbirdTesting
import PagerDutyEvents
import PublisherCore
import PublisherReceiver
import Synchronization
import Testing

@Suite("The status page at /", .timeLimit(.minutes(2)))
struct StatusPageTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static let report = StatusReport(
        version: "9.8.7", generatedAt: now,
        routes: [
            RouteStatus(name: "database", pending: 3, oldestPendingAge: 125, deadLetters: 1, requestsInWindow: 17, limit: 120, pausedUntil: nil),
            RouteStatus(
                name: "web", pending: 0, oldestPendingAge: nil, deadLetters: 0, requestsInWindow: 120, limit: 120,
                pausedUntil: now.addingTimeInterval(30)),
        ],
        alertmanagers: [
            AlertmanagerStatus(name: "am-1:9093", isUp: true, lastAnsweredAt: now.addingTimeInterval(-4)),
            AlertmanagerStatus(name: "am-2:9093", isUp: false, lastAnsweredAt: nil),
        ],
        deadLetters: [
            DeadLetter(
                id: 41,
                message: OutboxMessage(
                    route: "database", kind: .trigger, dedupKey: "5e1f0a9b7c3d2e41", severity: .critical, body: Data("{}".utf8),
                    createdAt: now.addingTimeInterval(-300)),
                attempts: 1, reason: "PagerDuty refused the event: <script>alert(1)</script> & more", failedAt: now.addingTimeInterval(-200))
        ],
        incidentCounts: [.triggered: 1, .acknowledged: 1, .resolved: 30],
        incidents: [
            ReportedIncident(
                route: "database", dedupKey: "5e1f0a9b7c3d2e41",
                incident: IncidentState(
                    status: .triggered, changedAt: now.addingTimeInterval(-60), changedBy: nil, incidentID: "PGR0VU2",
                    incidentURL: "https://acme.pagerduty.com/incidents/PGR0VU2?tab=log&x=1")),
            ReportedIncident(
                route: "web", dedupKey: "77aa01",
                incident: IncidentState(
                    status: .acknowledged, changedAt: now.addingTimeInterval(-120),
                    changedBy: #"<script>alert("owned")</script> Ada & co"#, incidentID: "PQ2X7LM", incidentURL: "javascript:alert(1)"),
                ownSilence: .inForce(until: now.addingTimeInterval(3600))),
            ReportedIncident(
                route: "database", dedupKey: "0bb2c3",
                incident: IncidentState(
                    status: .resolved, changedAt: now.addingTimeInterval(-3600), changedBy: "Grace", incidentID: "PZZ9",
                    incidentURL: nil),
                ownSilence: .notYetInAlertmanager),
        ])

    /// The one link to PagerDuty in ``report``, as the page writes it (escaped `&`).
    static let incidentLink = #"<a href="https://acme.pagerduty.com/incidents/PGR0VU2?tab=log&amp;x=1" rel="noreferrer">PGR0VU2</a>"#

    func page(_ report: StatusReport?) async throws -> (status: HTTPResponse.Status, contentType: String?, html: String) {
        var harness = ReceiverHarness()
        harness.configuration.authToken = "a-token-the-page-does-not-need"
        if let report { harness.statusReport = { report } }
        let result = ResultBox()
        try await harness.run { client in
            let response = try await client.execute(uri: "/", method: .get)
            result.set((response.status, response.headers[.contentType], response.text))
        }
        return try #require(result.value)
    }

    @Test func showsTheVersionEachRoutesFiguresTheAlertmanagersAndTheDeadLettersEscaped() async throws {
        let (status, contentType, html) = try await page(Self.report)
        #expect(status == .ok)
        #expect(contentType == "text/html; charset=utf-8")
        #expect(html.contains(#"<span id="version">9.8.7</span>"#))
        #expect(html.contains("2027-01-15 08:00:00 UTC"), "when the figures were taken")
        #expect(html.contains(#"<tr data-route="database"><td>database</td><td class="number pending">3</td><td class="number">2 min 5 s</td><td class="number dead">1</td><td class="number budget">17 / 120</td><td class="">—</td></tr>"#), "\(html)")
        #expect(html.contains(#"<td class="number budget">120 / 120</td><td class="paused">429: paused 30 s more</td>"#))
        #expect(html.contains("<td>am-1:9093</td><td class=\"up\">up</td><td>4 s ago</td>"))
        #expect(html.contains("<td>am-2:9093</td><td class=\"unreachable\">unreachable</td><td>never</td>"))
        #expect(html.contains("<code>5e1f0a9b7c3d2e41</code>"))
        #expect(html.contains("PagerDuty refused the event: &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"), "escaped")
        #expect(!html.contains("<script"), "no script, not even one a sender smuggled into a reason or a name")
        let withoutTheIncidentLink = html.replacingOccurrences(of: Self.incidentLink, with: "")
        #expect(html.contains(Self.incidentLink))
        #expect(
            !withoutTheIncidentLink.contains("http://") && !withoutTheIncidentLink.contains("https://"),
            "no external asset, and no external link but the incident's")
        #expect(!html.contains("src=") && !html.contains("<link") && !html.contains("url("), "no external asset")
        for link in ["/metrics", "/healthz", "/readyz"] { #expect(html.contains("href=\"\(link)\"")) }
    }

    @Test func showsTheIncidentsPagerDutyReportedNewestFirstWithTheirCountsEscaped() async throws {
        let (status, _, html) = try await page(Self.report)
        #expect(status == .ok)
        #expect(html.contains("<h2>Incidents as PagerDuty reports them</h2>"))
        #expect(html.contains(
            #"<p id="incident-counts">triggered <strong class="count">1</strong> · acknowledged <strong class="count">1</strong> · resolved <strong class="count">30</strong></p>"#
        ), "\(html)")
        let rows = html.split(separator: "\n").filter { $0.hasPrefix("<tr>") && $0.contains("<td class=\"by\">") }.map(String.init)
        #expect(rows == [
            #"<tr><td>database</td><td><code>5e1f0a9b7c3d2e41</code></td><td class="triggered">triggered</td><td>2027-01-15 07:59:00 UTC</td><td class="by">—</td><td>\#(Self.incidentLink)</td><td>—</td></tr>"#,
            #"<tr><td>web</td><td><code>77aa01</code></td><td class="acknowledged">acknowledged</td><td>2027-01-15 07:58:00 UTC</td><td class="by">&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; Ada &amp; co</td><td>PQ2X7LM</td><td>until 2027-01-15 09:00:00 UTC</td></tr>"#,
            #"<tr><td>database</td><td><code>0bb2c3</code></td><td class="resolved">resolved</td><td>2027-01-15 07:00:00 UTC</td><td class="by">Grace</td><td>PZZ9</td><td>not yet in Alertmanager</td></tr>"#,
        ], "in the report's order (the newest change first), every value escaped: \(html)")
        #expect(!html.contains("javascript:"), "a URL that is not http or https is neither a link nor shown")
        #expect(html.contains("<p class=\"meta\">The latest 3 of 32; <code>queue incidents</code> lists more.</p>"))
        #expect(!html.contains("None reported"))
    }

    @Test func anIncidentURLThatIsNotHTTPNeverBecomesALink() async throws {
        let hostile = [
            "javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
            "ftp://files.example.com/P1", "//evil.example.com/P1", "/incidents/P1", #"" onmouseover="alert(1)"#, "https://",
        ]
        let incidents = hostile.enumerated().map { index, url in
            ReportedIncident(
                route: "default", dedupKey: "key-\(index)",
                incident: IncidentState(
                    status: .triggered, changedAt: Self.now, changedBy: "ada@example.com", incidentID: "P\(index)", incidentURL: url))
        }
        let report = StatusReport(
            version: "1.0.0", generatedAt: Self.now, routes: [], alertmanagers: [], deadLetters: [],
            incidentCounts: [.triggered: hostile.count], incidents: incidents)
        let (_, _, html) = try await page(report)
        for index in hostile.indices { #expect(html.contains("<td>P\(index)</td>"), "the id as text: \(hostile[index])") }
        let links = html.components(separatedBy: "<a href=").dropFirst().map { $0.prefix { $0 != ">" } }
        #expect(links == [#""/metrics""#, #""/healthz""#, #""/readyz""#], "no other link: \(links)")
        #expect(!html.contains("onmouseover=\""), "never unescaped in an attribute")
        #expect(!html.contains("ada@example.com"), "never an e-mail address, even one that reached the report")
        #expect(html.contains(#"<td class="by">—</td>"#))
        #expect(!html.contains("The latest"), "every entry listed")
    }

    @Test func anIdleDaemonSaysSoInsteadOfEmptyTables() async throws {
        let idle = StatusReport(version: "1.0.0", generatedAt: Self.now, routes: [], alertmanagers: [], deadLetters: [])
        let (_, _, html) = try await page(idle)
        #expect(html.contains("Off (no <code>--alertmanager-url</code>)."))
        #expect(html.contains("<h2>Last dead letters</h2>\n<p>None.</p>"))
        #expect(html.contains(
            "<h2>Incidents as PagerDuty reports them</h2>\n<p>None reported: PagerDuty's webhooks are off (no <code>--pagerduty-webhook-secret-file</code>) or have named no alert of ours yet.</p>"
        ), "\(html)")
        #expect(!html.contains(#"id="incidents""#) && !html.contains("incident-counts"))
    }

    @Test func withoutAReporterThereIsNoPage() async throws {
        let (status, _, _) = try await page(nil)
        #expect(status == .notFound)
    }

    @Test func aStoreThatCannotBeReadAnswers503() async throws {
        struct Unreadable: Error, CustomStringConvertible { var description: String { "disk I/O error" } }
        var harness = ReceiverHarness()
        harness.statusReport = { throw Unreadable() }
        let result = ResultBox()
        try await harness.run { client in
            let response = try await client.execute(uri: "/", method: .get)
            result.set((response.status, nil, response.text))
        }
        let answer = try #require(result.value)
        #expect(answer.status == .serviceUnavailable)
        #expect(answer.html.contains("disk I/O error"))
    }
}

/// Carries a value out of HummingbirdTesting's `@Sendable` closure.
private final class ResultBox: Sendable {
    typealias Page = (status: HTTPResponse.Status, contentType: String?, html: String)
    private let stored = Mutex<Page?>(nil)
    func set(_ value: Page) { stored.withLock { $0 = value } }
    var value: Page? { stored.withLock { $0 } }
}
