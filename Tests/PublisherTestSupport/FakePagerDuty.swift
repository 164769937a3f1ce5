import Foundation
import Hummingbird
import Logging
import PagerDutyEvents
import Synchronization

/// A fake PagerDuty Events API v2 on 127.0.0.1 (an ephemeral port), for tests.
///
/// It answers `POST /v2/enqueue` and `POST /v2/change/enqueue` like PagerDuty: 202 with a `dedup_key` for a valid
/// event, 400 for a body that violates the contract (``EventContract``: the project's schema, and PagerDuty's OpenAPI
/// file when `PAGERDUTY_EVENTS_OPENAPI` names it), 413 above 512 KB, and, when
/// ``enforceRateLimit(perMinute:)`` is set, 429 beyond N requests per routing key in any 60 seconds. Scripted
/// behaviours (``enqueue(_:)``, ``setDefault(_:)``) override that. Every request is recorded.
///
/// It also keeps PagerDuty's incidents and, given a ``WebhookSubscription``, sends PagerDuty's signed v3 webhooks
/// for what its responders do and, when asked, for what the Events API changes (FakePagerDutyIncidents.swift).
public final class FakePagerDuty: Sendable {
    /// How the fake answers a request.
    public enum Behaviour: Sendable {
        /// Act like PagerDuty: validate, apply the rate limit, then answer 202.
        case accept
        /// Answer `status` with `body` (as JSON content).
        case status(Int, body: String)
        /// Answer 429, with a `Retry-After` header when `retryAfterSeconds` is given.
        case rateLimited(retryAfterSeconds: Int?)
        /// Wait, then behave as `then`.
        indirect case delayed(Duration, then: Behaviour)
    }

    /// One request the fake received, and what it answered.
    public struct ReceivedRequest: Sendable {
        /// The request path, e.g. `/v2/enqueue`.
        public var path: String
        /// Header names in lower case.
        public var headers: [String: String]
        /// The raw body.
        public var body: [UInt8]
        /// The body decoded as JSON, when it is JSON.
        public var json: JSONValue?
        /// The status the fake answered.
        public var status: Int
        /// Violations of the ``EventContract``; empty when valid (or for unknown paths, or with validation off).
        public var schemaViolations: [String]
        /// The client's TCP port: requests sharing it came over one (reused) connection.
        public var clientPort: Int?
        /// When the request's body had arrived (wall clock), before any injected latency.
        public var receivedAt = Date()

        /// The `routing_key` of the body, if any.
        public var routingKey: String? { json?.member("routing_key")?.stringValue }
        /// The `dedup_key` of the body, if any.
        public var dedupKey: String? { json?.member("dedup_key")?.stringValue }
        /// The `event_action` of the body, if any.
        public var eventAction: String? { json?.member("event_action")?.stringValue }
    }

    /// A bounded wait ran out.
    public struct WaitTimedOut: Error, CustomStringConvertible {
        /// What was awaited and what was seen instead.
        public var description: String
    }

    /// The base URL to give a client: `http://127.0.0.1:PORT`.
    public let baseURL: String
    /// The bound port.
    public let port: Int
    let core: FakePagerDutyCore
    private let server: RunningLoopbackServer

    private init(core: FakePagerDutyCore, server: RunningLoopbackServer) {
        self.port = server.port
        self.baseURL = server.baseURL
        self.core = core
        self.server = server
    }

    /// Starts a fake on an ephemeral loopback port and returns once it accepts connections.
    /// - Throws: ``OfficialSchemaUnavailable`` when `PAGERDUTY_EVENTS_OPENAPI` names a missing file, or the server's
    ///   start-up error.
    public static func start() async throws -> FakePagerDuty {
        try await start(options: Options())
    }

