import AlertmanagerModels
import Foundation
import Logging
import PagerDutyEvents
import Synchronization

/// Accepts Alertmanager webhooks: asks the ledger which alerts changed state, writes the resulting events and
/// the ledger entries to the store in one transaction, then wakes the route's dispatcher lane.
///
/// Webhooks are decided one at a time (SQLite has one writer anyway), so two Alertmanager peers sending the
/// same group at once cause one trigger, not two. Webhooks that arrive while another one is being stored wait
/// and are then decided in order and stored together, in one transaction (group commit, ``GroupCommit``): one
/// fsync for the batch. Each answer still comes only once its own changes are on disk.
///
/// Alerts labelled ``changeEventLabel``=`"true"` (a deploy or a configuration change announced through
/// Prometheus) become change events, never triggers: the ledger decides as for any alert, and where it would
/// trigger, a change event is queued instead. It is queued once per occurrence of the alert (a new `startsAt`);
/// repeats of a still-firing alert are not re-sent after the re-trigger interval, and a resolved one queues
/// nothing (a change has no end in PagerDuty), though the ledger remembers it so the next occurrence counts.
///
/// On a route with `incident_per: group` the alerts of a webhook make one incident for their Alertmanager group
/// (see ``LedgerRules/decideGroup(existing:route:dedupKey:firingMembers:now:policy:holdResolveFor:)``).
///
/// Every resolve of an open incident is counted by the ``FlapDetector``; a flapping alert's resolve is held back
/// when damping is on, and ``DampedResolveReleaser`` sends it once the hold passes.
public final class AlertPublisher: AlertIngesting {
    /// The label that turns an alert into a change event when its value is `"true"`.
    public static let changeEventLabel = "change_event"

    private let store: any PublisherStore
    private let routes: RouteTable
    private let ledger: LedgerCache
    private let mapper: EventMapper
    private let policy: LedgerPolicy
    private let clock: any PublisherClock
    private let signal: WorkSignal
    private let logger: Logger
    private let flaps: FlapDetector
    private let gate: AsyncGate
    /// Webhooks that arrive while another batch is being stored are decided and stored together next.
    /// Each webhook's outcome comes with the number of webhooks in its batch (a span attribute of its commit).
    private let commits = GroupCommit<IngestJob, (Result<(IngestResult, Set<String>), IngestError>, Int)>(maximumBatchSize: 64)

    /// - Parameters:
    ///   - flaps: counts resolves and says which alerts flap; detection is off by default.
    ///   - gate: serialises ledger decisions; share it with everything else that changes the ledger (the
    ///     Alertmanager sync, the damped-resolve releaser).
    public init(
        store: any PublisherStore,
        routes: RouteTable,
        ledger: LedgerCache,
        mapper: EventMapper,
        policy: LedgerPolicy,
        clock: any PublisherClock,
        signal: WorkSignal,
        logger: Logger,
        flaps: FlapDetector = FlapDetector(policy: .off),
        gate: AsyncGate = AsyncGate()
    ) {
        self.flaps = flaps
        self.gate = gate
        self.store = store
        self.routes = routes
        self.ledger = ledger
        self.mapper = mapper
        self.policy = policy
        self.clock = clock
        self.signal = signal
        self.logger = logger
    }

    /// How many webhooks wait for the batch being stored to finish, to be decided and stored next.
    public var webhooksWaitingForCommit: Int { commits.waitingJobs }

