import CurlHTTP
import Foundation
import PagerDutyEvents
import PagerDutyWebhooks
import PublisherTestSupport
import Testing

/// The fake PagerDuty's incidents, and the signed v3 webhooks it sends as PagerDuty would: checked with the
/// daemon's own signature verifier and decoder.
@Suite("Fake PagerDuty: incidents and signed webhooks", .timeLimit(.minutes(2)))
struct FakePagerDutyIncidentTests {
    static let secret = "whsec-fake-unit-7c21d0e4b93a"

    private func client(_ fake: FakePagerDuty) throws -> EventsAPIClient {
        let transport = CurlHTTPTransport(configuration: CurlTransportConfiguration(
            userAgent: CurlTransportConfiguration.userAgent(version: "0.0.0-test"), totalTimeout: .seconds(10)
        ))
        return try EventsAPIClient(baseURL: fake.baseURL, transport: transport)
    }

    private func send(_ action: EventAction, _ dedupKey: String, with client: EventsAPIClient) async {
        let event = action == .trigger
            ? sampleTrigger(dedupKey: dedupKey) : AlertEvent(routingKey: testRoutingKey, eventAction: action, dedupKey: dedupKey)
        let report = await client.send(event)
        #expect(report.outcome == .accepted(dedupKey: dedupKey), "\(action) \(dedupKey)")
    }

    private func statuses(_ fake: FakePagerDuty, _ dedupKey: String) -> [FakePagerDuty.Incident.Status] {
        fake.incidents(dedupKey: dedupKey).map(\.status)
    }

    /// The event in `received`, after checking its signature as the daemon does.
    private func verified(_ received: WebhookRecorder.Received, secret: String = Self.secret) throws -> PagerDutyWebhookEvent {
        let header = try #require(received.headers["x-pagerduty-signature"])
        let verifier = WebhookSignatureVerifier(secrets: try WebhookSigningSecrets([secret]))
        #expect(verifier.check(body: received.body, headerValues: [header]) == .valid, "\(header)")
        let stranger = WebhookSignatureVerifier(secrets: try WebhookSigningSecrets(["not-" + secret]))
        #expect(stranger.check(body: received.body, headerValues: [header]) == .noMatch)
        #expect(received.path == "/v1/pagerduty")
        #expect(received.headers["content-type"] == "application/json")
        return try PagerDutyWebhookDecoder.decode(received.body)
    }

    @Test func incidentsFollowTheEventsAPIAsPagerDutyDoes() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        let client = try client(fake)

