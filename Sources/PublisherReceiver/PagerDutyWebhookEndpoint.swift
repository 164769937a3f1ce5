import Foundation
import Hummingbird
import Logging
import PagerDutyWebhooks
import PublisherCore

/// What `POST /v1/pagerduty` needs: the subscriptions' signing secrets and where incident updates go.
public struct PagerDutyWebhookSettings: Sendable {
    /// The signing secrets of the webhook subscriptions (several during a rotation), as in force when each
    /// request arrives: a reload of their files replaces them.
    public var secrets: SigningSecretsInForce
    /// Applies the incident updates the webhooks carry.
    public var receiver: any IncidentUpdateReceiving
    /// Counts each request by event type and result (``PublisherMetrics/recordInboundWebhook(eventType:result:)``).
    public var recordOutcome: @Sendable (_ eventType: String, _ result: String) -> Void
    /// The time of an event that carries no `occurred_at`.
    public var now: @Sendable () -> Date

    public init(
        secrets: SigningSecretsInForce,
        receiver: any IncidentUpdateReceiving,
        recordOutcome: @escaping @Sendable (_ eventType: String, _ result: String) -> Void = { _, _ in },
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.secrets = secrets
        self.receiver = receiver
        self.recordOutcome = recordOutcome
        self.now = now
    }

    /// Settings whose secrets stay `secrets` for the process's life.
    public init(
        secrets: WebhookSigningSecrets,
        receiver: any IncidentUpdateReceiving,
        recordOutcome: @escaping @Sendable (_ eventType: String, _ result: String) -> Void = { _, _ in },
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.init(secrets: SigningSecretsInForce(secrets), receiver: receiver, recordOutcome: recordOutcome, now: now)
    }
}

/// `POST /v1/pagerduty`: PagerDuty's signed v3 webhooks.
///
/// Checks run in this order, and the first failure answers: 503 (too many requests in flight, with
/// `Retry-After`), 415 (media type), 413 (size), 400 (the `X-PagerDuty-Signature` header missing or malformed),
/// 401 (no signature matches a secret: nothing of the body is read further or logged), 400 (the event, naming
/// the field). Then:
/// - a `pagey.ping` gets 200 `{"status":"pong"}`;
/// - an incident event (triggered, acknowledged, unacknowledged, resolved, reopened) is applied to the ledger
///   entries of its `incident_key` and gets 200 `{"status":"<outcome>"}` (`applied`, `unchanged`, `stale`,
///   `unmatched`, `duplicate`), or 503 when the store fails (PagerDuty retries 5xx);
/// - any other event type gets 200 `{"status":"ignored"}`: counted, never failed (PagerDuty drops a delivery
///   that gets a 4xx, and a subscription may carry more types than the daemon uses).
///
/// The bearer token and basic auth of the Alertmanager endpoints do not apply: the signature is the
/// authentication.
struct PagerDutyWebhookEndpoint: Sendable {
    let settings: PagerDutyWebhookSettings
    let maxBodyBytes: Int
    let inFlight: InFlightLimit
    let logger: Logger

    init(settings: PagerDutyWebhookSettings, maxBodyBytes: Int, inFlight: InFlightLimit, logger: Logger) {
        self.settings = settings
        self.maxBodyBytes = maxBodyBytes
        self.inFlight = inFlight
        self.logger = logger
    }

    /// The header's name as HTTP/1 and HTTP/2 compare it: lower case.
    static let signatureField = WebhookSignatureVerifier.headerName.lowercased()

    /// Every value of `X-PagerDuty-Signature` in `headers`, whatever the case of its name.
    static func signatures(in headers: HTTPFields) -> [String] {
        headers.filter { $0.name.canonicalName == signatureField }.map(\.value)
    }