    public func ingest(_ message: WebhookMessage, route requestedRoute: String?) async throws(IngestError) -> IngestResult {
        // The span of the webhook's receipt: each queued event keeps it, for its delivery spans' links.
        let traceparent = TraceContext.traceparent()
        let job = try TraceContext.withChildSpan("decide") { span throws(IngestError) -> IngestJob in
            let job = try prepareJob(message, route: requestedRoute, traceparent: traceparent)
            if span.isRecording {
                span.attributes["publisher.alerts"] = message.alerts.count
                span.attributes["publisher.route"] = Self.routeAttribute(job.destinations, requested: requestedRoute)
            }
            return job
        }
        let outcome = await TraceContext.withChildSpan("commit") { span in
            let (outcome, batchSize) = await commits.submit(job) { jobs in
                // In a task of its own: the batch holds other webhooks too, and the store gives up a write whose task
                // is cancelled, so the cancellation of the one request leading it must not fail them all.
                let outcomes = await Task { await gate.withGate { await decideAndStore(jobs) } }.value
                return outcomes.map { ($0, jobs.count) }
            }
            if span.isRecording {
                span.attributes["publisher.alerts"] = message.alerts.count
                span.attributes["publisher.route"] = Self.routeAttribute(job.destinations, requested: requestedRoute)
                span.attributes["publisher.commit.batch_webhooks"] = batchSize
                if case .success(let (result, _)) = outcome {
                    span.attributes["publisher.queued"] = result.queued
                    span.attributes["publisher.unchanged"] = result.unchanged
                }
            }
            return outcome
        }
        let (result, touchedRoutes) = try outcome.get()
        for route in touchedRoutes.sorted() {
            signal.notify(route: route)
        }
        if result.unrouted > 0 {
            logger.warning(
                "No route takes some alerts and there is no default route; they are not sent",
                metadata: ["unrouted_alerts": "\(result.unrouted)", "receiver": "\(message.receiver ?? "")"]
            )
        }
        if let truncated = message.truncatedAlerts, truncated > 0 {
            logger.warning(
                "Alertmanager left alerts out of a webhook (max_alerts); they are not seen here",
                metadata: ["route": "\(requestedRoute ?? "by matchers")", "truncated_alerts": "\(truncated)"]
            )
        }
        return result
    }

    /// Checks the route, computes the dedup keys and destinations, and maps and encodes what it can before the gate.
    private func prepareJob(_ message: WebhookMessage, route requestedRoute: String?, traceparent: String?) throws(IngestError) -> IngestJob {
        if let requestedRoute, routes.route(named: requestedRoute) == nil {
            throw .unknownRoute(requestedRoute)
        }
        let keys = try dedupKeys(of: message)
        // The path's route takes every alert; without one each alert goes where the route matchers send it.
        let destinations = message.alerts.map { alert in
            requestedRoute.flatMap(routes.route(named:)) ?? routes.selectRoute(for: alert.labels)
        }
        let prepared = prepareEvents(message, keys: keys, destinations: destinations)
        return IngestJob(message: message, keys: keys, destinations: destinations, prepared: prepared, traceContext: traceparent)
    }

    /// The `publisher.route` span attribute: the route named in the path, or the names of the routes the matchers
    /// chose, sorted and comma-separated. Route names only: never a routing key.
    private static func routeAttribute(_ destinations: [Route?], requested: String?) -> String {
        if let requested { return requested }
        return Set(destinations.compactMap { $0?.name }).sorted().joined(separator: ",")
    }

    private func dedupKeys(of message: WebhookMessage) throws(IngestError) -> [String] {
        var keys: [String] = []
        keys.reserveCapacity(message.alerts.count)
        for (index, alert) in message.alerts.enumerated() {
            do {
                keys.append(try DedupKey.of(alert))
            } catch {
                throw .invalidAlert(field: "alerts[\(index)]", reason: error.reason)
            }
        }
        return keys
    }

    /// An event mapped and encoded before the gate, for the action the ledger called for then.
    private struct PreparedEvent: Sendable {
        var action: EventAction
        var encoded: (event: AlertEvent, body: [UInt8])
    }

    /// Maps and encodes, outside the gate, the events the ledger calls for now, so concurrent webhooks do that
    /// work in parallel. The gate decides again: a prepared event is used only when the decision under the gate
    /// names the same action (anything that changed meanwhile, such as the same alert from an HA peer, is simply
    /// decided and encoded there). Alerts that map to nothing here, groups and change announcements are left to
    /// the gate.
    private func prepareEvents(_ message: WebhookMessage, keys: [String], destinations: [Route?]) -> [Int: PreparedEvent] {
        let now = clock.now
        var prepared: [Int: PreparedEvent] = [:]
        for (index, alert) in message.alerts.enumerated() {
            guard let destination = destinations[index], destination.incidentPer == .alert, !Self.isChangeEvent(alert) else {
                continue
            }
            let dedupKey = keys[index]
            let decision = LedgerRules.decide(
                existing: ledger.entry(for: LedgerKey(route: destination.name, dedupKey: dedupKey)),
                route: destination.name, dedupKey: dedupKey, status: alert.status, startsAt: alert.startsAt,
                now: now, policy: policy)
            guard let action = decision.action,
                let encoded = try? (destination.mapper ?? mapper).encodedEvent(
                    for: alert, action: action, in: message, dedupKey: dedupKey)
            else { continue }
            prepared[index] = PreparedEvent(action: action, encoded: encoded)
        }
        return prepared
    }

