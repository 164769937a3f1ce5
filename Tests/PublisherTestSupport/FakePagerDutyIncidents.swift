import Foundation
import PagerDutyEvents
import PagerDutyWebhooks
import Synchronization

/// PagerDuty's incidents and its v3 webhooks, in ``FakePagerDuty``.
///
/// The fake keeps an incident per `dedup_key` it accepted a trigger for, and follows the Events API events it
/// accepts as PagerDuty does: a trigger opens an incident (or is folded into the open one), an acknowledge
/// acknowledges a triggered incident, a resolve resolves an open one, and a trigger after a resolve opens a new
/// incident with a new id. Acknowledges and resolves for a key without an open incident change nothing.
///
/// With a ``WebhookSubscription`` it plays PagerDuty's webhook side too: ``acknowledgeIncident(dedupKey:by:)``,
/// ``resolveIncident(dedupKey:by:)``, ``unacknowledgeIncident(dedupKey:by:)`` and ``reopenIncident(dedupKey:by:)``
/// act as a responder and send the signed v3 webhook of the change (`incident.acknowledged`, …), and with
/// ``WebhookSubscription/sendsEventsAPIChanges`` every change the Events API makes is sent as well (by the
/// service, as PagerDuty does): `incident.triggered`, `.acknowledged` and `.resolved`. Webhooks go out one at a
/// time in the order of the changes, to loopback only, each bounded by the subscription's timeout; the blocking
/// socket calls run on a thread of their own, never on the cooperative pool. They are not retried.
extension FakePagerDuty {
    /// One incident of the fake.
    public struct Incident: Sendable, Equatable {
        /// The incident's status.
        public enum Status: String, Sendable {
            case triggered
            case acknowledged
            case resolved
        }

        /// `Q` and six digits, e.g. `Q000001`; a new one for every incident.
        public var id: String
        /// The incident's number in the fake's account (1, 2, …).
        public var number: Int
        /// The `dedup_key` it was triggered with: the webhooks' `incident_key`.
        public var dedupKey: String
        /// The routing key of the trigger that opened it.
        public var routingKey: String
        public var status: Status
        /// The trigger's `payload.summary`.
        public var title: String
        /// Its page, on the fake's host: `https://fake-pagerduty.invalid/incidents/<id>`.
        public var htmlURL: String
        /// When the trigger that opened it was accepted.
        public var createdAt: Date
        /// When its status last changed.
        public var changedAt: Date

        /// The incident as a v3 webhook shows it.
        public var snapshot: IncidentSnapshot {
            IncidentSnapshot(
                id: id, number: number, status: status.rawValue, incidentKey: dedupKey, htmlURL: htmlURL, title: title)
        }
    }

    /// Where the fake sends its v3 webhooks, and how.
    public struct WebhookSubscription: Sendable {
        /// The subscription's URL, e.g. `http://127.0.0.1:9095/v1/pagerduty`: `http` on `127.0.0.1` or `localhost`.
        public var url: String
        /// The signing secrets: each webhook carries a `v1=` signature for each (several during a rotation).
        public var signingSecrets: [String]
        /// Also send the changes that events from the Events API make (PagerDuty does); off by default.
        public var sendsEventsAPIChanges: Bool
        /// The agent of those changes: the service whose integration received the events.
        public var integrationAgent: SignedPagerDutyWebhook.Agent
        /// How long one delivery may take (connect, send, answer); at least one second.
        public var timeout: Duration

        public init(
            url: String,
            signingSecrets: [String],
            sendsEventsAPIChanges: Bool = false,
            integrationAgent: SignedPagerDutyWebhook.Agent = .service("Alertmanager (fake PagerDuty service)"),
            timeout: Duration = .seconds(10)
        ) {
            self.url = url
            self.signingSecrets = signingSecrets
            self.sendsEventsAPIChanges = sendsEventsAPIChanges
            self.integrationAgent = integrationAgent
            self.timeout = timeout
        }
    }

