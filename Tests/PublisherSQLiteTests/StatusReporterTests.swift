import Foundation
import PagerDutyEvents
import PublisherCore
import Testing
@testable import PublisherSQLite

/// What ``StatusReporter`` gathers for the status page from a real SQLite store: here, the incidents PagerDuty
/// reported on (the page's rendering is tested in PublisherReceiverTests/StatusPageTests).
@Suite("The status page's report of the incidents PagerDuty reported", .timeLimit(.minutes(2)))
struct StatusReporterTests {
    /// The report's time: later than every change below.
    static let now = Times.at(10_000)

    struct FixedClock: PublisherClock {
        var now: Date { StatusReporterTests.now }
        var uptime: Duration { .zero }
        func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
    }

    func reporter(_ store: SQLiteStore) -> StatusReporter {
        StatusReporter(
            version: "1.2.3", store: store,
            routes: RouteTable(routes: [Route(name: "default", routingKey: String(repeating: "k", count: 32))]),
            lanes: LaneStatusBoard(), rateLimit: 120, alertmanagers: { [] }, clock: FixedClock())
    }

    /// An entry whose incident PagerDuty last reported as `status` at `Times.at(second)`.
    func reported(
        _ dedupKey: String, _ status: IncidentState.Status, at second: Double, route: String = "default",
        by agent: String? = "Ada", silence: OwnSilence? = nil
    ) -> LedgerEntry {
        var entry = ledgerEntry(route: route, dedupKey: dedupKey)
        entry.incident = IncidentState(
            status: status, changedAt: Times.at(second), changedBy: agent, incidentID: "P\(dedupKey.uppercased())",
            incidentURL: "https://acme.pagerduty.com/incidents/P\(dedupKey.uppercased())")
        entry.ownSilence = silence
        return entry
    }

    @Test func theLatestChangesComeFirstAtMostTwentyWithTheCountsOfEveryEntry() async throws {
        try await withTemporaryStore { store, _ in
            // 25 entries PagerDuty reported on (5 triggered, 8 acknowledged, 12 resolved), committed out of
            // order, and two it never did.
            let statuses: [IncidentState.Status] =
                Array(repeating: .triggered, count: 5) + Array(repeating: .acknowledged, count: 8)
                + Array(repeating: .resolved, count: 12)
            let order = [7, 19, 2, 24, 11, 0, 15, 4, 22, 9, 13, 1, 20, 6, 17, 3, 23, 10, 14, 8, 21, 5, 18, 12, 16]
            var entries = order.map { index in
                reported(String(format: "k%02d", index), statuses[index], at: Double(index) * 10, route: index % 2 == 0 ? "default" : "db")
            }
            entries.append(ledgerEntry(dedupKey: "never-reported"))
            entries.append(ledgerEntry(route: "db", dedupKey: "never-reported-either", action: .resolve))
            try await store.commit(ledger: entries, outbox: [])

            let report = try await reporter(store).report()
            #expect(report.incidentCounts == [.triggered: 5, .acknowledged: 8, .resolved: 12], "every entry counted, not only those listed")
            #expect(report.incidents.count == StatusReporter.incidentCount)
            #expect(StatusReporter.incidentCount == 20)
            #expect(report.incidents.map(\.dedupKey) == (5..<25).reversed().map { String(format: "k%02d", $0) }, "newest change first")
            #expect(report.incidents.map(\.incident.changedAt) == report.incidents.map(\.incident.changedAt).sorted(by: >))
            let newest = try #require(report.incidents.first)
            #expect(newest.route == "default" && newest.incident.status == .resolved && newest.incident.changedBy == "Ada")
            #expect(newest.incident.incidentID == "PK24" && newest.incidentLink == "https://acme.pagerduty.com/incidents/PK24")
            #expect(!report.incidents.contains { $0.dedupKey.hasPrefix("never") })
        }
    }

    @Test func aSilenceOfOursShowsOnlyWhileItLastsAndSaysWhenNoAlertmanagerHasItYet() async throws {
        try await withTemporaryStore { store, _ in
            let answering = Times.at(100)
            try await store.commit(
                ledger: [
                    reported("held", .acknowledged, at: 100, silence: OwnSilence(
                        purpose: .acknowledged, answering: answering, endsAt: Self.now.addingTimeInterval(3600), ids: ["am-1:9093": "s-1"])),
                    reported("unplaced", .acknowledged, at: 90, silence: OwnSilence(
                        purpose: .acknowledged, answering: answering, endsAt: Self.now.addingTimeInterval(3600), ids: [:])),
                    reported("ended", .resolved, at: 80, silence: OwnSilence(
                        purpose: .manualResolve, answering: answering, endsAt: Self.now.addingTimeInterval(-1), ids: ["am-1:9093": "s-2"])),
                    reported("none", .triggered, at: 70, by: nil),
                ],
                outbox: [])
            let report = try await reporter(store).report()
            #expect(report.incidents.map(\.dedupKey) == ["held", "unplaced", "ended", "none"])
            #expect(report.incidents.map(\.ownSilence) == [
                .inForce(until: Self.now.addingTimeInterval(3600)), .notYetInAlertmanager, nil, nil,
            ])
            #expect(report.incidents.last?.incident.changedBy == nil)
            #expect(report.incidentCounts == [.triggered: 1, .acknowledged: 2, .resolved: 1])
        }
    }

    @Test func aStorePagerDutyNeverReportedToHasNoIncidents() async throws {
        try await withTemporaryStore { store, _ in
            try await store.commit(ledger: [ledgerEntry(dedupKey: "quiet")], outbox: [])
            let report = try await reporter(store).report()
            #expect(report.incidents.isEmpty)
            #expect(report.incidentCounts.values.allSatisfy { $0 == 0 })
        }
    }

    @Test func onlyHTTPAndHTTPSIncidentURLsBecomeLinks() {
        func link(_ url: String?) -> String? {
            ReportedIncident(
                route: "default", dedupKey: "k",
                incident: IncidentState(status: .triggered, changedAt: Self.now, changedBy: nil, incidentID: "P1", incidentURL: url)
            ).incidentLink
        }
        #expect(link("https://acme.pagerduty.com/incidents/P1") == "https://acme.pagerduty.com/incidents/P1")
        #expect(link("http://pagerduty.internal:8080/incidents/P1") == "http://pagerduty.internal:8080/incidents/P1")
        for hostile in [
            "javascript:alert(1)", "JavaScript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)", "ftp://files.example.com/P1", "//evil.example.com/P1", "/incidents/P1", "https://", "",
        ] {
            #expect(link(hostile) == nil, "\(hostile)")
        }
        #expect(link(nil) == nil)
    }
}
