import AlertmanagerModels
import Foundation
import Logging
import PagerDutyEvents
import PublisherCore
import PublisherTestSupport
import Testing

/// The body stored for `record`, decoded as a change event, with a routing key set so it can be validated.
private func storedChangeEvent(_ record: OutboxRecord) throws -> (event: ChangeEvent, body: [UInt8]) {
    var event = try JSONDecoder().decode(ChangeEvent.self, from: record.message.body)
    #expect(event.routingKey.isEmpty, "the stored body never holds the routing key")
    event.routingKey = String(repeating: "0", count: 32)
    return (event, try EventEncoding.encode(event))
}

@Suite("Change event requests", .timeLimit(.minutes(2)))
struct ChangeEventRequestTests {
    let store = InMemoryStore()
    let clock = ManualClock()
    let signal = WorkSignal()

    func makePublisher() -> ChangeEventPublisher {
        ChangeEventPublisher(
            store: store,
            routes: RouteTable(routes: [
                Route(name: "default", routingKey: String(repeating: "k", count: 32)),
                Route(name: "db", routingKey: String(repeating: "d", count: 32)),
            ]),
            clock: clock,
            signal: signal,
            logger: Logger(label: "test")
        )
    }

    static let deploy = ChangeEventRequest(
        summary: "Deployed checkout v2.4.1",
        source: "github-actions",
        timestamp: "2026-01-01T12:00:00+02:00",
        customDetails: ["commit": "4f2a9c1", "replicas": .number(6)],
        links: [Link(href: "https://ci.example/runs/812", text: "Pipeline run")]
    )

    @Test func aRequestQueuesOneSchemaValidChangeEvent() async throws {
        let result = try await makePublisher().ingest(Self.deploy, route: nil)
        #expect(result == IngestResult(alerts: 0, queued: 1, unchanged: 0))
        #expect(store.commits == 1)
        let record = try #require(store.outbox.first)
        #expect(store.outbox.count == 1)
        #expect(record.message.kind == .change)
        #expect(record.message.route == "default")
        #expect(record.message.dedupKey == nil && record.message.severity == nil)
        #expect(record.message.createdAt == clock.now)
        #expect(!String(decoding: record.message.body, as: UTF8.self).contains("kkkkkkkk"))

        let (event, body) = try storedChangeEvent(record)
        #expect(event.payload.summary == "Deployed checkout v2.4.1")
        #expect(event.payload.source == "github-actions")
        #expect(event.payload.timestamp == "2026-01-01T10:00:00.000Z", "normalized to UTC")
        #expect(event.payload.customDetails == ["commit": "4f2a9c1", "replicas": .number(6)])
        #expect(event.links == [Link(href: "https://ci.example/runs/812", text: "Pipeline run")])
        let violations = try EventContract.current().validate(body, for: .change)
        #expect(violations.isEmpty, "\(violations)")
        // The lane was woken: its next wait returns at once.
        #expect(signal.hasPendingWork(route: "default"))
    }

    @Test func aSummaryOnlyRequestIsValidToo() async throws {
        _ = try await makePublisher().ingest(ChangeEventRequest(summary: "Flag new-cart on"), route: "db")
        let record = try #require(store.outbox.first)
        #expect(record.message.route == "db")
        let (event, body) = try storedChangeEvent(record)
        #expect(event.payload == ChangeEventPayload(summary: "Flag new-cart on"))
        #expect(event.links == nil)
        #expect(try EventContract.current().validate(body, for: .change).isEmpty)
    }