    /// One webhook the fake sent (or tried to), and the answer.
    public struct WebhookDelivery: Sendable {
        /// `event.id`.
        public var eventID: String
        public var eventType: PagerDutyEventType
        /// The incident as the webhook showed it.
        public var incident: IncidentSnapshot
        /// `agent.summary`, or `nil` for `"agent": null`.
        public var agentSummary: String?
        /// The body as sent.
        public var body: [UInt8]
        /// The `X-PagerDuty-Signature` sent.
        public var signature: String
        /// The HTTP status of the answer; `nil` when there was none (refused, timed out, the fake stopped).
        public var status: Int?
        /// The answer's body.
        public var answerBody: String
        /// Why there was no answer.
        public var failure: String?

        /// The `dedup_key` of the incident.
        public var dedupKey: String? { incident.incidentKey }
        /// Whether the subscriber answered 2xx (PagerDuty's success).
        public var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }
    }

    /// A responder action the incident's state does not allow, or no subscription to send its webhook to.
    public struct ResponderError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The subscriber did not answer a responder's webhook with 2xx.
    public struct WebhookNotAccepted: Error, CustomStringConvertible {
        public var delivery: WebhookDelivery
        public var description: String {
            "the subscriber did not accept \(delivery.eventType.rawValue): "
                + (delivery.status.map { "HTTP \($0) \(delivery.answerBody)" } ?? delivery.failure ?? "no answer")
        }
    }

    /// The host of the incidents' `html_url`.
    public static let incidentHost = "fake-pagerduty.invalid"

    /// Sends webhooks to `subscription` from now on (`nil`: sends none; the responder actions then throw).
    /// - Throws: ``ResponderError`` when the URL is not `http` on loopback, there is no secret, or the timeout is
    ///   shorter than a second.
    public func setWebhookSubscription(_ subscription: WebhookSubscription?) throws {
        let target = try subscription.map { try WebhookTarget($0) }
        core.state.withLock { $0.webhookTarget = target }
    }

    /// The latest incident of `dedupKey` (the open one, if any), or `nil` when no trigger of it was accepted.
    public func incident(dedupKey: String) -> Incident? {
        core.state.withLock { $0.incidents.last { $0.dedupKey == dedupKey } }
    }

    /// Every incident of `dedupKey`, oldest first.
    public func incidents(dedupKey: String) -> [Incident] {
        core.state.withLock { $0.incidents.filter { $0.dedupKey == dedupKey } }
    }

    /// Every incident, oldest first.
    public var incidents: [Incident] {
        core.state.withLock { $0.incidents }
    }

    /// The webhooks sent so far (answered or failed), in the order they were sent.
    public var webhookDeliveries: [WebhookDelivery] {
        core.webhooks.deliveries
    }

    /// A responder acknowledges the open incident of `dedupKey` (triggered, or acknowledged again): sends
    /// `incident.acknowledged` and returns once it was answered.
    /// - Throws: ``ResponderError`` without a subscription or an open incident, ``WebhookNotAccepted`` unless the
    ///   subscriber answered 2xx.
    @discardableResult
    public func acknowledgeIncident(dedupKey: String, by responder: String = "Ada Responder") async throws -> WebhookDelivery {
        try await core.act(.acknowledge, dedupKey: dedupKey, agent: .user(responder))
    }

    /// A responder resolves the open incident of `dedupKey`: sends `incident.resolved`; see
    /// ``acknowledgeIncident(dedupKey:by:)``.
    @discardableResult
    public func resolveIncident(dedupKey: String, by responder: String = "Ada Responder") async throws -> WebhookDelivery {
        try await core.act(.resolve, dedupKey: dedupKey, agent: .user(responder))
    }

    /// The acknowledgement of `dedupKey`'s incident is undone (`by: nil`: it timed out, as PagerDuty reports with no
    /// agent): the incident is triggered again; sends `incident.unacknowledged`; see
    /// ``acknowledgeIncident(dedupKey:by:)``.
    @discardableResult
    public func unacknowledgeIncident(dedupKey: String, by responder: String? = nil) async throws -> WebhookDelivery {
        try await core.act(.unacknowledge, dedupKey: dedupKey, agent: responder.map { .user($0) })
    }

    /// A responder reopens the resolved incident of `dedupKey` (same id, triggered again): sends
    /// `incident.reopened`; see ``acknowledgeIncident(dedupKey:by:)``.
    @discardableResult
    public func reopenIncident(dedupKey: String, by responder: String = "Ada Responder") async throws -> WebhookDelivery {
        try await core.act(.reopen, dedupKey: dedupKey, agent: .user(responder))
    }

    /// Waits until the webhooks queued so far were all sent (answered or failed), polling every 10 ms.
    /// - Throws: ``WaitTimedOut`` after `timeout`.
    public func waitForWebhooksSent(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while core.webhooks.pending > 0 {
            guard ContinuousClock.now < deadline else {
                throw WaitTimedOut(description: "waited \(timeout) for \(core.webhooks.pending) webhooks still to send")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits until a webhook of `type` for `dedupKey` was sent (answered or failed) and returns the first, polling
    /// every 10 ms.
    /// - Throws: ``WaitTimedOut`` after `timeout`, listing the webhooks sent.
    public func waitForWebhook(
        _ type: PagerDutyEventType, dedupKey: String, timeout: Duration = .seconds(30)
    ) async throws -> WebhookDelivery {
        let deadline = ContinuousClock.now + timeout
        while true {
            let sent = webhookDeliveries
            if let found = sent.first(where: { $0.eventType == type && $0.dedupKey == dedupKey }) { return found }
            guard ContinuousClock.now < deadline else {
                let seen = sent.map { "\($0.eventType.rawValue) \($0.dedupKey ?? "-")" }.joined(separator: ", ")
                throw WaitTimedOut(description: "waited \(timeout) for \(type.rawValue) of \(dedupKey); sent: [\(seen)]")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// What a responder can do to an incident.
enum FakeResponderAction: String, Sendable, CaseIterable {
    case acknowledge
    case resolve
    case unacknowledge
    case reopen

    /// The webhook event it causes.
    var eventType: PagerDutyEventType {
        switch self {
        case .acknowledge: .incidentAcknowledged
        case .resolve: .incidentResolved
        case .unacknowledge: .incidentUnacknowledged
        case .reopen: .incidentReopened
        }
    }

    /// The statuses it applies to.
    var allowed: Set<FakePagerDuty.Incident.Status> {
        switch self {
        case .acknowledge, .resolve: [.triggered, .acknowledged]
        case .unacknowledge: [.acknowledged]
        case .reopen: [.resolved]
        }
    }

    /// The status it leaves.
    var result: FakePagerDuty.Incident.Status {
        switch self {
        case .acknowledge: .acknowledged
        case .resolve: .resolved
        case .unacknowledge, .reopen: .triggered
        }
    }
}

extension FakePagerDutyCore {
    /// A responder's `action` on the latest incident of `dedupKey`: changes its status and sends the webhook;
    /// returns once the subscriber answered.
    /// - Throws: ``FakePagerDuty/ResponderError`` without a subscription or an incident in a status that allows
    ///   the action, ``FakePagerDuty/WebhookNotAccepted`` unless the subscriber answered 2xx.
    func act(
        _ action: FakeResponderAction, dedupKey: String, agent: SignedPagerDutyWebhook.Agent?
    ) async throws -> FakePagerDuty.WebhookDelivery {
        typealias Outcome = Result<FakePagerDuty.WebhookDelivery, any Error>
        let delivery = try await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            let refusal: FakePagerDuty.ResponderError? = state.withLock { state in
                guard let target = state.webhookTarget else {
                    return .init(description: "no webhook subscription: call setWebhookSubscription first")
                }
                guard let index = state.incidents.lastIndex(where: { $0.dedupKey == dedupKey }) else {
                    return .init(description: "no incident for dedup_key \(dedupKey)")
                }
                let current = state.incidents[index]
                guard action.allowed.contains(current.status) else {
                    return .init(description: "incident \(current.id) of \(dedupKey) is \(current.status.rawValue); cannot \(action.rawValue) it")
                }
                let now = Date()
                state.incidents[index].status = action.result
                state.incidents[index].changedAt = now
                webhooks.send(PendingWebhook(
                    type: action.eventType, occurredAt: now, agent: agent, incident: state.incidents[index], target: target
                )) { continuation.resume(returning: .success($0)) }
                return nil
            }
            if let refusal { continuation.resume(returning: .failure(refusal)) }
        }.get()
        guard delivery.succeeded else { throw FakePagerDuty.WebhookNotAccepted(delivery: delivery) }
        return delivery
    }

    /// `POST /_control/incidents` with `{"dedup_key":"…","action":"acknowledge"|"resolve"|"unacknowledge"|"reopen",
    /// "by":"…"}`: a responder's action; answers 200 with the webhook sent and the subscriber's answer, 409 when
    /// the incident's state (or the missing subscription) does not allow it, 502 when the subscriber refused it.
    func respondToIncidentControl(body: [UInt8]) async -> (status: Int, body: String) {
        struct Command: Decodable {
            var dedupKey: String
            var action: String
            var by: String?
            enum CodingKeys: String, CodingKey {
                case dedupKey = "dedup_key"
                case action
                case by
            }
        }
        func answer(_ status: Int, _ members: [String: JSONValue]) -> (status: Int, body: String) {
            (status, String(decoding: (try? EventEncoding.encode(JSONValue.object(members))) ?? [], as: UTF8.self))
        }
        func report(_ delivery: FakePagerDuty.WebhookDelivery) -> [String: JSONValue] {
            [
                "event_id": .string(delivery.eventID), "event_type": .string(delivery.eventType.rawValue),
                "incident_id": .string(delivery.incident.id), "incident_status": .string(delivery.incident.status ?? ""),
                "subscriber_status": delivery.status.map { .number(Double($0)) } ?? .null,
                "failure": delivery.failure.map(JSONValue.string) ?? .null,
            ]
        }
        guard let command = try? JSONDecoder().decode(Command.self, from: Data(body)),
            let action = FakeResponderAction(rawValue: command.action)
        else {
            let actions = FakeResponderAction.allCases.map(\.rawValue).joined(separator: ", ")
            return answer(400, ["message": .string("expected {\"dedup_key\":…,\"action\":\(actions),\"by\":…}")])
        }
        let agent = (command.by ?? (action == .unacknowledge ? nil : "Ada Responder")).map { SignedPagerDutyWebhook.Agent.user($0) }
        do {
            return answer(200, report(try await act(action, dedupKey: command.dedupKey, agent: agent)))
        } catch let refused as FakePagerDuty.WebhookNotAccepted {
            return answer(502, report(refused.delivery))
        } catch {
            return answer(409, ["message": .string("\(error)")])
        }
    }
}

/// The incidents' part of ``FakePagerDutyCore``: follows an accepted Events API event.
extension FakePagerDutyState {
    /// Applies the accepted event `json` (whose dedup_key is `dedupKey`) to the incidents, and queues the webhook
    /// of the change when the subscription asks for them. Call under the state's lock.
    mutating func follow(event json: JSONValue?, dedupKey: String, webhooks: FakeWebhookSender) {
        guard tracksIncidents else { return }
        let now = Date()
        let index = incidents.lastIndex { $0.dedupKey == dedupKey }
        let current = index.map { incidents[$0] }
        let type: PagerDutyEventType
        let changed: FakePagerDuty.Incident
        switch json?.member("event_action")?.stringValue {
        case "trigger":
            if let current, current.status != .resolved { return }  // folded into the open incident
            incidentCount += 1
            let id = String(format: "Q%06d", incidentCount)
            changed = FakePagerDuty.Incident(
                id: id, number: incidentCount, dedupKey: dedupKey,
                routingKey: json?.member("routing_key")?.stringValue ?? "",
                status: .triggered, title: json?.member("payload")?.member("summary")?.stringValue ?? dedupKey,
                htmlURL: "https://\(FakePagerDuty.incidentHost)/incidents/\(id)", createdAt: now, changedAt: now)
            incidents.append(changed)
            type = .incidentTriggered
        case "acknowledge":
            guard let index, let current, current.status == .triggered else { return }
            incidents[index].status = .acknowledged
            incidents[index].changedAt = now
            changed = incidents[index]
            type = .incidentAcknowledged
        case "resolve":
            guard let index, let current, current.status != .resolved else { return }
            incidents[index].status = .resolved
            incidents[index].changedAt = now
            changed = incidents[index]
            type = .incidentResolved
        default:
            return
        }
        guard let target = webhookTarget, target.subscription.sendsEventsAPIChanges else { return }
        webhooks.send(PendingWebhook(
            type: type, occurredAt: now, agent: target.subscription.integrationAgent, incident: changed, target: target))
    }
}

/// A subscription checked for use: its loopback port and request target.
struct WebhookTarget: Sendable {
    var subscription: FakePagerDuty.WebhookSubscription
    var port: Int
    /// Path and query, e.g. `/v1/pagerduty`.
    var requestTarget: String
    /// The value of `X-Webhook-Subscription`.
    var subscriptionID: String

    init(_ subscription: FakePagerDuty.WebhookSubscription) throws {
        typealias Refusal = FakePagerDuty.ResponderError
        guard let components = URLComponents(string: subscription.url), components.scheme == "http",
            let host = components.host, ["127.0.0.1", "localhost"].contains(host.lowercased())
        else { throw Refusal(description: "the webhook subscription URL must be http on 127.0.0.1 or localhost: \(subscription.url)") }
        guard !subscription.signingSecrets.isEmpty, subscription.signingSecrets.allSatisfy({ !$0.isEmpty }) else {
            throw Refusal(description: "the webhook subscription needs a signing secret")
        }
        guard subscription.timeout >= .seconds(1) else {
            throw Refusal(description: "the webhook timeout must be at least a second (the socket timeouts count whole seconds)")
        }
        self.subscription = subscription
        port = components.port ?? 80
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        requestTarget = path + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        subscriptionID = "PSUBFAKE"
    }
}

/// A webhook decided, not yet sent.
struct PendingWebhook: Sendable {
    var type: PagerDutyEventType
    var occurredAt: Date
    var agent: SignedPagerDutyWebhook.Agent?
    var incident: FakePagerDuty.Incident
    var target: WebhookTarget
}

/// Sends the fake's webhooks one at a time, in the order they were queued, and keeps what became of each.
///
/// Its worker task holds neither the sender nor the fake: releasing the fake finishes the queue and ends the task.
final class FakeWebhookSender: Sendable {
    private struct Job: Sendable {
        var webhook: PendingWebhook
        var completion: (@Sendable (FakePagerDuty.WebhookDelivery) -> Void)?
    }

    /// What the worker shares with the sender.
    private final class Log: Sendable {
        let deliveries = Mutex<[FakePagerDuty.WebhookDelivery]>([])
        let pending = Atomic<Int>(0)
        let stopping = Atomic<Bool>(false)
    }

    private let log = Log()
    private let queue: AsyncStream<Job>.Continuation
    private let worker: Task<Void, Never>

    init() {
        let (jobs, queue) = AsyncStream<Job>.makeStream()
        let log = self.log
        self.queue = queue
        worker = Task.detached {
            for await job in jobs {
                let delivery: FakePagerDuty.WebhookDelivery
                if log.stopping.load(ordering: .acquiring) {
                    delivery = FakeWebhookSender.notSent(job.webhook, reason: "the fake PagerDuty stopped first")
                } else {
                    delivery = await FakeWebhookSender.deliver(job.webhook)
                }
                log.deliveries.withLock { $0.append(delivery) }
                log.pending.subtract(1, ordering: .releasing)
                job.completion?(delivery)
            }
        }
    }

    deinit {
        queue.finish()
    }

    /// Queues `webhook`; `completion` is called with what became of it (also when it could not be sent).
    func send(_ webhook: PendingWebhook, completion: (@Sendable (FakePagerDuty.WebhookDelivery) -> Void)? = nil) {
        log.pending.add(1, ordering: .relaxed)
        if case .terminated = queue.yield(Job(webhook: webhook, completion: completion)) {
            log.pending.subtract(1, ordering: .relaxed)
            let delivery = Self.notSent(webhook, reason: "the fake PagerDuty stopped first")
            log.deliveries.withLock { $0.append(delivery) }
            completion?(delivery)
        }
    }

    /// Webhooks queued and not yet sent.
    var pending: Int { log.pending.load(ordering: .acquiring) }

    var deliveries: [FakePagerDuty.WebhookDelivery] { log.deliveries.withLock { $0 } }

    /// Sends nothing more (what is queued is recorded as not sent) and waits for the worker to end.
    func stop() async {
        log.stopping.store(true, ordering: .releasing)
        queue.finish()
        await worker.value
    }

    private static func signed(_ webhook: PendingWebhook) -> (SignedPagerDutyWebhook, FakePagerDuty.WebhookDelivery) {
        let eventID = "01FAKE" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(20)
        let signed = SignedPagerDutyWebhook.incident(
            webhook.type, eventID: eventID, occurredAt: webhook.occurredAt, agent: webhook.agent,
            incident: webhook.incident.snapshot, createdAt: webhook.incident.createdAt,
            secrets: webhook.target.subscription.signingSecrets)
        let delivery = FakePagerDuty.WebhookDelivery(
            eventID: eventID, eventType: webhook.type, incident: webhook.incident.snapshot, agentSummary: webhook.agent?.summary,
            body: signed.body, signature: signed.signature, status: nil, answerBody: "", failure: nil)
        return (signed, delivery)
    }

    private static func notSent(_ webhook: PendingWebhook, reason: String) -> FakePagerDuty.WebhookDelivery {
        var delivery = signed(webhook).1
        delivery.failure = reason
        return delivery
    }

    /// POSTs the webhook to 127.0.0.1 over a connection of its own, on a thread of its own.
    private static func deliver(_ webhook: PendingWebhook) async -> FakePagerDuty.WebhookDelivery {
        let (signed, unanswered) = signed(webhook)
        let target = webhook.target
        let head = [
            "POST \(target.requestTarget) HTTP/1.1",
            "Host: 127.0.0.1:\(target.port)",
            "User-Agent: PagerDuty-Webhook/V3.0",
            "Content-Type: application/json",
            "\(SignedPagerDutyWebhook.signatureHeaderName): \(signed.signature)",
            "X-Webhook-Id: \(UUID().uuidString.lowercased())",
            "X-Webhook-Subscription: \(target.subscriptionID)",
            "Content-Length: \(signed.body.count)",
            "Connection: close",
        ].joined(separator: "\r\n") + "\r\n\r\n"
        let timeout = target.subscription.timeout
        var delivery = unanswered
        do {
            let answer = try await RawHTTPConnection.inThread {
                let connection = try RawHTTPConnection(port: target.port, timeout: timeout)
                defer { connection.close() }
                try connection.send(Array(head.utf8) + signed.body)
                return connection.readResponse(timeout: timeout)
            }
            if let answer {
                delivery.status = answer.status
                delivery.answerBody = answer.body
            } else {
                delivery.failure = "no answer within \(timeout)"
            }
        } catch {
            delivery.failure = "\(error)"
        }
        return delivery
    }
}
