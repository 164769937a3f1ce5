import Foundation
import Logging
import PagerDutyEvents
import ServiceLifecycle
import Tracing

/// How the dispatcher paces, orders and retries deliveries.
public struct DispatcherConfiguration: Sendable, Hashable {
    /// Requests per routing key in any 60 seconds (PagerDuty allows about 120).
    public var rateLimitPerMinute: Int
    /// Backoff for 5xx answers, timeouts, network errors and 429s without Retry-After.
    public var retryPolicy: RetryPolicy
    /// Deliveries between two plans of a lane (at least 1): the lane reads the bodies of this many messages of
    /// its plan, sends them, then plans again. A more urgent event that arrives meanwhile waits at most this
    /// many deliveries (plus one being retried).
    public var batchSize: Int
    /// How many of a lane's oldest pending messages each plan orders by urgency (at least 1). Messages beyond
    /// the window wait for the backlog to shrink, whatever their severity.
    public var priorityWindow: Int
    /// How often an idle lane looks at the store even when nobody woke it (work added by another process).
    public var idlePollInterval: Duration
    /// How often a lane that another replica owns tries to take it over (the failover time is at most the
    /// owner's lease plus this).
    public var ownershipRetryInterval: Duration

    public init(
        rateLimitPerMinute: Int = 120,
        retryPolicy: RetryPolicy = RetryPolicy(),
        batchSize: Int = 10,
        priorityWindow: Int = 10_000,
        idlePollInterval: Duration = .seconds(5),
        ownershipRetryInterval: Duration = .seconds(1)
    ) {
        self.ownershipRetryInterval = ownershipRetryInterval
        self.rateLimitPerMinute = rateLimitPerMinute
        self.retryPolicy = retryPolicy
        self.batchSize = batchSize
        self.priorityWindow = priorityWindow
        self.idlePollInterval = idlePollInterval
    }
}

/// Delivers the outbox to PagerDuty: one lane per routing key, shared by every route that uses that key, so
/// the key never gets more than ``DispatcherConfiguration/rateLimitPerMinute`` requests in any 60 seconds and a
/// 429 pauses every route on it. PagerDuty counts its limit per routing key, and teams often point several
/// routes (or a route and the default) at one integration. A failing or throttled key never delays another,
/// and the receiver never waits for any of them.
///
/// A lane finds its routes by their current key at every plan and before every request, so a key rotated in
/// its file (a configuration reload) moves the route's queued events to the new key's lane and budget. Events
/// of a route that is no longer configured go to a lane of their own, which dead-letters them.
///
/// A backlogged lane delivers by urgency (``DeliveryPlanner``): critical first, then error, warning, info and
/// events without severity, the oldest first within each, and per dedup_key always in outbox order (so a resolve
/// never overtakes its trigger), across all the routes of its key. It plans again after every
/// ``DispatcherConfiguration/batchSize`` deliveries, so an urgent event that arrives during a backlog jumps
/// ahead within that many deliveries. A message being retried stays first until PagerDuty takes or refuses it.
///
/// A service of the daemon's ServiceGroup: on graceful shutdown each lane finishes the request in flight and
/// stops; what is left stays in the outbox for the next start.
public final class Dispatcher: Service {
    private let store: any PublisherStore
    private let routes: RouteTable
    private let client: EventsAPIClient
    private let configuration: DispatcherConfiguration
    private let clock: any PublisherClock
    private let signal: WorkSignal
    private let metrics: PublisherMetrics
    private let ownership: any WorkOwnership
    private let statusBoard: LaneStatusBoard
    private let logger: Logger