    /// One webhook waiting for its decisions and its commit.
    private struct IngestJob: Sendable {
        var message: WebhookMessage
        var keys: [String]
        var destinations: [Route?]
        var prepared: [Int: PreparedEvent]
        /// The `traceparent` of the webhook's receipt span, stored with each event it queues.
        var traceContext: String?
    }

    /// What a batch of webhooks adds to the store, with what the webhook being decided changed, so that a
    /// webhook that fails can be taken back out without copying the whole batch for every webhook.
    private struct Changes {
        /// Decisions see the earlier ones of the batch: the same alert twice, in one body or in two webhooks of
        /// one batch, is one transition.
        private(set) var working: [LedgerKey: LedgerEntry] = [:]
        private(set) var outbox: [OutboxMessage] = []
        /// The entries the current webhook changed, as they were before it (`nil`: there was none).
        private var priorEntries: [LedgerKey: LedgerEntry?] = [:]
        private var outboxMark = 0

        /// The outbox messages the current webhook added.
        var addedByWebhook: ArraySlice<OutboxMessage> { outbox[outboxMark...] }

        /// Starts a webhook's changes.
        mutating func beginWebhook() {
            priorEntries.removeAll(keepingCapacity: true)
            outboxMark = outbox.count
        }

        mutating func setEntry(_ entry: LedgerEntry, for key: LedgerKey) {
            if priorEntries[key] == nil { priorEntries[key] = .some(working[key]) }
            working[key] = entry
        }

        mutating func append(_ message: OutboxMessage) {
            outbox.append(message)
        }

        /// Gives the outbox messages the current webhook added the trace context of its receipt.
        mutating func setTraceContext(_ traceContext: String?) {
            guard let traceContext else { return }
            for index in outbox.indices[outboxMark...] { outbox[index].traceContext = traceContext }
        }

        /// Takes the current webhook's changes back out.
        mutating func undoWebhook() {
            for (key, prior) in priorEntries { working[key] = prior }
            outbox.removeSubrange(outboxMark...)
            priorEntries.removeAll(keepingCapacity: true)
        }
    }

    /// Decides the webhooks of a batch in order, then stores all their changes in one transaction (one fsync).
    ///
    /// The decisions run inside the store's transaction (``PublisherStore/decide(keys:cache:_:)``), on the ledger
    /// entries as stored and locked: with several replicas on one database, another replica may have changed them
    /// since this one last looked. A store with one writer feeds them from ``LedgerCache``.
    ///
    /// A webhook that cannot be decided (an invalid alert) fails alone and adds nothing; a failed commit fails
    /// every webhook of the batch, and then the ledger cache is left as it was, since it is updated only after
    /// the commit.
    private func decideAndStore(_ jobs: [IngestJob]) async -> [Result<(IngestResult, Set<String>), IngestError>] {
        let now = clock.now
        let keys = Self.ledgerKeys(of: jobs)
        // The decisions, kept when the commit after them fails: a webhook that failed on its own keeps its error.
        let decided = Mutex<[Result<(IngestResult, Set<String>), IngestError>]?>(nil)
        let batchOutcome: BatchOutcome
        do {
            batchOutcome = try await store.decide(keys: keys, cache: ledger) { stored in
                let changes = self.decideBatch(jobs, stored: stored, now: now)
                decided.withLock { $0 = changes.outcome.results }
                return changes
            }
        } catch {
            logger.error(
                "Could not store webhooks; answering 503",
                metadata: ["error": "\(error)", "webhooks": "\(jobs.count)"])
            let failure = IngestError.storageUnavailable(reason: Self.reason(of: error))
            let outcomes = decided.withLock { $0 } ?? jobs.map { _ in .success((IngestResult(alerts: 0, queued: 0, unchanged: 0, unrouted: 0), [])) }
            return outcomes.map { outcome in outcome.flatMap { _ in .failure(failure) } }
        }
        ledger.apply(batchOutcome.entries)
        return batchOutcome.results
    }

    /// What a batch's decisions produced, handed back out of the store's transaction.
    private struct BatchOutcome: Sendable {
        var results: [Result<(IngestResult, Set<String>), IngestError>]
        var entries: [LedgerEntry]
    }

    /// The ledger keys the webhooks of a batch may read or write: one per routed alert, one per Alertmanager
    /// group on routes with `incident_per: group`.
    private static func ledgerKeys(of jobs: [IngestJob]) -> Set<LedgerKey> {
        var keys: Set<LedgerKey> = []
        for job in jobs {
            for (index, destination) in job.destinations.enumerated() {
                guard let destination else { continue }
                let alert = job.message.alerts[index]
                if destination.incidentPer == .group && !isChangeEvent(alert) {
                    if let groupKey = job.message.groupKey, !groupKey.isEmpty {
                        keys.insert(LedgerKey(route: destination.name, dedupKey: DedupKey.ofGroup(groupKey)))
                    }
                } else {
                    keys.insert(LedgerKey(route: destination.name, dedupKey: job.keys[index]))
                }
            }
        }
        return keys
    }

