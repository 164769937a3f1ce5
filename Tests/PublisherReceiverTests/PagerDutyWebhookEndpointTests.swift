import Foundation
import Hummingbird
import HummingbirdTesting
import PagerDutyWebhooks
import PublisherCore
import PublisherReceiver
import PublisherTestSupport
import Synchronization
import Testing

/// Records the incident updates it is given and answers with a scripted outcome.
final class RecordingIncidentReceiver: IncidentUpdateReceiving {
    private let state = Mutex<(updates: [IncidentUpdate], outcome: Result<IncidentUpdateOutcome, IngestError>)>(([], .success(.applied)))

    init(outcome: Result<IncidentUpdateOutcome, IngestError> = .success(.applied)) {
        state.withLock { $0.outcome = outcome }
    }

    var updates: [IncidentUpdate] { state.withLock { $0.updates } }

    func apply(_ update: IncidentUpdate) async throws(IngestError) -> IncidentUpdateOutcome {
        let outcome = state.withLock { state in
            state.updates.append(update)
            return state.outcome
        }
        return try outcome.get()
    }
}

/// The counts `recordOutcome` was given, as "event_type result".
final class OutcomeCounter: Sendable {
    private let recorded = Mutex<[String]>([])
    var outcomes: [String] { recorded.withLock { $0 } }
    func record(_ eventType: String, _ result: String) { recorded.withLock { $0.append("\(eventType) \(result)") } }
}

@Suite("POST /v1/pagerduty: signed v3 webhooks", .timeLimit(.minutes(2)))
struct PagerDutyWebhookEndpointTests {
    static let secret = "whsec-current-0123456789abcdef"
    static let oldSecret = "whsec-previous-fedcba9876543210"
    static let signatureName = HTTPFields.Element.Name(SignedPagerDutyWebhook.signatureHeaderName)!

    struct Setup {
        var harness = ReceiverHarness()
        let receiver: RecordingIncidentReceiver
        let counter = OutcomeCounter()

        init(secrets: [String] = [PagerDutyWebhookEndpointTests.secret], outcome: Result<IncidentUpdateOutcome, IngestError> = .success(.applied)) throws {
            receiver = RecordingIncidentReceiver(outcome: outcome)
            let counter = self.counter
            harness.pagerDutyWebhooks = PagerDutyWebhookSettings(
                secrets: try WebhookSigningSecrets(secrets), receiver: receiver,
                recordOutcome: { counter.record($0, $1) },
                now: { Date(timeIntervalSince1970: 1_800_000_000) })
        }
    }

    static func acknowledged(key: String? = "a1b2c3d4e5f60718", eventID: String = "01ACK", secrets: [String] = [secret]) -> SignedPagerDutyWebhook {
        SignedPagerDutyWebhook.incident(
            .incidentAcknowledged, eventID: eventID, occurredAt: Date(timeIntervalSince1970: 1_799_999_000),
            agentSummary: "Ada Responder",
            incident: IncidentSnapshot(id: "PGR0VU2", incidentKey: key, htmlURL: "https://acme.pagerduty.com/incidents/PGR0VU2"),
            secrets: secrets)
    }