    /// - Parameter ownership: which replica delivers each routing key's events; ``SoleReplica`` (the default)
    ///   delivers all of them.
    /// - Parameter statusBoard: where the lanes note their requests and 429 pauses, for the status page.
    public init(
        store: any PublisherStore,
        routes: RouteTable,
        client: EventsAPIClient,
        configuration: DispatcherConfiguration,
        clock: any PublisherClock,
        signal: WorkSignal,
        metrics: PublisherMetrics,
        ownership: any WorkOwnership = SoleReplica(),
        statusBoard: LaneStatusBoard = LaneStatusBoard(),
        logger: Logger
    ) {
        self.ownership = ownership
        self.statusBoard = statusBoard
        self.store = store
        self.routes = routes
        self.client = client
        self.configuration = configuration
        self.clock = clock
        self.signal = signal
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        logger.info("Dispatcher started")
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                // A lane whose key is no longer used idles (it holds no events) and serves the key again if it
                // comes back, with the budget it already spent.
                var running: Set<DispatchLane.Identity> = []
                var isFirstPass = true
                while !Task.isCancelled {
                    for identity in await self.laneIdentities().subtracting(running) {
                        running.insert(identity)
                        let lane = self.makeLane(for: identity)
                        group.addTask { await lane.run() }
                        self.logger.info(
                            "Dispatch lane started",
                            metadata: ["lane": "\(identity)", "routes": "\(lane.memberRoutes().joined(separator: ","))"]
                        )
                    }
                    if !isFirstPass {
                        // A reload may have moved routes from one key to another: wake every lane to plan again.
                        for name in self.routes.names { self.signal.notify(route: name) }
                    }
                    isFirstPass = false
                    // A configuration reload that adds routes or keys wakes this loop to start their lanes.
                    await self.signal.wait(route: WorkSignal.routesChanged)
                }
            }
        }
        logger.info("Dispatcher stopped; undelivered events stay queued")
    }

    /// The routing keys of the configured routes, and a lane for each route that still has queued events but is
    /// no longer configured.
    private func laneIdentities() async -> Set<DispatchLane.Identity> {
        let configured = routes.names.compactMap { routes.route(named: $0) }
        var identities = Set(configured.map { DispatchLane.Identity.routingKey($0.routingKey) })
        let configuredNames = Set(configured.map(\.name))
        do {
            for name in try await store.routesWithPendingMessages() where !configuredNames.contains(name) {
                identities.insert(.unconfigured(route: name))
            }
        } catch {
            logger.error("Could not list queued routes; starting the configured ones", metadata: ["error": "\(error)"])
        }
        return identities
    }

    private func makeLane(for identity: DispatchLane.Identity) -> DispatchLane {
        DispatchLane(
            identity: identity,
            store: store,
            routes: routes,
            client: client,
            configuration: configuration,
            clock: clock,
            signal: signal,
            metrics: metrics,
            ownership: ownership,
            statusBoard: statusBoard,
            logger: logger
        )
    }
}

/// Delivers the outbox messages of the routes that share one routing key, most urgent first and in order per
/// dedup_key, with one rate limiter and one 429 pause for the key.
struct DispatchLane: Sendable {
    /// Which messages a lane delivers.
    enum Identity: Hashable, Sendable, CustomStringConvertible {
        /// Those of every configured route whose routing key is this one. The key is a secret: it is never
        /// printed (see ``description``).
        case routingKey(String)
        /// Those of a route that is no longer configured: the lane dead-letters them.
        case unconfigured(route: String)

        /// Safe to log: never the key.
        var description: String {
            switch self {
            case .routingKey: "routing key \(name)"
            case .unconfigured(let route): "unconfigured route \(route)"
            }
        }

        /// The lane's stored name (ownership, request times): a hash of the key, never the key.
        var name: String {
            switch self {
            case .routingKey(let key): DeliveryLaneName.forRoutingKey(key)
            case .unconfigured(let route): DeliveryLaneName.forUnconfiguredRoute(route)
            }
        }
    }

    let identity: Identity
    let store: any PublisherStore
    let routes: RouteTable
    let client: EventsAPIClient
    let configuration: DispatcherConfiguration
    let clock: any PublisherClock
    let signal: WorkSignal
    let metrics: PublisherMetrics
    let ownership: any WorkOwnership
    let statusBoard: LaneStatusBoard
    let logger: Logger

    /// Where a lane stands between deliveries.
    private struct Progress {
        var limiter: SlidingWindowLimiter
        var consecutiveFailures = 0
        var random = SystemRandomNumberGenerator()
        /// Whether this replica owned the lane at the last check.
        var isOwner = false
    }

