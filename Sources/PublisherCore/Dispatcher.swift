import Foundation
import Logging
import PagerDutyEvents
import ServiceLifecycle

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

    public init(
        rateLimitPerMinute: Int = 120,
        retryPolicy: RetryPolicy = RetryPolicy(),
        batchSize: Int = 10,
        priorityWindow: Int = 10_000,
        idlePollInterval: Duration = .seconds(5)
    ) {
        self.rateLimitPerMinute = rateLimitPerMinute
        self.retryPolicy = retryPolicy
        self.batchSize = batchSize
        self.priorityWindow = priorityWindow
        self.idlePollInterval = idlePollInterval
    }
}

/// Delivers the outbox to PagerDuty: one lane per route, each with its own rate limiter and backoff, so a failing
/// or throttled route never delays another, and the receiver never waits for any of them.
///
/// A backlogged lane delivers by urgency (``DeliveryPlanner``): critical first, then error, warning, info and
/// events without severity, the oldest first within each, and per dedup_key always in outbox order (so a resolve
/// never overtakes its trigger). It plans again after every ``DispatcherConfiguration/batchSize`` deliveries,
/// so an urgent event that arrives during a backlog jumps ahead within that many deliveries. A message being
/// retried stays first until PagerDuty takes or refuses it.
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
    private let logger: Logger

    public init(
        store: any PublisherStore,
        routes: RouteTable,
        client: EventsAPIClient,
        configuration: DispatcherConfiguration,
        clock: any PublisherClock,
        signal: WorkSignal,
        metrics: PublisherMetrics,
        logger: Logger
    ) {
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
                var running: Set<String> = []
                while !Task.isCancelled {
                    for name in await self.laneNames().subtracting(running).sorted() {
                        running.insert(name)
                        let lane = self.makeLane(for: name)
                        group.addTask { await lane.run() }
                        self.logger.info("Dispatch lane started", metadata: ["route": "\(name)"])
                    }
                    // A configuration reload that adds routes wakes this loop to start their lanes.
                    await self.signal.wait(route: WorkSignal.routesChanged)
                }
            }
        }
        logger.info("Dispatcher stopped; undelivered events stay queued")
    }

    /// Configured routes, and routes that still have queued events (a removed route's lane dead-letters them).
    private func laneNames() async -> Set<String> {
        var names = Set(routes.names)
        do {
            names.formUnion(try await store.routesWithPendingMessages())
        } catch {
            logger.error("Could not list queued routes; starting the configured ones", metadata: ["error": "\(error)"])
        }
        return names
    }

    private func makeLane(for name: String) -> DispatchLane {
        DispatchLane(
            route: name,
            store: store,
            routes: routes,
            client: client,
            configuration: configuration,
            clock: clock,
            signal: signal,
            metrics: metrics,
            logger: logger
        )
    }
}

/// Delivers one route's outbox messages, most urgent first and in order per dedup_key.
struct DispatchLane: Sendable {
    let route: String
    let store: any PublisherStore
    let routes: RouteTable
    let client: EventsAPIClient
    let configuration: DispatcherConfiguration
    let clock: any PublisherClock
    let signal: WorkSignal
    let metrics: PublisherMetrics
    let logger: Logger

    /// Where a lane stands between deliveries.
    private struct Progress {
        var limiter: SlidingWindowLimiter
        var consecutiveFailures = 0
        var random = SystemRandomNumberGenerator()
    }

    func run() async {
        var progress = Progress(limiter: SlidingWindowLimiter(limit: configuration.rateLimitPerMinute))
        while !Task.isCancelled {
            let next: PlannedDeliveries
            do {
                next = try await planNextDeliveries()
            } catch {
                progress.consecutiveFailures += 1
                let delay = configuration.retryPolicy.delay(forAttempt: progress.consecutiveFailures, using: &progress.random)
                logger.error(
                    "Could not read the outbox",
                    metadata: ["route": "\(route)", "error": "\(error)", "retry_in_ms": "\(delay.milliseconds)"]
                )
                guard (try? await clock.sleep(for: delay)) != nil else { return }
                continue
            }
            if next.isLaneEmpty {
                await waitForWork()
                continue
            }
            for record in next.records {
                guard await deliver(record, progress: &progress) else { return }
            }
        }
    }

