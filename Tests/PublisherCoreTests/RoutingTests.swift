import AlertmanagerModels
import Foundation
import Logging
import PagerDutyEvents
import PublisherCore
import Testing

@Suite("Label matchers", .timeLimit(.minutes(2)))
struct LabelMatcherTests {
    @Test(arguments: [
        ("team=dba", ["team": "dba"], true),
        ("team = dba", ["team": "web"], false),
        (#"team="dba""#, ["team": "dba"], true),
        ("team!=dba", ["team": "web"], true),
        ("team!=dba", [:], true),
        ("env=", [:], true),
        (#"severity=~"critical|page""#, ["severity": "page"], true),
        ("severity=~crit", ["severity": "critical"], false),
        ("severity !~ warn.*", ["severity": "warning"], false),
        ("severity !~ warn.*", ["severity": "critical"], true),
    ] as [(String, [String: String], Bool)])
    func matches(text: String, labels: [String: String], expected: Bool) throws {
        #expect(try LabelMatcher(parsing: text).matches(labels) == expected)
    }

    @Test(arguments: ["team", "=dba", "te am=dba", "severity=~(unclosed"])
    func refusesMalformedMatchers(text: String) {
        #expect(throws: LabelMatcher.ParseError.self) { try LabelMatcher(parsing: text) }
    }
}

@Suite("Route selection", .timeLimit(.minutes(2)))
struct RouteSelectionTests {
    let key = String(repeating: "k", count: 32)

    func table(defaultRoute: String? = "default") throws -> RouteTable {
        RouteTable(
            routes: [
                Route(name: "database", routingKey: key, matchers: [try LabelMatcher(parsing: "team=dba")]),
                Route(name: "critical-web", routingKey: key, matchers: [try LabelMatcher(parsing: "team=web"), try LabelMatcher(parsing: "severity=critical")]),
                Route(name: "web", routingKey: key, matchers: [try LabelMatcher(parsing: "team=web")]),
                Route(name: "path-only", routingKey: key),
                Route(name: "default", routingKey: key),
            ],
            defaultRoute: defaultRoute
        )
    }

    @Test func theFirstRouteWhoseMatchersAllMatchWins() throws {
        let routes = try table()
        #expect(routes.selectRoute(for: ["team": "dba"])?.name == "database")
        #expect(routes.selectRoute(for: ["team": "web", "severity": "critical"])?.name == "critical-web")
        #expect(routes.selectRoute(for: ["team": "web", "severity": "info"])?.name == "web")
    }

    @Test func unmatchedAlertsGoToTheDefaultRouteOrNowhere() throws {
        #expect(try table().selectRoute(for: ["team": "other"])?.name == "default")
        #expect(try table(defaultRoute: nil).selectRoute(for: ["team": "other"]) == nil)
        #expect(try table(defaultRoute: nil).selectRoute(for: [:]) == nil, "a route without matchers is reached only by path")
    }

    @Test func webhooksAreSplitAcrossRoutesByLabels() async throws {
        let store = InMemoryStore()
        let publisher = AlertPublisher(
            store: store, routes: try table(defaultRoute: nil), ledger: LedgerCache(), mapper: EventMapper(),
            policy: LedgerPolicy(), clock: ManualClock(), signal: WorkSignal(), logger: Logger(label: "test")
        )
        let message = WebhookMessage(alerts: [
            Alert(status: .firing, labels: ["alertname": "A", "team": "dba"]),
            Alert(status: .firing, labels: ["alertname": "B", "team": "web"]),
            Alert(status: .firing, labels: ["alertname": "C", "team": "nobody"]),
        ])
        let result = try await publisher.ingest(message, route: nil)
        #expect(result == IngestResult(alerts: 3, queued: 2, unchanged: 0, unrouted: 1))
        #expect(store.outbox.map(\.message.route) == ["database", "web"])
        let byPath = try await publisher.ingest(message, route: "path-only")
        #expect(byPath.queued == 3, "the path's route takes every alert, whatever its labels")
        #expect(store.outbox.suffix(3).allSatisfy { $0.message.route == "path-only" })
    }

    @Test func aRoutesSeverityMappingApplies() async throws {
        let store = InMemoryStore()
        let routes = RouteTable(routes: [
            Route(name: "db", routingKey: key, matchers: [try LabelMatcher(parsing: "team=dba")],
                  mapper: EventMapper(severityMapping: SeverityMapping(defaultSeverity: .warning, extraAliases: ["p0": .critical]))),
        ], defaultRoute: nil)
        let publisher = AlertPublisher(
            store: store, routes: routes, ledger: LedgerCache(), mapper: EventMapper(), policy: LedgerPolicy(),
            clock: ManualClock(), signal: WorkSignal(), logger: Logger(label: "test")
        )
        _ = try await publisher.ingest(WebhookMessage(alerts: [
            Alert(status: .firing, labels: ["alertname": "A", "team": "dba", "severity": "p0"]),
            Alert(status: .firing, labels: ["alertname": "B", "team": "dba", "severity": "mystery"]),
        ]), route: nil)
        #expect(store.outbox.map(\.message.severity) == [.critical, .warning])
    }
}