    /// What became of one planned message.
    private enum Settlement {
        /// PagerDuty took or refused it, or it was dead-lettered: go on with the plan.
        case settled
        /// Its route now belongs to another lane (rotated key, removed or re-added route): it stays queued for
        /// that lane.
        case leftForAnotherLane
        /// The lane was cancelled; the message stays queued.
        case cancelled
        /// Another replica owns the lane now; the message stays queued for it.
        case ownershipLost
    }

    /// What the lane does with a message of `routeName` right now.
    private enum Ownership {
        /// Send it with this key.
        case send(routingKey: String)
        /// Its route is gone: dead-letter it.
        case deadLetter
        /// Another lane owns it now.
        case elsewhere
    }

    /// The routes whose messages this lane delivers now, sorted.
    func memberRoutes() -> [String] {
        switch identity {
        case .routingKey(let key):
            return routes.names.filter { routes.route(named: $0)?.routingKey == key }
        case .unconfigured(let route):
            return routes.route(named: route) == nil ? [route] : []
        }
    }

    private func ownership(of routeName: String) -> Ownership {
        let route = routes.route(named: routeName)
        switch identity {
        case .routingKey(let key):
            guard let route, route.routingKey == key else { return .elsewhere }
            return .send(routingKey: key)
        case .unconfigured(let name):
            return route == nil && routeName == name ? .deadLetter : .elsewhere
        }
    }

    func run() async {
        var progress = Progress(limiter: SlidingWindowLimiter(limit: configuration.rateLimitPerMinute))
        while !Task.isCancelled {
            guard await holdOwnership(&progress) else {
                guard (try? await clock.sleep(for: configuration.ownershipRetryInterval)) != nil else { return }
                continue
            }
            let members = memberRoutes()
            let next: PlannedDeliveries
            do {
                next = try await planNextDeliveries(for: members)
            } catch {
                progress.consecutiveFailures += 1
                let delay = configuration.retryPolicy.delay(forAttempt: progress.consecutiveFailures, using: &progress.random)
                logger.error(
                    "Could not read the outbox",
                    metadata: ["routes": "\(members.joined(separator: ","))", "error": "\(error)", "retry_in_ms": "\(delay.milliseconds)"]
                )
                guard (try? await clock.sleep(for: delay)) != nil else { return }
                continue
            }
            if next.isLaneEmpty {
                await waitForWork(on: members)
                continue
            }
            for record in next.records {
                let settlement = await deliver(record, progress: &progress)
                if settlement == .cancelled { return }
                if settlement == .ownershipLost { break }
            }
        }
    }

    /// How long after its stored start a request of another owner (or of this process before a restart) is taken
    /// to have finished: PagerDuty counts a request when it arrives, between the two.
    static let storedRequestMargin: Duration = .seconds(1)

    /// Whether this replica owns the lane; on taking it over, the limiter starts from the requests the previous
    /// owner (or this process before a restart) made in the last window, as the store recorded them, so a
    /// handover never lets more than the limit through in any 60 s.
    private func holdOwnership(_ progress: inout Progress) async -> Bool {
        let owns = await ownership.claim(.delivery(lane: identity.name))
        defer { progress.isOwner = owns }
        guard owns, !progress.isOwner else { return owns }
        var limiter = SlidingWindowLimiter(limit: configuration.rateLimitPerMinute)
        let now = clock.now
        let uptime = clock.uptime
        do {
            let window = limiter.window
            let margin = Self.storedRequestMargin
            let since = now.addingTimeInterval(-(window + margin).seconds)
            for started in try await store.requestTimes(lane: identity.name, since: since) {
                // The stored start of a request, taken as finished a margin later (PagerDuty counted it between the
                // two), placed on this process's monotonic clock; never in the future.
                let age = max(0, now.timeIntervalSince(started) - margin.seconds)
                limiter.recordRequest(finishedAt: uptime - .seconds(age))
            }
        } catch {
            // Without the history, wait a whole window before the first request: never over the limit.
            logger.warning(
                "Could not read the lane's recent requests; waiting one rate-limit window before sending",
                metadata: ["lane": "\(identity)", "error": "\(error)"])
            for _ in 0..<limiter.limit { limiter.recordRequest(finishedAt: uptime) }
        }
        progress.limiter = limiter
        return true
    }

