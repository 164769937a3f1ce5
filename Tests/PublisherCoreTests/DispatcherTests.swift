import CurlHTTP
import Foundation
import Logging
import PagerDutyEvents
import Prometheus
import PublisherCore
import Testing

/// A dispatcher wired to an in-memory store, a scripted transport and a manual clock.
struct DispatcherHarness {
    static let keyA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    static let keyB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

    let store = InMemoryStore()
    let transport: ScriptedTransport
    let clock = ManualClock()
    let signal = WorkSignal()
    let registry = PrometheusCollectorRegistry()
    let routes: RouteTable
    let metrics: PublisherMetrics
    let lanes = LaneStatusBoard()
    let dispatcher: Dispatcher

    /// A dispatcher for the `default` route (key A), plus the `other` route (key B, or `otherKey`) when
    /// `withOtherRoute`. With `dryRun` the client uses the ``DryRunTransport`` instead of the scripted one.
    init(
        rateLimit: Int = 120, withOtherRoute: Bool = false, otherKey: String = Self.keyB, dryRun: Bool = false,
        ownership: any WorkOwnership = SoleReplica()
    ) throws {
        transport = ScriptedTransport(clock: clock)
        routes = RouteTable(
            routes: [Route(name: "default", routingKey: Self.keyA)]
                + (withOtherRoute ? [Route(name: "other", routingKey: otherKey)] : [])
        )
        metrics = PublisherMetrics(factory: PrometheusMetricsFactory(registry: registry), routes: routes.names)
        let sender: any HTTPTransport = dryRun ? DryRunTransport { _, _ in } : transport
        dispatcher = Dispatcher(
            store: store,
            routes: routes,
            client: try EventsAPIClient(baseURL: "http://127.0.0.1:9", transport: sender),
            configuration: DispatcherConfiguration(
                rateLimitPerMinute: rateLimit,
                retryPolicy: RetryPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(8), jitter: 0),
                idlePollInterval: .seconds(5)
            ),
            clock: clock,
            signal: signal,
            metrics: metrics,
            ownership: ownership,
            statusBoard: lanes,
            logger: Logger(label: "test")
        )
    }

    /// Queues an alert event for `route`.
    func enqueue(_ action: EventAction, _ dedupKey: String, route: String = "default", severity: Severity = .critical) async throws {
        let event = AlertEvent(
            routingKey: "", eventAction: action, dedupKey: dedupKey,
            payload: AlertPayload(summary: "disk \(dedupKey)", source: "host", severity: severity)
        )
        let message = OutboxMessage(
            route: route, kind: OutboxKind(action), dedupKey: dedupKey, severity: action == .trigger ? severity : nil,
            body: Data(try EventEncoding.encode(event)), createdAt: clock.now
        )
        try await store.commit(ledger: [], outbox: [message])
        signal.notify(route: route)
    }

    func start() -> Task<Void, any Error> {
        Task { try await dispatcher.run() }
    }

    /// Advances the manual clock from sleep to sleep until `condition` holds (at most `steps` times).
    func drive(until what: String, steps: Int = 50, _ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<steps {
            if condition() { return }
            try await eventually("a lane to wait (\(what))") { clock.sleeperCount > 0 || condition() }
            if condition() { return }
            // Let a lane that just woke reach its next wait before moving time again.
            if let next = clock.nextDeadline { clock.advance(by: max(next, .milliseconds(1))) }
        }
        if !condition() { throw WaitTimeout(what: what) }
    }

    var metricsText: String { registry.emitToString() }
}

/// Whether no `limit + 1` of `times` fall within one 60-second window.
func staysWithin(_ limit: Int, perMinute times: [Duration]) -> Bool {
    let sorted = times.sorted()
    return sorted.indices.dropFirst(limit).allSatisfy { sorted[$0] - sorted[$0 - limit] >= .seconds(60) }
}

