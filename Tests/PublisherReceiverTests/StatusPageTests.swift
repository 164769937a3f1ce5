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
        ])

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
        #expect(!html.contains("<script"), "no script, not even one a sender smuggled into a reason")
        #expect(!html.contains("http://") && !html.contains("https://"), "no external asset")
        for link in ["/metrics", "/healthz", "/readyz"] { #expect(html.contains("href=\"\(link)\"")) }
    }

    @Test func anIdleDaemonSaysSoInsteadOfEmptyTables() async throws {
        let idle = StatusReport(version: "1.0.0", generatedAt: Self.now, routes: [], alertmanagers: [], deadLetters: [])
        let (_, _, html) = try await page(idle)
        #expect(html.contains("Off (no <code>--alertmanager-url</code>)."))
        #expect(html.contains("<h2>Last dead letters</h2>\n<p>None.</p>"))
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