    /// The next messages to send, in plan order, and whether the lane had nothing pending at all.
    private struct PlannedDeliveries {
        var records: [OutboxRecord]
        var isLaneEmpty: Bool
    }

    /// Plans the oldest ``DispatcherConfiguration/priorityWindow`` pending messages of `members` and reads the
    /// bodies of the first ``DispatcherConfiguration/batchSize`` of the plan. Messages that left the outbox since
    /// the plan (delivered or removed by another process) are skipped.
    private func planNextDeliveries(for members: [String]) async throws -> PlannedDeliveries {
        let window = max(configuration.priorityWindow, 1)
        var pending: [PendingMessageSummary] = []
        for route in members {
            pending += try await store.pendingSummaries(route: route, limit: window)
        }
        if pending.isEmpty { return PlannedDeliveries(records: [], isLaneEmpty: true) }
        if members.count > 1 {
            // Outbox ids grow with time across routes: the oldest `window` of the key, as for a single route.
            pending = Array(pending.sorted { $0.id < $1.id }.prefix(window))
        }
        let planned = DeliveryPlanner.order(pending).prefix(max(configuration.batchSize, 1)).map(\.id)
        return PlannedDeliveries(records: try await store.pendingMessages(ids: planned), isLaneEmpty: false)
    }

    /// Waits until the receiver stores work for one of `members`, or the idle poll interval passes.
    private func waitForWork(on members: [String]) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await signal.wait(routes: Set(members)) }
            group.addTask { try? await clock.sleep(for: configuration.idlePollInterval) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Sends `record` until PagerDuty takes or refuses it, or its route leaves this lane.
    private func deliver(_ record: OutboxRecord, progress: inout Progress) async -> Settlement {
        let route = record.message.route
        var attempt = record.attempts
        while true {
            let wait = progress.limiter.delay(at: clock.uptime)
            if wait > .zero {
                guard (try? await clock.sleep(for: wait)) != nil else { return .cancelled }
            }
            // Another replica may have taken the lane while this one waited (this one could not renew its lease).
            if !(await ownership.claim(.delivery(lane: identity.name))) {
                return .ownershipLost
            }
            // Looked up before every request: a reload may have rotated the key while the lane waited.
            let routingKey: String
            switch ownership(of: route) {
            case .send(let key):
                routingKey = key
            case .deadLetter:
                await deadLetter(record, reason: "route \"\(route)\" is no longer configured")
                return .settled
            case .elsewhere:
                return .leftForAnotherLane
            }
            // Stored before the request goes out: a replica killed while it waits for the answer has still told
            // the next owner of the lane that PagerDuty may count this request. A store that cannot record it
            // could not record PagerDuty's answer either (the event would be sent twice): wait and try again. A
            // shared store records it only while this replica still owns the lane (fencing): if another replica
            // took it over, this one stops here.
            switch await recordRequestStart() {
            case .recorded:
                break
            case .laneTakenOver:
                await ownership.relinquish(.delivery(lane: identity.name))
                return .ownershipLost
            case .failed:
                progress.consecutiveFailures += 1
                let delay = configuration.retryPolicy.delay(forAttempt: progress.consecutiveFailures, using: &progress.random)
                guard (try? await clock.sleep(for: delay)) != nil else { return .cancelled }
                continue
            }
            // A request once started is finished even when the lane is being stopped (bounded by the
            // request timeout), so PagerDuty's answer is recorded instead of sending the event twice.
            let client = self.client
            let report: DeliveryReport
            let span = DeliverySpan.start(for: record.message, attempt: attempt + 1)
            switch StoredEvent.decode(record.message) {
            case .alert(var event):
                event.routingKey = routingKey
                report = await Task { await client.send(event) }.value
            case .change(var event):
                event.routingKey = routingKey
                report = await Task { await client.send(event) }.value
            case .unreadable(let reason):
                DeliverySpan.end(span, unreadable: true)
                await deadLetter(record, reason: reason)
                return .settled
            }
            DeliverySpan.end(span, report: report)
            progress.limiter.recordRequest(finishedAt: clock.uptime)
            if report.wasSent {
                statusBoard.recordRequest(
                    lane: identity.name, routes: memberRoutes(), limit: configuration.rateLimitPerMinute, at: clock.now)
            }
            metrics.recordRequest(report)
            attempt += 1

            let retryDelay: Duration
            switch report.outcome {
            case .accepted:
                metrics.recordDelivered(kind: record.message.kind, route: route, severity: record.message.severity)
                await settle { try await store.markDelivered(id: record.id) }
                progress.consecutiveFailures = 0
                statusBoard.recordPause(lane: identity.name, until: nil)
                logger.info("Delivered event", metadata: metadata(record, report, attempt: attempt))
                return .settled
            case .rejected(let reason):
                await deadLetter(record, reason: "PagerDuty refused the event: \(reason)", report: report, attempt: attempt)
                progress.consecutiveFailures = 0
                return .settled
            case .rateLimited(let retryAfter):
                // The pause holds the whole lane, so every route on this key waits. The hit is counted under the
                // route whose event got the 429.
                metrics.recordRateLimitHit(route: route)
                progress.consecutiveFailures += 1
                retryDelay =
                    retryAfter
                    ?? configuration.retryPolicy.delay(forAttempt: progress.consecutiveFailures, using: &progress.random)
                statusBoard.recordPause(lane: identity.name, until: clock.now.addingTimeInterval(retryDelay.seconds))
            case .serverError, .unexpectedStatus, .timeout, .network:
                progress.consecutiveFailures += 1
                retryDelay = configuration.retryPolicy.delay(forAttempt: progress.consecutiveFailures, using: &progress.random)
            }
            let reason = Self.describe(report.outcome)
            await settle { try await store.recordFailedAttempt(id: record.id, error: reason) }
            var details = metadata(record, report, attempt: attempt)
            details["error"] = "\(reason)"
            details["retry_in_ms"] = "\(retryDelay.milliseconds)"
            logger.warning("Delivery failed; will retry", metadata: details)
            guard (try? await clock.sleep(for: retryDelay)) != nil else { return .cancelled }
        }
    }

    /// What became of storing a request's start.
    private enum RequestStart {
        /// Stored: the request may go out.
        case recorded
        /// The store says another replica owns the lane now: send nothing.
        case laneTakenOver
        /// The store failed (logged): wait and try again.
        case failed
    }

    /// Stores when a request starts, for the limiter of a later owner of the lane (or of this process after a
    /// restart).
    private func recordRequestStart() async -> RequestStart {
        let lane = identity.name
        let finishedAt = clock.now
        let failure = await Task { () -> (any Error)? in
            do {
                try await store.recordRequest(lane: lane, finishedAt: finishedAt)
                return nil
            } catch {
                return error
            }
        }.value
        if failure is WorkNoLongerOwned {
            logger.warning(
                "Another replica took this lane over before the request went out; nothing was sent",
                metadata: ["lane": "\(identity)"])
            return .laneTakenOver
        }
        if let failure {
            logger.warning(
                "Could not record a request's start; the event waits until the store answers",
                metadata: ["lane": "\(identity)", "error": "\(failure)"])
            return .failed
        }
        return .recorded
    }

    private func deadLetter(_ record: OutboxRecord, reason: String, report: DeliveryReport? = nil, attempt: Int? = nil) async {
        await settle { try await store.moveToDeadLetters(id: record.id, reason: reason, at: clock.now) }
        var details: Logger.Metadata = [
            "route": "\(record.message.route)", "outbox_id": "\(record.id)", "kind": "\(record.message.kind.rawValue)",
            "reason": "\(reason)",
        ]
        if let dedupKey = record.message.dedupKey { details["dedup_key"] = "\(dedupKey)" }
        if let status = report?.httpStatus { details["status"] = "\(status)" }
        if let attempt { details["attempts"] = "\(attempt)" }
        logger.error("Event moved to dead letters", metadata: details)
    }

    /// Runs a store update to completion even when the lane is being cancelled, so an answer PagerDuty gave is
    /// not forgotten at shutdown. A failure is logged; the message then stays queued and is sent again.
    private func settle(_ update: @escaping @Sendable () async throws -> Void) async {
        let outcome = await Task { () -> (any Error)? in
            do {
                try await update()
                return nil
            } catch {
                return error
            }
        }.value
        if let outcome {
            logger.error(
                "Could not record a delivery outcome; the event will be sent again",
                metadata: ["routes": "\(memberRoutes().joined(separator: ","))", "error": "\(outcome)"]
            )
        }
    }

    private func metadata(_ record: OutboxRecord, _ report: DeliveryReport, attempt: Int) -> Logger.Metadata {
        var details: Logger.Metadata = [
            "route": "\(record.message.route)",
            "outbox_id": "\(record.id)",
            "kind": "\(record.message.kind.rawValue)",
            "status": "\(report.statusLabel)",
            "duration_ms": "\(report.duration.milliseconds)",
            "attempt": "\(attempt)",
        ]
        if let dedupKey = record.message.dedupKey { details["dedup_key"] = "\(dedupKey)" }
        return details
    }

    static func describe(_ outcome: DeliveryOutcome) -> String {
        switch outcome {
        case .accepted: "accepted"
        case .rejected(let reason): "rejected: \(reason)"
        case .rateLimited(let retryAfter): "rate limited (429)" + (retryAfter.map { ", Retry-After \($0.milliseconds / 1000) s" } ?? "")
        case .serverError(let status, let reason): "server error \(status): \(reason)"
        case .unexpectedStatus(let status, let reason): "unexpected status \(status): \(reason)"
        case .timeout(let reason): "timeout: \(reason)"
        case .network(let reason): "network error: \(reason)"
        }
    }
}