@Suite("Dispatcher", .timeLimit(.minutes(2)))
struct DispatcherTests {
    @Test func deliversInOrderWithTheRoutesKey() async throws {
        let harness = try DispatcherHarness()
        try await harness.enqueue(.trigger, "a")
        try await harness.enqueue(.trigger, "b")
        try await harness.enqueue(.resolve, "a")
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("three deliveries") { harness.store.outbox.isEmpty }
        let sent = harness.transport.requests
        #expect(sent.map { $0.json["dedup_key"] as? String } == ["a", "b", "a"])
        #expect(sent.map { $0.json["event_action"] as? String } == ["trigger", "trigger", "resolve"])
        #expect(sent.allSatisfy { $0.json["routing_key"] as? String == DispatcherHarness.keyA })
        #expect(sent.allSatisfy { $0.url == "http://127.0.0.1:9/v2/enqueue" })
        let text = harness.metricsText
        #expect(text.contains(#"pagerduty_events_triggered_total{routing_key="default",severity="critical"} 2"#))
        #expect(text.contains(#"pagerduty_events_resolved_total{routing_key="default"} 1"#))
        #expect(text.contains(#"pagerduty_api_requests_total{endpoint="enqueue",status="202"} 3"#))
        #expect(!text.contains(DispatcherHarness.keyA))
    }

    @Test func serverErrorsAndTimeoutsBackOffThenDeliverInOrder() async throws {
        let harness = try DispatcherHarness()
        harness.transport.enqueue([
            .status(503, body: "unavailable"),
            .status(500, body: "oops"),
            .failure(TransportError(kind: .timeout, reason: "operation timed out")),
        ])
        try await harness.enqueue(.trigger, "a")
        try await harness.enqueue(.resolve, "a")
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("the first attempt to fail and back off") { harness.clock.sleeperCount > 0 && harness.transport.requests.count == 1 }
        #expect(harness.clock.nextDeadline == .seconds(1), "first retry after the initial delay")
        #expect(harness.store.outbox.first?.attempts == 1)
        try await harness.drive(until: "both delivered") { harness.store.outbox.isEmpty }
        let actions = harness.transport.requests.map { $0.json["event_action"] as? String }
        #expect(actions == ["trigger", "trigger", "trigger", "trigger", "resolve"], "the resolve never overtakes its trigger")
        let text = harness.metricsText
        #expect(text.contains(#"pagerduty_api_errors_total{error_type="server_error"} 2"#))
        #expect(text.contains(#"pagerduty_api_errors_total{error_type="timeout"} 1"#))
    }