    /// The answer to one webhook; never throws, so no failure escapes as a 500.
    func respond(to request: Request, context: some RequestContext) async -> Response {
        let logger = self.logger.forRequest(context)
        var eventType = "unknown"
        do throws(ReceiverRejection) {
            guard inFlight.tryEnter() else {
                settings.recordOutcome(eventType, "unavailable")
                throw .tooManyInFlight(limit: inFlight.limit)
            }
            defer { inFlight.leave() }
            let contentType = request.headers[.contentType]
            guard MediaTypeCheck.isJSON(contentType: contentType) else {
                settings.recordOutcome(eventType, "malformed")
                throw .unsupportedMediaType(contentType)
            }
            let body: ByteBuffer
            do {
                body = try await RequestBodyReader.collect(request, limit: maxBodyBytes)
            } catch RequestBodyReadError.tooLarge(let limit) {
                settings.recordOutcome(eventType, "too_large")
                throw .tooLarge(limit: limit)
            } catch {
                settings.recordOutcome(eventType, "malformed")
                throw .badRequest("the body could not be read", field: JSONFieldPath.root)
            }
            let bytes = body.readableBytesView
            let verifier = WebhookSignatureVerifier(secrets: settings.secrets.current)
            switch verifier.check(body: bytes, headerValues: Self.signatures(in: request.headers)) {
            case .valid:
                break
            case .missing:
                settings.recordOutcome(eventType, "bad_signature")
                throw .badRequest("the \(WebhookSignatureVerifier.headerName) header is missing", field: nil)
            case .malformed(let reason):
                settings.recordOutcome(eventType, "bad_signature")
                throw .badRequest("the \(WebhookSignatureVerifier.headerName) header is malformed: \(reason)", field: nil)
            case .noMatch:
                settings.recordOutcome(eventType, "bad_signature")
                throw .signatureMismatch
            }
            let event: PagerDutyWebhookEvent
            do {
                event = try PagerDutyWebhookDecoder.decode(bytes)
            } catch {
                settings.recordOutcome(eventType, "malformed")
                throw .badRequest(error.reason, field: nil)
            }
            eventType = event.type.metricLabel
            let result = try await handle(event, logger: logger)
            settings.recordOutcome(eventType, result)
            return JSONResponse.make(status: .ok, body: StatusBody(status: result))
        } catch {
            error.log(to: logger)
            return error.response
        }
    }

    /// What `event` does; the result's name.
    private func handle(_ event: PagerDutyWebhookEvent, logger: Logger) async throws(ReceiverRejection) -> String {
        guard let status = Self.incidentStatus(of: event.type) else {
            if event.type == .ping { return "pong" }
            logger.debug("PagerDuty webhook of a type that changes nothing", metadata: ["event_type": "\(event.type.rawValue)"])
            return "ignored"
        }
        guard let incident = event.incident, let dedupKey = incident.incidentKey else {
            // PagerDuty's event rules or alert grouping gave the incident no key of ours.
            logger.info(
                "PagerDuty reported on an incident without an incident_key; nothing changed",
                metadata: ["event_type": "\(event.type.rawValue)", "incident_id": "\(event.incident?.id ?? "")"])
            return IncidentUpdateOutcome.unmatched.rawValue
        }
        let update = IncidentUpdate(
            eventID: event.id,
            dedupKey: dedupKey,
            state: IncidentState(
                status: status, changedAt: event.occurredAt ?? settings.now(), changedBy: event.agentSummary,
                incidentID: incident.id, incidentURL: incident.htmlURL))
        do {
            return try await settings.receiver.apply(update).rawValue
        } catch {
            settings.recordOutcome(event.type.metricLabel, "unavailable")
            throw ReceiverRejection(error)
        }
    }

    /// The incident status an event type reports; `nil` for types that change no incident's status.
    static func incidentStatus(of type: PagerDutyEventType) -> IncidentState.Status? {
        switch type {
        case .incidentTriggered, .incidentUnacknowledged, .incidentReopened: .triggered
        case .incidentAcknowledged: .acknowledged
        case .incidentResolved: .resolved
        case .ping, .other: nil
        }
    }

    private struct StatusBody: Encodable {
        var status: String
    }
}