/// The span of one delivery attempt to PagerDuty: a trace of its own (attempts happen long after the webhook's
/// request ended, possibly in another process), linked to the trace of the webhook that queued the event through
/// the `traceparent` stored with it. Its attributes name the route (the routing key's label), the attempt, the
/// event's kind and dedup_key, and the outcome: never the routing key, which only the request body carries.
enum DeliverySpan {
    static func start(for message: OutboxMessage, attempt: Int) -> any Span {
        let span = startSpan("pagerduty.deliver", context: .topLevel, ofKind: .client)
        guard span.isRecording else { return span }
        if let traceparent = message.traceContext {
            span.addLink(SpanLink(context: TraceContext.context(traceparent: traceparent), attributes: [:]))
        }
        span.attributes["publisher.route"] = message.route
        span.attributes["publisher.attempt"] = attempt
        span.attributes["publisher.event.kind"] = message.kind.rawValue
        if let dedupKey = message.dedupKey { span.attributes["pagerduty.dedup_key"] = dedupKey }
        return span
    }

    static func end(_ span: any Span, report: DeliveryReport) {
        defer { span.end() }
        guard span.isRecording else { return }
        if let status = report.httpStatus { span.attributes["http.response.status_code"] = status }
        span.attributes["publisher.delivery.outcome"] = outcomeName(report.outcome)
        span.attributes["publisher.delivery.status"] = report.statusLabel
        if case .accepted = report.outcome {
            span.setStatus(SpanStatus(code: .ok))
        } else {
            span.setStatus(SpanStatus(code: .error))
        }
    }

    static func end(_ span: any Span, unreadable: Bool) {
        if span.isRecording {
            span.attributes["publisher.delivery.outcome"] = "unreadable"
            span.setStatus(SpanStatus(code: .error))
        }
        span.end()
    }

    /// The outcome's category, without PagerDuty's message.
    static func outcomeName(_ outcome: DeliveryOutcome) -> String {
        switch outcome {
        case .accepted: "accepted"
        case .rejected: "rejected"
        case .rateLimited: "rate_limited"
        case .serverError: "server_error"
        case .unexpectedStatus: "unexpected_status"
        case .timeout: "timeout"
        case .network: "network"
        }
    }
}

/// An outbox body decoded back into the event it stores.
enum StoredEvent {
    case alert(AlertEvent)
    case change(ChangeEvent)
    case unreadable(String)

    static func decode(_ message: OutboxMessage) -> StoredEvent {
        let decoder = JSONDecoder()
        do {
            switch message.kind {
            case .change: return .change(try decoder.decode(ChangeEvent.self, from: message.body))
            case .trigger, .acknowledge, .resolve: return .alert(try decoder.decode(AlertEvent.self, from: message.body))
            }
        } catch {
            return .unreadable("the stored event cannot be read: \(error)")
        }
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