    static func post(
        _ client: any TestClientProtocol, body: [UInt8], signatures: [String], signatureHeader: HTTPFields.Element.Name = signatureName,
        contentType: String = "application/json"
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: contentType]
        for signature in signatures { headers.append(HTTPFields.Element(name: signatureHeader, value: signature)) }
        return try await client.execute(uri: "/v1/pagerduty", method: .post, headers: headers, body: ByteBuffer(bytes: body))
    }

    @Test func withoutSigningSecretsTheEndpointIsNotThere() async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            let webhook = Self.acknowledged()
            let response = try await Self.post(client, body: webhook.body, signatures: [webhook.signature])
            #expect(response.status == .notFound)
        }
    }

    @Test func aSignedAcknowledgeReachesTheLedgerWithWhoWhenAndWhichIncident() async throws {
        let setup = try Setup()
        try await setup.harness.run { client in
            let webhook = Self.acknowledged()
            let response = try await Self.post(client, body: webhook.body, signatures: [webhook.signature])
            #expect(response.status == .ok)
            #expect(try response.jsonObject()["status"] as? String == "applied")
        }
        #expect(setup.receiver.updates == [
            IncidentUpdate(
                eventID: "01ACK", dedupKey: "a1b2c3d4e5f60718",
                state: IncidentState(
                    status: .acknowledged, changedAt: Date(timeIntervalSince1970: 1_799_999_000), changedBy: "Ada Responder",
                    incidentID: "PGR0VU2", incidentURL: "https://acme.pagerduty.com/incidents/PGR0VU2"))
        ])
        #expect(setup.counter.outcomes == ["incident.acknowledged applied"])
    }

    @Test(arguments: [
        (PagerDutyEventType.incidentTriggered, IncidentState.Status.triggered),
        (.incidentUnacknowledged, .triggered), (.incidentReopened, .triggered), (.incidentResolved, .resolved),
    ])
    func eachIncidentTypeMapsToAStatus(type: PagerDutyEventType, status: IncidentState.Status) async throws {
        let setup = try Setup()
        try await setup.harness.run { client in
            let webhook = SignedPagerDutyWebhook.incident(
                type, incident: IncidentSnapshot(id: "P1", incidentKey: "k1"), secrets: [Self.secret])
            let answer1 = try await Self.post(client, body: webhook.body, signatures: [webhook.signature])
            #expect(answer1.status == .ok)
        }
        #expect(setup.receiver.updates.map(\.state.status) == [status])
    }

    @Test func aWrongSecretOrABodyTamperedByOneByteIs401AndNothingIsApplied() async throws {
        let setup = try Setup()
        try await setup.harness.run { client in
            let forged = Self.acknowledged(secrets: ["not-our-secret"])
            let wrong = try await Self.post(client, body: forged.body, signatures: [forged.signature])
            #expect(wrong.status == .unauthorized)
            #expect(try wrong.jsonObject()["error"] as? String == "no signature in X-PagerDuty-Signature matches a signing secret of this daemon")

            let genuine = Self.acknowledged()
            var tampered = genuine.body
            let index = try #require(tampered.firstIndex(of: UInt8(ascii: "A")))  // "Ada Responder" → "Bda Responder"
            tampered[index] = UInt8(ascii: "B")
            let answer2 = try await Self.post(client, body: tampered, signatures: [genuine.signature])
            #expect(answer2.status == .unauthorized)
        }
        #expect(setup.receiver.updates.isEmpty)
        #expect(setup.counter.outcomes == ["unknown bad_signature", "unknown bad_signature"])
        let logs = setup.harness.logs.lines.joined(separator: "\n")
        #expect(!logs.contains("Ada Responder") && !logs.contains("a1b2c3d4e5f60718"), "nothing of a refused body is logged")
        #expect(!logs.contains(Self.secret))
    }

    @Test func aMissingOrMalformedSignatureIs400() async throws {
        let setup = try Setup()
        try await setup.harness.run { client in
            let webhook = Self.acknowledged()
            let missing = try await Self.post(client, body: webhook.body, signatures: [])
            #expect(missing.status == .badRequest)
            #expect((try missing.jsonObject()["error"] as? String)?.contains("X-PagerDuty-Signature header is missing") == true)
            for malformed in ["v1=", "v1=xyz", "sha256", String(repeating: "v1=\(String(repeating: "0", count: 64)),", count: 11)] {
                let response = try await Self.post(client, body: webhook.body, signatures: [malformed])
                #expect(response.status == .badRequest, "\(malformed.prefix(20))")
                #expect((try response.jsonObject()["error"] as? String)?.contains("malformed") == true)
            }
        }
        #expect(setup.receiver.updates.isEmpty)
    }

    @Test func duringARotationEitherSecretSignsAndTheHeaderMayComeTwiceInAnyCase() async throws {
        let setup = try Setup(secrets: [Self.secret, Self.oldSecret])
        try await setup.harness.run { client in
            // PagerDuty signs with both while the subscription's secret rotates.
            let both = Self.acknowledged(eventID: "e1", secrets: [Self.oldSecret, Self.secret])
            let answer3 = try await Self.post(client, body: both.body, signatures: [both.signature])
            #expect(answer3.status == .ok)
            // Only the old one, in a lower-case header given twice (the first value a stranger's).
            let old = Self.acknowledged(eventID: "e2", secrets: [Self.oldSecret])
            let lower = HTTPFields.Element.Name("x-pagerduty-signature")!
            let stranger = SignedPagerDutyWebhook.signatureHeader(for: old.body, secrets: ["someone-else"])
            #expect(
                try await Self.post(client, body: old.body, signatures: [stranger, old.signature], signatureHeader: lower).status == .ok)
        }
        #expect(setup.receiver.updates.map(\.eventID) == ["e1", "e2"])
    }

    @Test func aPingIsAnsweredAndOtherTypesAreCountedNotFailed() async throws {
        let setup = try Setup()
        try await setup.harness.run { client in
            let ping = SignedPagerDutyWebhook.ping(secrets: [Self.secret])
            let pong = try await Self.post(client, body: ping.body, signatures: [ping.signature])
            #expect(pong.status == .ok)
            #expect(try pong.jsonObject()["status"] as? String == "pong")

            let note = SignedPagerDutyWebhook(
                body: Array(#"{"event":{"id":"n1","event_type":"incident.annotated","resource_type":"incident","occurred_at":"2026-11-27T10:00:00Z","data":{"type":"incident_note","content":"looking"}}}"#.utf8),
                secrets: [Self.secret])
            let ignored = try await Self.post(client, body: note.body, signatures: [note.signature])
            #expect(ignored.status == .ok)
            #expect(try ignored.jsonObject()["status"] as? String == "ignored")

            let keyless = Self.acknowledged(key: nil)
            let unmatched = try await Self.post(client, body: keyless.body, signatures: [keyless.signature])
            #expect(try unmatched.jsonObject()["status"] as? String == "unmatched")
        }
        #expect(setup.receiver.updates.isEmpty)
        #expect(setup.counter.outcomes == ["pagey.ping pong", "other ignored", "incident.acknowledged unmatched"])
    }

    @Test func aSignedButInvalidEventIs400NamingTheField() async throws {
        let setup = try Setup()
        try await setup.harness.run { client in
            let webhook = SignedPagerDutyWebhook(body: Array(#"{"event":{"event_type":"incident.resolved"}}"#.utf8), secrets: [Self.secret])
            let response = try await Self.post(client, body: webhook.body, signatures: [webhook.signature])
            #expect(response.status == .badRequest)
            #expect((try response.jsonObject()["error"] as? String)?.contains("event.id") == true)
        }
        #expect(setup.counter.outcomes == ["unknown malformed"])
    }

    @Test func aBodyOverTheLimitIs413AndNotJSONIs415() async throws {
        var setup = try Setup()
        setup.harness.configuration.maxBodyBytes = 512
        try await setup.harness.run { client in
            let webhook = Self.acknowledged()
            #expect(webhook.body.count > 512)
            let answer4 = try await Self.post(client, body: webhook.body, signatures: [webhook.signature])
            #expect(answer4.status == .contentTooLarge)
            let plain = try await Self.post(client, body: Array("{}".utf8), signatures: [webhook.signature], contentType: "text/plain")
            #expect(plain.status == .unsupportedMediaType)
        }
        #expect(setup.receiver.updates.isEmpty)
    }

    @Test func whenTheStoreFailsTheAnswerIs503SoPagerDutyRetries() async throws {
        let setup = try Setup(outcome: .failure(.storageUnavailable(reason: "disk full")))
        try await setup.harness.run { client in
            let webhook = Self.acknowledged()
            let answer5 = try await Self.post(client, body: webhook.body, signatures: [webhook.signature])
            #expect(answer5.status == .serviceUnavailable)
        }
        #expect(setup.counter.outcomes == ["incident.acknowledged unavailable"])
    }

    @Test func theBearerTokenOfTheAlertmanagerEndpointsDoesNotApply() async throws {
        var setup = try Setup()
        setup.harness.configuration.authToken = "alertmanager-token-0123456789"
        try await setup.harness.run { client in
            let webhook = Self.acknowledged()
            let answer6 = try await Self.post(client, body: webhook.body, signatures: [webhook.signature])
            #expect(answer6.status == .ok)
            let answer7 = try await client.postWebhook("{}")
            #expect(answer7.status == .unauthorized, "while the Alertmanager endpoint still needs it")
        }
    }
}