    /// Decides the webhooks of a batch in order against `stored`, the entries as the store holds them.
    private func decideBatch(_ jobs: [IngestJob], stored: [LedgerKey: LedgerEntry], now: Date) -> LedgerChanges<BatchOutcome> {
        var batch = Changes()
        var outcomes: [Result<(IngestResult, Set<String>), IngestError>] = []
        outcomes.reserveCapacity(jobs.count)
        for job in jobs {
            batch.beginWebhook()
            do {
                let unrouted = try decide(job, stored: stored, now: now, into: &batch)
                batch.setTraceContext(job.traceContext)
                let added = batch.addedByWebhook
                let result = IngestResult(
                    alerts: job.message.alerts.count,
                    queued: added.count,
                    unchanged: max(0, job.message.alerts.count - added.count - unrouted),
                    unrouted: unrouted
                )
                outcomes.append(.success((result, Set(added.map(\.route)))))
            } catch {
                batch.undoWebhook()
                outcomes.append(.failure(error))
            }
        }
        let entries = Array(batch.working.values)
        return LedgerChanges(ledger: entries, outbox: batch.outbox, outcome: BatchOutcome(results: outcomes, entries: entries))
    }

    /// Decides every alert of one webhook into `changes`; returns how many alerts no route took.
    private func decide(
        _ job: IngestJob, stored: [LedgerKey: LedgerEntry], now: Date, into changes: inout Changes
    ) throws(IngestError) -> Int {
        let message = job.message
        let keys = job.keys
        let destinations = job.destinations
        let prepared = job.prepared
        var unrouted = 0
        var groups: [(route: Route, alerts: [Alert])] = []
        for (index, ((alert, dedupKey), destination)) in zip(zip(message.alerts, keys), destinations).enumerated() {
            guard let destination else {
                unrouted += 1
                continue
            }
            if destination.incidentPer == .group && !Self.isChangeEvent(alert) {
                if let position = groups.firstIndex(where: { $0.route.name == destination.name }) {
                    groups[position].alerts.append(alert)
                } else {
                    groups.append((destination, [alert]))
                }
                continue
            }
            try decide(
                alert, index: index, dedupKey: dedupKey, route: destination, message: message, prepared: prepared[index],
                stored: stored, now: now, into: &changes)
        }
        for group in groups {
            try decideGroup(group.alerts, route: group.route, message: message, stored: stored, now: now, into: &changes)
        }
        return unrouted
    }

    /// Decides one alert on a route with one incident per alert (or a change announcement).
    private func decide(
        _ alert: Alert,
        index: Int,
        dedupKey: String,
        route destination: Route,
        message: WebhookMessage,
        prepared: PreparedEvent?,
        stored: [LedgerKey: LedgerEntry],
        now: Date,
        into changes: inout Changes
    ) throws(IngestError) {
        let route = destination.name
        let routeMapper = destination.mapper ?? mapper
        let key = LedgerKey(route: route, dedupKey: dedupKey)
        let isChange = Self.isChangeEvent(alert)
        var alertPolicy = policy
        if isChange { alertPolicy.retriggerInterval = nil }
        let existing = changes.working[key] ?? stored[key]
        let hold = isChange ? nil : resolveHold(for: key, existing: existing, resolving: alert.status == .resolved, now: now)
        var decision = LedgerRules.decide(
            existing: existing,
            route: route,
            dedupKey: dedupKey,
            status: alert.status,
            startsAt: alert.startsAt,
            now: now,
            policy: alertPolicy,
            subject: isChange ? .change : .alert,
            holdResolveFor: hold
        )
        defer { changes.setEntry(decision.entry, for: key) }
        guard let action = decision.action else { return }
        if isChange {
            guard action == .trigger else { return }
            do throws(IngestError) {
                let event = routeMapper.changeEvent(for: alert, in: message)
                changes.append(try .change(event, route: route, at: now))
            } catch .invalidAlert(_, let reason) {
                throw .invalidAlert(field: "alerts[\(index)]", reason: reason)
            } catch {
                throw error
            }
            return
        }
        let encoded: (event: AlertEvent, body: [UInt8])
        if let prepared, prepared.action == action {
            encoded = prepared.encoded
        } else {
            do {
                encoded = try routeMapper.encodedEvent(for: alert, action: action, in: message, dedupKey: dedupKey)
            } catch {
                throw .invalidAlert(field: "alerts[\(index)]", reason: "the event could not be encoded: \(error)")
            }
        }
        if action == .trigger { decision.entry.remembered = EventMapper.remembered(from: encoded.event) }
        changes.append(Self.outboxMessage(encoded, route: route, action: action, dedupKey: dedupKey, at: now))
    }