    @Test func aRefusedEventBecomesADeadLetterAndTheLaneGoesOn() async throws {
        let harness = try DispatcherHarness()
        harness.transport.enqueue([
            .status(400, body: #"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'summary' is incorrect"]}"#)
        ])
        try await harness.enqueue(.trigger, "bad")
        try await harness.enqueue(.trigger, "good")
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("the outbox to drain") { harness.store.outbox.isEmpty }
        let dead = harness.store.deadLetterList
        #expect(dead.map(\.message.dedupKey) == ["bad"])
        #expect(dead.first?.reason.contains("summary") == true)
        #expect(harness.transport.requests.count == 2, "a 400 is never retried")
        #expect(harness.metricsText.contains(#"pagerduty_api_errors_total{error_type="client_error"} 1"#))
    }

    @Test func a429PausesTheLaneForRetryAfter() async throws {
        let harness = try DispatcherHarness()
        harness.transport.enqueue([.status(429, body: "", headers: ["retry-after": "30"])])
        try await harness.enqueue(.trigger, "a")
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("the 429 pause") { harness.clock.sleeperCount > 0 && harness.transport.requests.count == 1 }
        #expect(harness.clock.nextDeadline == .seconds(30))
        let paused = try #require(harness.lanes.snapshot(at: harness.clock.now).first)
        #expect(paused.routes == ["default"] && paused.requestsInWindow == 1 && paused.limit == 120)
        #expect(paused.pausedUntil == harness.clock.now.addingTimeInterval(30), "the status page shows the pause")
        harness.clock.advance(by: .seconds(29))
        // Advancing wakes only the sleepers that are due: the lane still sleeps, with one second left.
        #expect(harness.clock.sleeperCount == 1 && harness.clock.nextDeadline == .seconds(1), "the lane woke before Retry-After")
        harness.clock.advance(by: .seconds(1))
        try await eventually("delivery after the pause") { harness.store.outbox.isEmpty }
        let sent = harness.transport.requests
        #expect(sent.map(\.status) == [429, 202])
        #expect(sent.count == 2 && sent[1].uptime - sent[0].uptime == .seconds(30), "the retry waited exactly Retry-After")
        let delivered = try #require(harness.lanes.snapshot(at: harness.clock.now).first)
        #expect(delivered.pausedUntil == nil && delivered.requestsInWindow == 2)
        #expect(harness.lanes.snapshot(at: harness.clock.now.addingTimeInterval(61)).first?.requestsInWindow == 0, "a 60 s window")
        #expect(harness.metricsText.contains(#"pagerduty_rate_limit_hits_total{routing_key="default"} 1"#))
    }

    @Test func theLimiterHoldsALaneAtItsBudget() async throws {
        let harness = try DispatcherHarness(rateLimit: 5)
        for index in 0..<8 { try await harness.enqueue(.trigger, "k\(index)") }
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("the budget to run out") { harness.transport.requests.count == 5 && harness.clock.sleeperCount > 0 }
        #expect(harness.clock.nextDeadline == .seconds(60))
        harness.clock.advance(by: .seconds(59))
        // Advancing wakes only the sleepers that are due: the lane still waits for its budget.
        #expect(harness.clock.sleeperCount == 1 && harness.clock.nextDeadline == .seconds(1), "the lane woke before its budget came back")
        try await harness.drive(until: "all delivered") { harness.store.outbox.isEmpty }
        let times = harness.transport.requests.map(\.uptime)
        #expect(times.count == 8)
        #expect(times.prefix(5).allSatisfy { $0 == times[0] } && times.dropFirst(5).allSatisfy { $0 == times[0] + .seconds(60) })
        #expect(staysWithin(5, perMinute: times))
    }

    @Test func aFailingLaneNeverDelaysAnother() async throws {
        let harness = try DispatcherHarness(withOtherRoute: true)
        harness.transport.setFallback(.status(503, body: "down"), forRoutingKey: DispatcherHarness.keyA)
        try await harness.enqueue(.trigger, "stuck", route: "default")
        try await harness.enqueue(.trigger, "fine-1", route: "other")
        try await harness.enqueue(.trigger, "fine-2", route: "other")
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("the healthy lane to drain") { harness.store.outbox.map(\.message.route) == ["default"] }
        #expect(harness.store.outbox.first?.message.dedupKey == "stuck")
    }

    @Test func anEventForARemovedRouteIsDeadLettered() async throws {
        let harness = try DispatcherHarness()
        try await harness.enqueue(.trigger, "orphan", route: "gone")
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("the orphan to be dead-lettered") { !harness.store.deadLetterList.isEmpty }
        #expect(harness.store.outbox.isEmpty)
        #expect(harness.store.deadLetterList.first?.reason == #"route "gone" is no longer configured"#)
        #expect(harness.transport.requests.isEmpty)
    }

    @Test func stoppingLeavesUndeliveredEventsQueued() async throws {
        let harness = try DispatcherHarness()
        harness.transport.setFallback(.status(503, body: "down"))
        try await harness.enqueue(.trigger, "a")
        try await harness.enqueue(.resolve, "a")
        let task = harness.start()
        try await eventually("a retry wait") { harness.clock.sleeperCount > 0 && harness.transport.requests.count == 1 }
        task.cancel()
        _ = await task.result
        #expect(harness.store.outbox.map(\.message.dedupKey) == ["a", "a"])
        #expect(harness.store.deadLetterList.isEmpty)
    }

    @Test func newWorkWakesAnIdleLaneWithoutWaitingForThePoll() async throws {
        let harness = try DispatcherHarness()
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("an idle lane") { harness.clock.sleeperCount >= 1 }
        #expect(harness.clock.nextDeadline == .seconds(5), "the lane waits for work, polling every 5 s")
        try await harness.enqueue(.trigger, "late")
        try await eventually("delivery without moving the clock") { harness.store.outbox.isEmpty }
        #expect(harness.transport.requests.count == 1)
    }

    @Test func dryRunRequestsAreNotCountedAsAnswersFromPagerDuty() async throws {
        let harness = try DispatcherHarness(dryRun: true)
        try await harness.enqueue(.trigger, "a")
        try await harness.enqueue(.resolve, "a")
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("both events handled") { harness.store.outbox.isEmpty }
        let text = harness.metricsText
        #expect(text.contains(#"pagerduty_api_requests_total{endpoint="enqueue",status="dry_run"} 2"#))
        #expect(text.contains(#"pagerduty_api_requests_total{endpoint="enqueue",status="202"} 0"#), "nothing was answered by PagerDuty")
        #expect(text.contains(#"pagerduty_api_duration_seconds_count{endpoint="enqueue"} 0"#), "no request took any time")
        #expect(text.contains(#"pagerduty_events_triggered_total{routing_key="default",severity="critical"} 1"#))
        #expect(harness.transport.requests.isEmpty)
    }
}

@Suite("Dispatcher: one budget per routing key", .timeLimit(.minutes(2)))
struct DispatcherSharedKeyTests {
    @Test func twoRoutesSharingAKeyStayWithinOneBudgetAndGetNo429() async throws {
        let harness = try DispatcherHarness(rateLimit: 3, withOtherRoute: true, otherKey: DispatcherHarness.keyA)
        harness.transport.enforceRateLimit(perMinute: 3)
        for index in 0..<4 {
            try await harness.enqueue(.trigger, "d\(index)", route: "default")
            try await harness.enqueue(.trigger, "o\(index)", route: "other")
        }
        let task = harness.start()
        defer { task.cancel() }
        try await harness.drive(until: "all delivered") { harness.store.outbox.isEmpty }
        let sent = harness.transport.requests
        #expect(sent.count == 8)
        #expect(sent.filter { $0.status == 429 }.isEmpty, "PagerDuty's limit is per key: \(sent.map(\.status))")
        #expect(sent.allSatisfy { $0.routingKey == DispatcherHarness.keyA })
        #expect(staysWithin(3, perMinute: sent.map(\.uptime)))
        #expect(sent.last!.uptime - sent.first!.uptime == .seconds(120), "8 requests at 3 a minute need two more windows")
        let text = harness.metricsText
        #expect(text.contains(#"pagerduty_events_triggered_total{routing_key="default",severity="critical"} 4"#))
        #expect(text.contains(#"pagerduty_events_triggered_total{routing_key="other",severity="critical"} 4"#))
        #expect(!text.contains(DispatcherHarness.keyA))
    }