    @Test func aLongSummaryIsCutTo1024Characters() async throws {
        let summary = String(repeating: "é", count: 3000)
        _ = try await makePublisher().ingest(ChangeEventRequest(summary: summary), route: nil)
        let (event, _) = try storedChangeEvent(try #require(store.outbox.first))
        #expect(event.payload.summary.unicodeScalars.count == EventLimits.summaryMaxCharacters)
        #expect(event.payload.summary == summary.truncated(toCharacters: EventLimits.summaryMaxCharacters))
    }

    @Test func hugeCustomDetailsAreShrunkUnderTheEventLimit() async throws {
        let details = JSONValue.object(Dictionary(uniqueKeysWithValues: (0..<1500).map {
            ("key_\($0)", JSONValue.string(String(repeating: "v", count: 500)))
        }))
        _ = try await makePublisher().ingest(ChangeEventRequest(summary: "big", customDetails: details), route: nil)
        let (_, body) = try storedChangeEvent(try #require(store.outbox.first))
        #expect(body.count <= EventLimits.eventMaxBytes)
        #expect(try EventContract.current().validate(body, for: .change).isEmpty)
    }

    @Test(arguments: [
        (ChangeEventRequest(summary: " \t\n"), "summary"),
        (ChangeEventRequest(summary: ""), "summary"),
        (ChangeEventRequest(summary: "s", timestamp: "2026-13-01T10:00:00Z"), "timestamp"),
        (ChangeEventRequest(summary: "s", timestamp: "yesterday"), "timestamp"),
        (ChangeEventRequest(summary: "s", customDetails: "text"), "custom_details"),
        (ChangeEventRequest(summary: "s", customDetails: .array([.number(1)])), "custom_details"),
        (ChangeEventRequest(summary: "s", links: [Link(href: "https://ok.example"), Link(href: "mailto:ops@example.com")]), "links[1].href"),
        (ChangeEventRequest(summary: "s", links: [Link(href: "")]), "links[0].href"),
    ])
    func aBadRequestIsRefusedNamingTheFieldAndNothingIsStored(request: ChangeEventRequest, field: String) async throws {
        let error = await #expect(throws: IngestError.self) {
            _ = try await makePublisher().ingest(request, route: nil)
        }
        guard case .invalidAlert(let reportedField, let reason)? = error else {
            Issue.record("expected invalidAlert, got \(String(describing: error))")
            return
        }
        #expect(reportedField == field)
        #expect(!reason.isEmpty)
        #expect(store.outbox.isEmpty && store.commits == 0)
    }

    @Test func anUnknownRouteIsRefused() async throws {
        await #expect(throws: IngestError.unknownRoute("nope")) {
            _ = try await makePublisher().ingest(Self.deploy, route: "nope")
        }
        #expect(store.commits == 0)
    }

    @Test func aStorageFailureIsReported() async throws {
        store.setFailWrites(true)
        await #expect(throws: IngestError.storageUnavailable(reason: "disk full (test)")) {
            _ = try await makePublisher().ingest(Self.deploy, route: nil)
        }
        #expect(store.outbox.isEmpty)
    }
}

@Suite("Alerts labelled change_event=\"true\"", .timeLimit(.minutes(2)))
struct ChangeEventAlertTests {
    let store = InMemoryStore()
    let clock = ManualClock()
    let ledger = LedgerCache()

    func makePublisher() -> AlertPublisher {
        AlertPublisher(
            store: store,
            routes: RouteTable(routes: [Route(name: "default", routingKey: String(repeating: "k", count: 32))]),
            ledger: ledger,
            mapper: EventMapper(),
            policy: LedgerPolicy(retriggerInterval: .seconds(3600)),
            clock: clock,
            signal: WorkSignal(),
            logger: Logger(label: "test")
        )
    }

    func deploy(_ status: AlertStatus, startsAt: Date = Date(timeIntervalSince1970: 1_799_000_000)) -> Alert {
        Alert(
            status: status,
            labels: ["alertname": "Deployed", "change_event": "true", "instance": "web-1", "severity": "critical"],
            annotations: ["summary": "checkout v2.4.1 rolled out", "runbook_url": "https://runbooks.example/deploy"],
            startsAt: startsAt,
            generatorURL: "http://prometheus.example:9090/graph",
            fingerprint: "00000000000000cc"
        )
    }

    func webhook(_ alerts: [Alert]) -> WebhookMessage {
        WebhookMessage(status: alerts.contains { $0.status == .firing } ? .firing : .resolved, receiver: "pd", alerts: alerts)
    }

    @Test func aFiringOneQueuesAChangeEventAndNoTrigger() async throws {
        let problem = Alert(status: .firing, labels: ["alertname": "Disk", "instance": "db-1"], fingerprint: "00000000000000aa")
        let result = try await makePublisher().ingest(webhook([deploy(.firing), problem]), route: nil)
        #expect(result == IngestResult(alerts: 2, queued: 2, unchanged: 0))
        #expect(store.outbox.map(\.message.kind) == [.change, .trigger])
        let change = try #require(store.outbox.first)
        #expect(change.message.dedupKey == nil && change.message.severity == nil)

        let (event, body) = try storedChangeEvent(change)
        #expect(event.payload.summary == "checkout v2.4.1 rolled out")
        #expect(event.payload.source == "web-1")
        #expect(event.payload.timestamp == RFC3339.format(Date(timeIntervalSince1970: 1_799_000_000)))
        guard case .object(let details)? = event.payload.customDetails, case .object(let labels)? = details["labels"] else {
            Issue.record("custom_details should hold the labels")
            return
        }
        #expect(labels["change_event"] == "true")
        #expect(details["fingerprint"] == "00000000000000cc")
        #expect(event.links?.map(\.href) == ["http://prometheus.example:9090/graph", "https://runbooks.example/deploy"])
        let violations = try EventContract.current().validate(body, for: .change)
        #expect(violations.isEmpty, "\(violations)")
        #expect(store.commits == 1, "change events and triggers of one webhook are one transaction")
    }