    /// Starts a fake configured by `options` and returns once it accepts connections.
    /// - Throws: ``OfficialSchemaUnavailable`` when schema validation is on and `PAGERDUTY_EVENTS_OPENAPI` names a
    ///   missing file, ``SchemaFileUnusable``, or the server's start-up error (e.g. the port is taken).
    public static func start(options: Options) async throws -> FakePagerDuty {
        let contract = try options.validatesSchema ? EventContract.current() : nil
        let core = FakePagerDutyCore(contract: contract, options: options)
        let server = try await LoopbackServer.run(name: "FakePagerDuty", port: options.port) {
            (request: Request, context: FakeRequestContext) in
            try await core.respond(to: request, clientPort: context.clientPort)
        }
        return FakePagerDuty(core: core, server: server)
    }

    /// Starts a fake, runs `body` with it, and stops it afterwards, also when `body` throws.
    public static func withRunning<Result>(_ body: (FakePagerDuty) async throws -> Result) async throws -> Result {
        let fake = try await start()
        do {
            let result = try await body(fake)
            await fake.stop()
            return result
        } catch {
            await fake.stop()
            throw error
        }
    }

    /// Stops the server and waits until it has closed its port, then stops sending webhooks (those still queued are
    /// recorded as not sent).
    public func stop() async {
        await server.stop()
        await core.webhooks.stop()
    }

    /// Sets the behaviour used when no scripted behaviour is queued. Initially ``Behaviour/accept``.
    public func setDefault(_ behaviour: Behaviour) {
        core.state.withLock { $0.defaultBehaviour = behaviour }
    }

    /// Queues behaviours, each used for exactly one request, before the default applies again.
    public func enqueue(_ behaviours: [Behaviour]) {
        core.state.withLock { $0.scripted.append(contentsOf: behaviours) }
    }

    /// Answers 429 to a request when `perMinute` requests with the same routing key were already admitted within
    /// the last 60 seconds (real time). `nil` turns the limit off.
    public func enforceRateLimit(perMinute: Int?) {
        core.state.withLock { $0.rateLimitPerMinute = perMinute }
    }

    /// Injects `faults` into every later answer to an event (replacing the faults in force); see ``Faults``.
    public func setFaults(_ faults: Faults) {
        core.state.withLock { $0.faults = faults }
    }

    /// The faults in force.
    public var faults: Faults {
        core.state.withLock { $0.faults }
    }

    /// Calls `observer` with every request once its answer is decided (on the server's task; keep it short and
    /// non-blocking). Replaces an earlier observer.
    public func observeAnswers(_ observer: @escaping @Sendable (ReceivedRequest) -> Void) {
        core.state.withLock { $0.observer = observer }
    }

    /// Every request answered so far, in the order the answers were decided.
    public var requests: [ReceivedRequest] {
        core.state.withLock { $0.requests }
    }

    /// The requests answered 202.
    public var accepted: [ReceivedRequest] {
        requests.filter { $0.status == 202 }
    }

    /// Waits until at least `count` requests were answered 202, polling every 10 ms.
    /// - Throws: ``WaitTimedOut`` after `timeout`, saying what was seen.
    public func waitForAccepted(count: Int, timeout: Duration = .seconds(30)) async throws -> [ReceivedRequest] {
        try await waitUntil(timeout: timeout, describing: "\(count) accepted requests") { requests in
            let accepted = requests.filter { $0.status == 202 }
            return accepted.count >= count ? accepted : nil
        }
    }

    /// Waits until at least `count` requests were answered (any status), polling every 10 ms.
    /// - Throws: ``WaitTimedOut`` after `timeout`, saying what was seen.
    public func waitForRequests(count: Int, timeout: Duration = .seconds(30)) async throws -> [ReceivedRequest] {
        try await waitUntil(timeout: timeout, describing: "\(count) requests") { requests in
            requests.count >= count ? requests : nil
        }
    }