    @Test func a429PausesEveryRouteOnTheKey() async throws {
        let harness = try DispatcherHarness(withOtherRoute: true, otherKey: DispatcherHarness.keyA)
        harness.transport.enqueue([.status(429, body: "", headers: ["retry-after": "30"])])
        try await harness.enqueue(.trigger, "d", route: "default")
        try await harness.enqueue(.trigger, "o", route: "other")
        let task = harness.start()
        defer { task.cancel() }
        try await harness.drive(until: "both delivered") { harness.store.outbox.isEmpty }
        let sent = harness.transport.requests
        #expect(sent.map(\.status) == [429, 202, 202])
        let paused = try #require(sent.first)
        #expect(sent.dropFirst().allSatisfy { $0.uptime - paused.uptime >= .seconds(30) }, "no route on the key sent during the pause")
        let text = harness.metricsText
        #expect(text.contains(#"pagerduty_rate_limit_hits_total{routing_key="default"} 1"#), "counted under the route whose event got it")
        #expect(text.contains(#"pagerduty_rate_limit_hits_total{routing_key="other"} 0"#))
    }

    @Test func routesWithDifferentKeysKeepSeparateBudgets() async throws {
        let harness = try DispatcherHarness(rateLimit: 2, withOtherRoute: true)
        harness.transport.enforceRateLimit(perMinute: 2)
        for index in 0..<2 {
            try await harness.enqueue(.trigger, "d\(index)", route: "default")
            try await harness.enqueue(.trigger, "o\(index)", route: "other")
        }
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("all delivered without moving the clock") { harness.store.outbox.isEmpty }
        #expect(harness.transport.requests.allSatisfy { $0.status == 202 })
    }