    @Test func aResentOneQueuesNothingEvenAfterTheRetriggerInterval() async throws {
        let publisher = makePublisher()
        _ = try await publisher.ingest(webhook([deploy(.firing)]), route: nil)
        let again = try await publisher.ingest(webhook([deploy(.firing)]), route: nil)
        #expect(again == IngestResult(alerts: 1, queued: 0, unchanged: 1))
        clock.advance(by: .seconds(7200))
        let later = try await publisher.ingest(webhook([deploy(.firing)]), route: nil)
        #expect(later.queued == 0, "a change is announced once per occurrence, never re-triggered")
        #expect(store.outbox.map(\.message.kind) == [.change])
    }

    @Test func aResolvedOneQueuesNothingAndTheNextOccurrenceIsAnnouncedAgain() async throws {
        let publisher = makePublisher()
        _ = try await publisher.ingest(webhook([deploy(.firing)]), route: nil)
        let resolved = try await publisher.ingest(webhook([deploy(.resolved)]), route: nil)
        #expect(resolved.queued == 0)
        let neverSeenResolved = try await publisher.ingest(
            webhook([Alert(status: .resolved, labels: ["alertname": "Other", "change_event": "true"])]), route: nil
        )
        #expect(neverSeenResolved.queued == 0)
        #expect(store.outbox.map(\.message.kind) == [.change])

        let next = deploy(.firing, startsAt: Date(timeIntervalSince1970: 1_799_100_000))
        let nextResult = try await publisher.ingest(webhook([next]), route: nil)
        #expect(nextResult.queued == 1)
        #expect(store.outbox.map(\.message.kind) == [.change, .change])
    }

    @Test func onlyTheValueTrueMakesAChangeEvent() async throws {
        var alert = deploy(.firing)
        alert.labels["change_event"] = "false"
        _ = try await makePublisher().ingest(webhook([alert]), route: nil)
        #expect(store.outbox.map(\.message.kind) == [.trigger])
    }
}

@Suite("Dispatching change events", .timeLimit(.minutes(2)))
struct ChangeEventDispatchTests {
    @Test func aChangeEventGoesToTheChangeEndpointWithTheRoutesKeyAndIsCounted() async throws {
        let harness = try DispatcherHarness()
        let event = try ChangeEventRequest(summary: "Deployed v2", source: "ci").changeEvent()
        let message = OutboxMessage(
            route: "default", kind: .change, dedupKey: nil, severity: nil,
            body: Data(try EventEncoding.encode(event)), createdAt: harness.clock.now
        )
        try await harness.store.commit(ledger: [], outbox: [message])
        try await harness.enqueue(.trigger, "a")
        let task = harness.start()
        defer { task.cancel() }
        try await eventually("two deliveries") { harness.store.outbox.isEmpty }

        let sent = harness.transport.requests
        // The critical trigger goes first (change events have no severity: DeliveryPlanner ranks them last).
        #expect(sent.map(\.url) == ["http://127.0.0.1:9/v2/enqueue", "http://127.0.0.1:9/v2/change/enqueue"])
        let change = try #require(sent.first { $0.url.hasSuffix("/v2/change/enqueue") })
        #expect(change.json["routing_key"] as? String == DispatcherHarness.keyA)
        #expect((change.json["payload"] as? [String: Any])?["summary"] as? String == "Deployed v2")
        #expect(change.json["event_action"] == nil)
        #expect(try EventContract.current().validate(change.body, for: .change).isEmpty)

        let text = harness.metricsText
        #expect(text.contains(#"pagerduty_change_events_total{routing_key="default"} 1"#))
        #expect(text.contains(#"pagerduty_events_triggered_total{routing_key="default",severity="critical"} 1"#))
        #expect(!text.contains(DispatcherHarness.keyA))
    }
}