    /// Decides the one incident of the Alertmanager group `alerts` belong to, on a route with
    /// `incident_per: group`.
    private func decideGroup(
        _ alerts: [Alert],
        route destination: Route,
        message: WebhookMessage,
        stored: [LedgerKey: LedgerEntry],
        now: Date,
        into changes: inout Changes
    ) throws(IngestError) {
        guard let groupKey = message.groupKey, !groupKey.isEmpty else {
            throw .invalidAlert(
                field: "groupKey",
                reason: "route \"\(destination.name)\" makes one incident per Alertmanager group and needs the group key"
            )
        }
        let route = destination.name
        let dedupKey = DedupKey.ofGroup(groupKey)
        let key = LedgerKey(route: route, dedupKey: dedupKey)
        var firing: Set<String> = []
        for alert in alerts where alert.status == .firing {
            if let fingerprint = try? DedupKey.of(alert) { firing.insert(fingerprint) }
        }
        let existing = changes.working[key] ?? stored[key]
        let hold = resolveHold(for: key, existing: existing, resolving: firing.isEmpty, now: now)
        var decision = LedgerRules.decideGroup(
            existing: existing,
            route: route,
            dedupKey: dedupKey,
            firingMembers: firing,
            now: now,
            policy: policy,
            holdResolveFor: hold
        )
        defer { changes.setEntry(decision.entry, for: key) }
        guard let action = decision.action else { return }
        let encoded: (event: AlertEvent, body: [UInt8])
        do {
            encoded = try (destination.mapper ?? mapper).encodedGroupEvent(
                for: alerts, action: action, in: message, dedupKey: dedupKey)
        } catch {
            throw .invalidAlert(field: "alerts", reason: "the group event could not be encoded: \(error)")
        }
        if action == .trigger { decision.entry.remembered = EventMapper.remembered(from: encoded.event) }
        changes.append(Self.outboxMessage(encoded, route: route, action: action, dedupKey: dedupKey, at: now))
    }

    /// Counts a resolve of an open incident with the flap detector; returns how long to hold it back when the
    /// alert is flapping and damping is on.
    private func resolveHold(for key: LedgerKey, existing: LedgerEntry?, resolving: Bool, now: Date) -> Duration? {
        guard resolving, let existing, existing.isOpen, existing.resolveHeldUntil == nil else { return nil }
        let flap = flaps.recordResolve(of: key, at: now)
        if flap.started {
            logger.warning(
                "Alert is flapping",
                metadata: [
                    "route": "\(key.route)", "dedup_key": "\(key.dedupKey)",
                    "threshold": "\(flaps.policy.threshold ?? 0)", "window_s": "\(Int(flaps.policy.window.seconds))",
                    "damping": "\(flaps.policy.resolveHold.map { "hold \(Int($0.seconds)) s" } ?? "off")",
                ]
            )
        }
        return flap.isFlapping ? flaps.policy.resolveHold : nil
    }

    private static func outboxMessage(
        _ encoded: (event: AlertEvent, body: [UInt8]),
        route: String,
        action: EventAction,
        dedupKey: String,
        at date: Date
    ) -> OutboxMessage {
        OutboxMessage(
            route: route,
            kind: OutboxKind(action),
            dedupKey: dedupKey,
            severity: encoded.event.payload?.severity,
            body: Data(encoded.body),
            createdAt: date
        )
    }

    /// Whether `alert` announces a change (``changeEventLabel`` is `"true"`) rather than a problem.
    public static func isChangeEvent(_ alert: Alert) -> Bool {
        alert.labels[changeEventLabel] == "true"
    }

    private static func reason(of error: any Error) -> String {
        (error as? StoreError)?.reason ?? "\(error)"
    }
}

extension OutboxKind {
    /// The outbox kind of an alert event action.
    public init(_ action: EventAction) {
        switch action {
        case .trigger: self = .trigger
        case .acknowledge: self = .acknowledge
        case .resolve: self = .resolve
        }
    }
}