    @Test func aRotatedKeyMovesTheRoutesQueuedEventsToTheNewKeysBudget() async throws {
        let harness = try DispatcherHarness(rateLimit: 2, withOtherRoute: true)
        harness.transport.enforceRateLimit(perMinute: 2)
        harness.transport.setFallback(.status(503, body: "down"), forRoutingKey: DispatcherHarness.keyB)
        try await harness.enqueue(.trigger, "d0", route: "default")
        try await harness.enqueue(.trigger, "d1", route: "default")
        try await harness.enqueue(.trigger, "o", route: "other")
        try await harness.enqueue(.resolve, "o", route: "other")
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("key A's budget spent and key B failing") {
            harness.store.outbox.map(\.message.route) == ["other", "other"]
                && harness.transport.requests.contains { $0.routingKey == DispatcherHarness.keyB }
                && harness.clock.sleeperCount >= 2
        }
        let rotatedAt = harness.clock.uptime
        let firstOfKeyA = try #require(harness.transport.requests.first { $0.routingKey == DispatcherHarness.keyA })
        // The route's key file now holds key A (a configuration reload).
        harness.routes.replace(with: [
            Route(name: "default", routingKey: DispatcherHarness.keyA), Route(name: "other", routingKey: DispatcherHarness.keyA),
        ])
        harness.signal.notify(route: WorkSignal.routesChanged)
        try await harness.drive(until: "the route's events delivered with the new key") { harness.store.outbox.isEmpty }

        let sent = harness.transport.requests
        #expect(sent.filter { $0.routingKey == DispatcherHarness.keyB && $0.uptime > rotatedAt }.isEmpty, "nothing more on the old key")
        let moved = sent.filter { $0.routingKey == DispatcherHarness.keyA && $0.json["dedup_key"] as? String == "o" }
        #expect(moved.map { $0.json["event_action"] as? String } == ["trigger", "resolve"], "still in order per dedup_key")
        #expect(moved.allSatisfy { $0.uptime - firstOfKeyA.uptime >= .seconds(60) }, "they waited for key A's budget")
        #expect(sent.filter { $0.status == 429 }.isEmpty)
        #expect(staysWithin(2, perMinute: sent.filter { $0.routingKey == DispatcherHarness.keyA }.map(\.uptime)))
    }

    @Test func aLaneWaitsForWorkOnAnyOfItsRoutes() async throws {
        let harness = try DispatcherHarness(withOtherRoute: true, otherKey: DispatcherHarness.keyA)
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("an idle lane") { harness.clock.sleeperCount >= 1 }
        try await harness.enqueue(.trigger, "late", route: "other")
        try await eventually("delivery without moving the clock") { harness.store.outbox.isEmpty }
        #expect(harness.transport.requests.map(\.routingKey) == [DispatcherHarness.keyA])
    }
}