    private func waitUntil(
        timeout: Duration,
        describing goal: String,
        _ satisfied: ([ReceivedRequest]) -> [ReceivedRequest]?
    ) async throws -> [ReceivedRequest] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let seen = requests
            if let result = satisfied(seen) { return result }
            if clock.now >= deadline {
                let statuses = seen.map { String($0.status) }.joined(separator: ", ")
                throw WaitTimedOut(description: "waited \(timeout) for \(goal); saw \(seen.count) requests (statuses: [\(statuses)])")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// The request handling of ``FakePagerDuty``, shared with the server's handler.
final class FakePagerDutyCore: Sendable {
    typealias Behaviour = FakePagerDuty.Behaviour

    private static let window: Duration = .seconds(60)
    private static let maxBodyBytes = 512 * 1024

    let state: Mutex<FakePagerDutyState>
    /// Sends the webhooks of ``FakePagerDuty/WebhookSubscription``.
    let webhooks = FakeWebhookSender()
    private let contract: EventContract?
    private let options: FakePagerDuty.Options

    init(contract: EventContract?, options: FakePagerDuty.Options = .init()) {
        self.contract = contract
        self.options = options
        var initial = FakePagerDutyState()
        initial.randomness = SeededRandomNumberGenerator(seed: options.seed)
        initial.rateLimitPerMinute = options.rateLimitPerMinute
        initial.keepsRequests = options.keepsRequests
        initial.tracksIncidents = options.tracksIncidents
        self.state = Mutex(initial)
    }

    func respond(to request: Request, clientPort: Int?) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 16 * 1024 * 1024)
        let receivedAt = Date()
        let body = Array(buffer.readableBytesView)
        if options.controlEndpoint, request.uri.path == FakePagerDuty.controlPath {
            return respondToControl(method: request.method, body: body)
        }
        if options.controlEndpoint, request.uri.path == FakePagerDuty.incidentControlPath {
            guard request.method == .post else {
                return FakeAnswer.json(405, #"{"status":"invalid request","message":"Use POST"}"#).response
            }
            let (status, text) = await respondToIncidentControl(body: body)
            return FakeAnswer.json(status, text).response
        }
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        let path = request.uri.path
        let endpoint = EventsEndpoint.allCases.first { $0.path == path }
        let json = try? JSONDecoder().decode(JSONValue.self, from: Data(body))
        let violations: [String]
        if let endpoint, let contract {
            violations = json.map { contract.validate($0, for: endpoint) } ?? contract.validate(body, for: endpoint)
        } else {
            violations = []
        }

        let (faultBehaviour, latency) = injectedFault()
        if latency > .zero {
            try? await Task.sleep(for: latency)
        }
        var behaviour = faultBehaviour ?? nextBehaviour()
        while case .delayed(let delay, let then) = behaviour {
            try? await Task.sleep(for: delay)
            behaviour = then
        }
        let answer: FakeAnswer
        if request.method != .post || endpoint == nil {
            answer = .json(404, #"{"status":"invalid request","message":"Not found"}"#)
        } else {
            answer = decide(behaviour, body: body, json: json, violations: violations)
        }
        let received = FakePagerDuty.ReceivedRequest(
            path: path, headers: headers, body: body, json: json, status: answer.status, schemaViolations: violations,
            clientPort: clientPort, receivedAt: receivedAt
        )
        let observer = state.withLock { state in
            // The incidents follow before the request is listed: a test that saw it accepted sees its incident.
            if answer.status == 202, endpoint == .enqueue, let dedupKey = answer.dedupKey {
                state.follow(event: json, dedupKey: dedupKey, webhooks: webhooks)
            }
            if state.keepsRequests { state.requests.append(received) }
            state.answerCounts[received.status, default: 0] += 1
            return state.observer
        }
        observer?(received)
        return answer.response
    }

    /// The behaviour the injected faults impose on this request (nil: none) and the latency to add.
    private func injectedFault() -> (Behaviour?, Duration) {
        state.withLock { state in
            let faults = state.faults
            let latency = Duration.milliseconds(faults.latencyMilliseconds)
            switch faults.mode {
            case .outage:
                return (.status(503, body: #"{"status":"unavailable","message":"Injected outage"}"#), latency)
            case .errors where faults.errorRate > 0:
                let draw = Double.random(in: 0..<1, using: &state.randomness)
                if draw < faults.errorRate {
                    let status = [500, 502, 503].randomElement(using: &state.randomness) ?? 500
                    return (.status(status, body: #"{"status":"error","message":"Injected server error"}"#), latency)
                }
            case .normal, .errors:
                break
            }
            if faults.rateLimitStorm {
                return (.rateLimited(retryAfterSeconds: faults.retryAfterSeconds), latency)
            }
            return (nil, latency)
        }
    }

    /// `POST /_control` sets the faults from a JSON ``FakePagerDuty/Faults``; `GET /_control` returns them with
    /// the number of requests answered so far.
    private func respondToControl(method: HTTPRequest.Method, body: [UInt8]) -> Response {
        if method == .post {
            do {
                let faults = try JSONDecoder().decode(FakePagerDuty.Faults.self, from: Data(body))
                state.withLock { $0.faults = faults }
            } catch {
                return FakeAnswer.json(400, Self.errorBody(message: "Bad control request", errors: ["\(error)"])).response
            }
        } else if method != .get {
            return FakeAnswer.json(405, #"{"status":"invalid request","message":"Use GET or POST"}"#).response
        }
        let (faults, counts) = state.withLock { ($0.faults, $0.answerCounts) }
        let status = FakePagerDuty.ControlStatus(faults: faults, answered: counts.values.reduce(0, +),
                                                 answeredByStatus: Dictionary(uniqueKeysWithValues: counts.map { (String($0.key), $0.value) }))
        let text = (try? JSONEncoder().encode(status)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return FakeAnswer.json(200, text).response
    }

    private func nextBehaviour() -> Behaviour {
        state.withLock { state in
            state.scripted.isEmpty ? state.defaultBehaviour : state.scripted.removeFirst()
        }
    }

    private func decide(_ behaviour: Behaviour, body: [UInt8], json: JSONValue?, violations: [String]) -> FakeAnswer {
        switch behaviour {
        case .status(let status, let text):
            return .json(status, text)
        case .rateLimited(let seconds):
            return .json(429, #"{"status":"throttle event","message":"Requests for this service are arriving too quickly. Please retry later."}"#,
                         retryAfter: seconds)
        case .delayed(_, let then):
            return decide(then, body: body, json: json, violations: violations)
        case .accept:
            if body.count > Self.maxBodyBytes {
                return .json(413, #"{"status":"invalid event","message":"Request too large"}"#)
            }
            if !violations.isEmpty {
                return .json(400, Self.errorBody(message: "Event object is invalid", errors: violations))
            }
            let routingKey = json?.member("routing_key")?.stringValue ?? ""
            guard admit(routingKey: routingKey) else {
                return .json(429, #"{"status":"throttle event","message":"Requests for this service are arriving too quickly. Please retry later."}"#,
                             retryAfter: nil)
            }
            let dedupKey = json?.member("dedup_key")?.stringValue ?? generatedDedupKey()
            var answer = FakeAnswer.json(202, Self.successBody(dedupKey: dedupKey))
            answer.dedupKey = dedupKey
            return answer
        }
    }

    /// Counts the request against its routing key's 60-second window; false when the window is full.
    private func admit(routingKey: String) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let limit = state.rateLimitPerMinute else { return true }
            var times = state.admittedTimes[routingKey, default: []]
            times.removeAll { now - $0 >= Self.window }
            guard times.count < limit else {
                state.admittedTimes[routingKey] = times
                return false
            }
            times.append(now)
            state.admittedTimes[routingKey] = times
            return true
        }
    }

    private func generatedDedupKey() -> String {
        let number = state.withLock { state -> Int in
            state.generatedKeys += 1
            return state.generatedKeys
        }
        return String(format: "fake%028d", number)
    }

    private static func successBody(dedupKey: String) -> String {
        let answer: JSONValue = ["status": "success", "message": "Event processed", "dedup_key": .string(dedupKey)]
        return String(decoding: (try? EventEncoding.encode(answer)) ?? [], as: UTF8.self)
    }

    private static func errorBody(message: String, errors: [String]) -> String {
        let answer: JSONValue = ["status": "invalid event", "message": .string(message), "errors": .array(errors.map(JSONValue.string))]
        return String(decoding: (try? EventEncoding.encode(answer)) ?? [], as: UTF8.self)
    }
}

/// The mutable state of a ``FakePagerDuty``.
struct FakePagerDutyState {
    var defaultBehaviour: FakePagerDuty.Behaviour = .accept
    var scripted: [FakePagerDuty.Behaviour] = []
    var rateLimitPerMinute: Int?
    var admittedTimes: [String: [ContinuousClock.Instant]] = [:]
    var requests: [FakePagerDuty.ReceivedRequest] = []
    var generatedKeys = 0
    var faults = FakePagerDuty.Faults()
    var randomness = SeededRandomNumberGenerator(seed: 1)
    var observer: (@Sendable (FakePagerDuty.ReceivedRequest) -> Void)?
    var keepsRequests = true
    var answerCounts: [Int: Int] = [:]
    /// Every incident, oldest first (``FakePagerDuty/incidents``).
    var incidents: [FakePagerDuty.Incident] = []
    var incidentCount = 0
    var tracksIncidents = true
    var webhookTarget: WebhookTarget?
}

/// The fake's request context: the basics plus the client's port.
struct FakeRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let clientPort: Int?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientPort = source.channel.remoteAddress?.port
    }
}

/// An answer of the fake.
private struct FakeAnswer {
    var status: Int
    var body: String
    var retryAfter: Int?
    /// The `dedup_key` of an accepted event.
    var dedupKey: String?

    static func json(_ status: Int, _ body: String, retryAfter: Int? = nil) -> FakeAnswer {
        FakeAnswer(status: status, body: body, retryAfter: retryAfter)
    }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(
            status: .init(code: status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }
}

extension JSONValue {
    /// The member `name` of an object; nil for a missing member or a non-object.
    public func member(_ name: String) -> JSONValue? {
        if case .object(let members) = self { return members[name] }
        return nil
    }

    /// The text of a string value; nil otherwise.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}

extension FakePagerDuty {
    /// The path of the control endpoint (when ``Options/controlEndpoint`` is on).
    public static let controlPath = "/_control"
    /// The path of the responders' control endpoint (when ``Options/controlEndpoint`` is on): `POST` a responder's
    /// action on an incident, which sends its webhook (see ``setWebhookSubscription(_:)``).
    public static let incidentControlPath = "/_control/incidents"

    /// How a fake is started.
    public struct Options: Sendable {
        /// The loopback port to bind; 0 picks a free one.
        public var port: Int
        /// Validate each event against the ``EventContract`` (400 on violations): the project's schema, plus
        /// PagerDuty's OpenAPI file when `PAGERDUTY_EVENTS_OPENAPI` names it.
        public var validatesSchema: Bool
        /// Answer `GET`/`POST` ``FakePagerDuty/controlPath`` (fault injection at run time).
        public var controlEndpoint: Bool
        /// Seed of the randomness behind injected errors, so that runs are reproducible.
        public var seed: UInt64
        /// The initial per-routing-key limit (see ``FakePagerDuty/enforceRateLimit(perMinute:)``); nil for none.
        public var rateLimitPerMinute: Int?
        /// Keep every request in memory for ``FakePagerDuty/requests``; a long-running process may turn it off
        /// and use ``FakePagerDuty/observeAnswers(_:)`` instead.
        public var keepsRequests: Bool
        /// Keep an incident per `dedup_key` (``FakePagerDuty/incidents``); a long-running process that sends no
        /// webhooks may turn it off.
        public var tracksIncidents: Bool

        /// Options; the defaults are those of ``FakePagerDuty/start()``.
        public init(
            port: Int = 0,
            validatesSchema: Bool = true,
            controlEndpoint: Bool = false,
            seed: UInt64 = 1,
            rateLimitPerMinute: Int? = nil,
            keepsRequests: Bool = true,
            tracksIncidents: Bool = true
        ) {
            self.port = port
            self.validatesSchema = validatesSchema
            self.controlEndpoint = controlEndpoint
            self.seed = seed
            self.rateLimitPerMinute = rateLimitPerMinute
            self.keepsRequests = keepsRequests
            self.tracksIncidents = tracksIncidents
        }
    }

    /// Faults injected into the answers to events, switchable at run time.
    ///
    /// JSON form (the body of `POST /_control`; a missing member takes its default):
    /// `{"mode":"normal"|"outage"|"errors","error_rate":0.3,"latency_ms":2000,"rate_limit_storm":true,"retry_after_s":1}`.
    public struct Faults: Sendable, Codable, Equatable {
        /// What happens to the events.
        public enum Mode: String, Sendable, Codable {
            /// No injected failures.
            case normal
            /// Every event is answered 503.
            case outage
            /// A share ``Faults/errorRate`` of the events is answered 500, 502 or 503 (seeded draw).
            case errors
        }

        /// The mode.
        public var mode: Mode
        /// In ``Mode/errors``, the probability (0…1) that an event gets a 5xx.
        public var errorRate: Double
        /// Added before every answer, in milliseconds.
        public var latencyMilliseconds: Int
        /// When true, every event that is not failed otherwise is answered 429.
        public var rateLimitStorm: Bool
        /// The `Retry-After` seconds of storm 429s; nil sends none.
        public var retryAfterSeconds: Int?

        /// Faults; the defaults inject nothing.
        public init(
            mode: Mode = .normal,
            errorRate: Double = 0,
            latencyMilliseconds: Int = 0,
            rateLimitStorm: Bool = false,
            retryAfterSeconds: Int? = 1
        ) {
            self.mode = mode
            self.errorRate = errorRate
            self.latencyMilliseconds = latencyMilliseconds
            self.rateLimitStorm = rateLimitStorm
            self.retryAfterSeconds = retryAfterSeconds
        }

        enum CodingKeys: String, CodingKey {
            case mode
            case errorRate = "error_rate"
            case latencyMilliseconds = "latency_ms"
            case rateLimitStorm = "rate_limit_storm"
            case retryAfterSeconds = "retry_after_s"
        }

        /// Decodes the JSON form; missing members take their defaults, out-of-range values are refused.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = Faults()
            mode = try container.decodeIfPresent(Mode.self, forKey: .mode) ?? defaults.mode
            errorRate = try container.decodeIfPresent(Double.self, forKey: .errorRate) ?? defaults.errorRate
            latencyMilliseconds = try container.decodeIfPresent(Int.self, forKey: .latencyMilliseconds) ?? defaults.latencyMilliseconds
            rateLimitStorm = try container.decodeIfPresent(Bool.self, forKey: .rateLimitStorm) ?? defaults.rateLimitStorm
            retryAfterSeconds = try container.decodeIfPresent(Int.self, forKey: .retryAfterSeconds) ?? defaults.retryAfterSeconds
            guard (0...1).contains(errorRate) else {
                throw DecodingError.dataCorruptedError(forKey: .errorRate, in: container, debugDescription: "error_rate must be between 0 and 1")
            }
            guard latencyMilliseconds >= 0 else {
                throw DecodingError.dataCorruptedError(forKey: .latencyMilliseconds, in: container, debugDescription: "latency_ms must not be negative")
            }
        }
    }

    /// The answer of `GET`/`POST /_control`: the faults in force and how many events were answered.
    public struct ControlStatus: Sendable, Codable {
        /// The faults in force.
        public var faults: Faults
        /// Events answered so far (any status).
        public var answered: Int
        /// Events answered so far, by HTTP status.
        public var answeredByStatus: [String: Int]

        enum CodingKeys: String, CodingKey {
            case faults
            case answered
            case answeredByStatus = "answered_by_status"
        }
    }
}

/// A small deterministic random number generator (SplitMix64), so that injected faults are reproducible.
public struct SeededRandomNumberGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