    /// The next messages to send, in plan order, and whether the lane had nothing pending at all.
    private struct PlannedDeliveries {
        var records: [OutboxRecord]
        var isLaneEmpty: Bool
    }

    /// Plans the oldest ``DispatcherConfiguration/priorityWindow`` pending messages and reads the bodies of the
    /// first ``DispatcherConfiguration/batchSize`` of the plan. Messages that left the outbox since the plan
    /// (delivered or removed by another process) are skipped.
    private func planNextDeliveries() async throws -> PlannedDeliveries {
        let pending = try await store.pendingSummaries(route: route, limit: max(configuration.priorityWindow, 1))
        if pending.isEmpty { return PlannedDeliveries(records: [], isLaneEmpty: true) }
        let planned = DeliveryPlanner.order(pending).prefix(max(configuration.batchSize, 1)).map(\.id)
        return PlannedDeliveries(records: try await store.pendingMessages(ids: planned), isLaneEmpty: false)
    }

    /// Waits until the receiver stores work for this route, or the idle poll interval passes.
    private func waitForWork() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await signal.wait(route: route) }
            group.addTask { try? await clock.sleep(for: configuration.idlePollInterval) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Sends `record` until PagerDuty takes or refuses it. Returns false when the lane was cancelled meanwhile
    /// (the record then stays queued).
    private func deliver(_ record: OutboxRecord, progress: inout Progress) async -> Bool {
        var attempt = record.attempts
        while true {
            let wait = progress.limiter.delay(at: clock.uptime)
            if wait > .zero {
                guard (try? await clock.sleep(for: wait)) != nil else { return false }
            }
            guard let currentRoute = routes.route(named: route) else {
                await deadLetter(record, reason: "route \"\(route)\" is no longer configured")
                return true
            }
            // A request once started is finished even when the lane is being stopped (bounded by the
            // request timeout), so PagerDuty's answer is recorded instead of sending the event twice.
            let client = self.client
            let report: DeliveryReport
            switch StoredEvent.decode(record.message) {
            case .alert(var event):
                event.routingKey = currentRoute.routingKey
                report = await Task { await client.send(event) }.value
            case .change(var event):
                event.routingKey = currentRoute.routingKey
                report = await Task { await client.send(event) }.value
            case .unreadable(let reason):
                await deadLetter(record, reason: reason)
                return true
            }
            progress.limiter.recordRequest(finishedAt: clock.uptime)
            metrics.recordRequest(report)
            attempt += 1

            let retryDelay: Duration
            switch report.outcome {
            case .accepted:
                metrics.recordDelivered(kind: record.message.kind, route: route, severity: record.message.severity)
                await settle { try await store.markDelivered(id: record.id) }
                progress.consecutiveFailures = 0
                logger.info("Delivered event", metadata: metadata(record, report, attempt: attempt))
                return true
            case .rejected(let reason):
                await deadLetter(record, reason: "PagerDuty refused the event: \(reason)", report: report, attempt: attempt)
                progress.consecutiveFailures = 0
                return true
            case .rateLimited(let retryAfter):
                metrics.recordRateLimitHit(route: route)
                progress.consecutiveFailures += 1
                retryDelay =
                    retryAfter
                    ?? configuration.retryPolicy.delay(forAttempt: progress.consecutiveFailures, using: &progress.random)
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
            guard (try? await clock.sleep(for: retryDelay)) != nil else { return false }
        }
    }

    private func deadLetter(_ record: OutboxRecord, reason: String, report: DeliveryReport? = nil, attempt: Int? = nil) async {
        await settle { try await store.moveToDeadLetters(id: record.id, reason: reason, at: clock.now) }
        var details: Logger.Metadata = [
            "route": "\(route)", "outbox_id": "\(record.id)", "kind": "\(record.message.kind.rawValue)",
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
                metadata: ["route": "\(route)", "error": "\(outcome)"]
            )
        }
    }

    private func metadata(_ record: OutboxRecord, _ report: DeliveryReport, attempt: Int) -> Logger.Metadata {
        var details: Logger.Metadata = [
            "route": "\(route)",
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