        await send(.trigger, "k1", with: client)
        let opened = try #require(fake.incident(dedupKey: "k1"))
        #expect(opened.id == "Q000001" && opened.number == 1 && opened.status == .triggered)
        #expect(opened.htmlURL == "https://fake-pagerduty.invalid/incidents/Q000001")
        #expect(opened.title == "Disk almost full on host-1" && opened.routingKey == testRoutingKey)
        #expect(opened.snapshot == IncidentSnapshot(
            id: "Q000001", number: 1, status: "triggered", incidentKey: "k1", htmlURL: opened.htmlURL, title: opened.title))

        await send(.trigger, "k1", with: client)  // folded into the open incident
        await send(.acknowledge, "k1", with: client)
        await send(.trigger, "k1", with: client)  // an acknowledged incident stays acknowledged
        #expect(statuses(fake, "k1") == [.acknowledged])
        await send(.resolve, "k1", with: client)
        await send(.acknowledge, "k1", with: client)  // nothing open: changes nothing
        await send(.resolve, "k1", with: client)
        #expect(statuses(fake, "k1") == [.resolved])
        #expect(fake.incident(dedupKey: "k1")?.id == "Q000001")

        await send(.trigger, "k1", with: client)  // a new incident, with a new id
        #expect(statuses(fake, "k1") == [.resolved, .triggered])
        #expect(fake.incident(dedupKey: "k1")?.id == "Q000002")

        await send(.acknowledge, "unknown", with: client)
        await send(.resolve, "unknown", with: client)
        #expect(fake.incidents(dedupKey: "unknown").isEmpty)
        fake.enqueue([.status(500, body: #"{"status":"error"}"#)])
        _ = await client.send(sampleTrigger(dedupKey: "refused"))
        #expect(fake.incidents(dedupKey: "refused").isEmpty, "only an accepted trigger opens an incident")
        #expect(fake.incidents.map(\.id) == ["Q000001", "Q000002"])

        let untracked = try await FakePagerDuty.start(options: .init(tracksIncidents: false))
        defer { Task { await untracked.stop() } }
        let untrackedClient = try self.client(untracked)
        #expect(await untrackedClient.send(sampleTrigger(dedupKey: "k1")).outcome == .accepted(dedupKey: "k1"))
        #expect(untracked.incidents.isEmpty)
    }

    @Test func aResponderSendsSignedWebhooksTheDaemonsVerifierAcceptsAndDecodes() async throws {
        let fake = try await FakePagerDuty.start()
        let subscriber = try await WebhookRecorder.start()
        defer { Task { await fake.stop(); await subscriber.stop() } }
        await #expect(throws: FakePagerDuty.ResponderError.self, "no subscription yet") {
            try await fake.acknowledgeIncident(dedupKey: "k1")
        }
        try fake.setWebhookSubscription(.init(url: "\(subscriber.baseURL)/v1/pagerduty", signingSecrets: [Self.secret]))
        let client = try client(fake)
        await send(.trigger, "k1", with: client)
        await send(.acknowledge, "k1", with: client)
        await send(.trigger, "k1", with: client)
        await send(.resolve, "k1", with: client)
        await send(.trigger, "k1", with: client)
        try await fake.waitForWebhooksSent()
        #expect(subscriber.requests.isEmpty, "the Events API's changes are sent only when asked")
        let incident = try #require(fake.incident(dedupKey: "k1"))
        #expect(incident.id == "Q000002")

        let before = Date()
        let acknowledged = try await fake.acknowledgeIncident(dedupKey: "k1", by: "Grace Hopper")
        #expect(acknowledged.status == 200 && acknowledged.succeeded && acknowledged.failure == nil)
        #expect(fake.incident(dedupKey: "k1")?.status == .acknowledged)
        let received = try #require(subscriber.requests.last)
        #expect(subscriber.requests.count == 1)
        #expect(received.body == acknowledged.body && received.headers["x-pagerduty-signature"] == acknowledged.signature)
        #expect(received.headers["user-agent"] == "PagerDuty-Webhook/V3.0")
        let event = try verified(received)
        #expect(event.id == acknowledged.eventID && event.type == .incidentAcknowledged)
        #expect(event.agentSummary == "Grace Hopper")
        #expect(event.incident == IncidentSnapshot(
            id: "Q000002", number: 2, status: "acknowledged", incidentKey: "k1",
            htmlURL: "https://fake-pagerduty.invalid/incidents/Q000002", title: "Disk almost full on host-1"))
        let occurredAt = try #require(event.occurredAt)
        #expect(occurredAt >= before.addingTimeInterval(-1) && occurredAt <= Date().addingTimeInterval(1))

        // Each change, its event, with the incident's state after it.
        let steps: [(String, PagerDutyEventType, String?, FakePagerDuty.Incident.Status)] = [
            ("unacknowledge", .incidentUnacknowledged, nil, .triggered),
            ("resolve", .incidentResolved, "Ada Responder", .resolved),
            ("reopen", .incidentReopened, "Ada Responder", .triggered),
        ]
        for (action, type, agent, status) in steps {
            let delivery = switch action {
            case "unacknowledge": try await fake.unacknowledgeIncident(dedupKey: "k1")
            case "resolve": try await fake.resolveIncident(dedupKey: "k1")
            default: try await fake.reopenIncident(dedupKey: "k1")
            }
            let event = try verified(try #require(subscriber.requests.last))
            #expect(event.id == delivery.eventID && event.type == type, "\(action)")
            #expect(event.agentSummary == agent, "\(action)")
            #expect(event.incident?.id == "Q000002" && event.incident?.incidentKey == "k1", "\(action)")
            #expect(event.incident?.status == status.rawValue, "\(action)")
            #expect(fake.incident(dedupKey: "k1")?.status == status, "\(action)")
        }
        #expect(Set(fake.webhookDeliveries.map(\.eventID)).count == 4, "every event has an id of its own")

        // What the incident's state does not allow is refused, and sends nothing.
        await #expect(throws: FakePagerDuty.ResponderError.self) { try await fake.reopenIncident(dedupKey: "k1") }
        await #expect(throws: FakePagerDuty.ResponderError.self) { try await fake.unacknowledgeIncident(dedupKey: "k1") }
        await #expect(throws: FakePagerDuty.ResponderError.self) { try await fake.resolveIncident(dedupKey: "unknown") }
        #expect(subscriber.requests.count == 4)

        // A subscriber's refusal is reported; the incident changed in PagerDuty all the same.
        subscriber.answer(with: 401)
        let refused = await #expect(throws: FakePagerDuty.WebhookNotAccepted.self) {
            try await fake.resolveIncident(dedupKey: "k1")
        }
        #expect(refused?.delivery.status == 401)
        #expect(fake.incident(dedupKey: "k1")?.status == .resolved)

        // During a rotation, each webhook carries a signature for every secret.
        subscriber.answer(with: 200)
        try fake.setWebhookSubscription(.init(
            url: "http://localhost:\(subscriber.baseURL.split(separator: ":").last!)/v1/pagerduty",
            signingSecrets: ["old-secret", Self.secret]))
        try await fake.reopenIncident(dedupKey: "k1")
        let rotated = try #require(subscriber.requests.last)
        #expect(rotated.headers["x-pagerduty-signature"]?.split(separator: ",").count == 2)
        _ = try verified(rotated)
        _ = try verified(rotated, secret: "old-secret")
    }

    @Test func theEventsAPIsChangesAreSentByTheServiceWhenAsked() async throws {
        let fake = try await FakePagerDuty.start()
        let subscriber = try await WebhookRecorder.start()
        defer { Task { await fake.stop(); await subscriber.stop() } }
        try fake.setWebhookSubscription(.init(
            url: "\(subscriber.baseURL)/v1/pagerduty", signingSecrets: [Self.secret], sendsEventsAPIChanges: true))
        let client = try client(fake)
        for action: EventAction in [.trigger, .trigger, .acknowledge, .acknowledge, .resolve, .resolve, .trigger] {
            await send(action, "k1", with: client)
        }
        try await fake.waitForWebhooksSent()
        let events = try subscriber.requests.map { try verified($0) }
        #expect(events.map(\.type) == [.incidentTriggered, .incidentAcknowledged, .incidentResolved, .incidentTriggered])
        #expect(events.map { $0.incident?.id } == ["Q000001", "Q000001", "Q000001", "Q000002"])
        #expect(events.map { $0.incident?.status } == ["triggered", "acknowledged", "resolved", "triggered"])
        #expect(events.allSatisfy { $0.agentSummary == "Alertmanager (fake PagerDuty service)" && $0.incident?.incidentKey == "k1" })
        let first = try #require(subscriber.bodies.first)
        #expect(first.member("event")?.member("agent")?.member("type")?.stringValue == "service_reference")
        #expect(fake.webhookDeliveries.allSatisfy { $0.succeeded })
        let resolved = try await fake.waitForWebhook(.incidentResolved, dedupKey: "k1")
        #expect(resolved.incident.id == "Q000001" && resolved.status == 200)
    }

    @Test func theControlEndpointActsAsAResponderForScripts() async throws {
        let fake = try await FakePagerDuty.start(options: .init(controlEndpoint: true))
        let subscriber = try await WebhookRecorder.start()
        defer { Task { await fake.stop(); await subscriber.stop() } }
        try fake.setWebhookSubscription(.init(url: "\(subscriber.baseURL)/v1/pagerduty", signingSecrets: [Self.secret]))
        await send(.trigger, "k1", with: try client(fake))
        let transport = CurlHTTPTransport(configuration: .init(userAgent: "test"))
        func control(_ body: String) async throws -> (status: Int, json: JSONValue?) {
            let response = try await transport.post(
                url: fake.baseURL + FakePagerDuty.incidentControlPath, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
            return (response.status, try? JSONDecoder().decode(JSONValue.self, from: Data(response.body)))
        }

        let acknowledged = try await control(#"{"dedup_key":"k1","action":"acknowledge","by":"Grace Hopper"}"#)
        #expect(acknowledged.status == 200)
        #expect(acknowledged.json?.member("event_type")?.stringValue == "incident.acknowledged")
        #expect(acknowledged.json?.member("incident_id")?.stringValue == "Q000001")
        #expect(acknowledged.json?.member("subscriber_status") == .number(200))
        let event = try verified(try #require(subscriber.requests.last))
        #expect(event.type == .incidentAcknowledged && event.agentSummary == "Grace Hopper")
        #expect(fake.incident(dedupKey: "k1")?.status == .acknowledged)

        #expect(try await control(#"{"dedup_key":"k1","action":"reopen"}"#).status == 409)
        #expect(try await control(#"{"dedup_key":"k1","action":"snooze"}"#).status == 400)
        subscriber.answer(with: 500)
        #expect(try await control(#"{"dedup_key":"k1","action":"resolve"}"#).status == 502)
        #expect(fake.incident(dedupKey: "k1")?.status == .resolved)
        #expect(subscriber.requests.count == 2)
    }

    @Test(arguments: ["https://127.0.0.1:9095/v1/pagerduty", "http://example.com/v1/pagerduty", "http://10.0.0.1:9095/", "not a url"])
    func aSubscriptionOffLoopbackIsRefused(url: String) async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        #expect(throws: FakePagerDuty.ResponderError.self) {
            try fake.setWebhookSubscription(.init(url: url, signingSecrets: [Self.secret]))
        }
        #expect(throws: FakePagerDuty.ResponderError.self, "no secret") {
            try fake.setWebhookSubscription(.init(url: "http://127.0.0.1:9/", signingSecrets: []))
        }
    }
}
