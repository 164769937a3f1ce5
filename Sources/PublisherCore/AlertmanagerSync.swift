import AlertmanagerModels
import Foundation
import Logging
import PagerDutyEvents
import ServiceLifecycle
import Synchronization

/// An alert as an Alertmanager's API reports it, with what mutes it.
public struct ObservedAlert: Sendable, Hashable {
    /// The alert (status firing), with its fingerprint.
    public var alert: Alert
    /// IDs of the silences that suppress it; empty when none does.
    public var silencedBy: [String]
    /// Fingerprints of the alerts that inhibit it; empty when none does.
    public var inhibitedBy: [String]

    public init(alert: Alert, silencedBy: [String] = [], inhibitedBy: [String] = []) {
        self.alert = alert
        self.silencedBy = silencedBy
        self.inhibitedBy = inhibitedBy
    }
}

/// One Alertmanager whose current alerts the sync reads.
public protocol AlertmanagerObserving: Sendable {
    /// How logs and the `alertmanager` metric label name it (host and port; never credentials).
    var displayName: String { get }
    /// The alerts it currently knows (active, silenced, inhibited). Throws when it cannot be asked.
    func currentAlerts() async throws -> [ObservedAlert]
}

/// How often the sync polls and how long an alert may be missing before it is resolved.
public struct AlertmanagerSyncConfiguration: Sendable, Hashable {
    /// Time between polls. Default 30 seconds.
    public var pollInterval: Duration
    /// An open incident whose alert no configured Alertmanager reports (or reports as ended) is resolved once
    /// this long has passed, counted only while every configured Alertmanager answers. Default 5 minutes.
    public var gracePeriod: Duration

    public init(pollInterval: Duration = .seconds(30), gracePeriod: Duration = .seconds(300)) {
        self.pollInterval = pollInterval
        self.gracePeriod = gracePeriod
    }
}

/// What the configured Alertmanagers, taken together, say about one alert or group.
public enum AlertmanagerView: Sendable, Hashable {
    /// Firing and not muted (also an alert not processed yet).
    case active(Alert)
    /// Suppressed by silences (their IDs).
    case silenced(by: [String])
    /// Suppressed by inhibition only.
    case inhibited
    /// Not reported, or reported as ended.
    case absent

    /// The view of several alerts (a group's members, or one alert as several Alertmanagers report it):
    /// active if any is active, else silenced if any is silenced, else inhibited if any is, else absent.
    public static func merging(_ views: [AlertmanagerView]) -> AlertmanagerView {
        if let active = views.first(where: { if case .active = $0 { true } else { false } }) { return active }
        let silences = views.flatMap { view -> [String] in if case .silenced(let ids) = view { ids } else { [] } }
        if views.contains(where: { if case .silenced = $0 { true } else { false } }) {
            return .silenced(by: Array(Set(silences)).sorted())
        }
        if views.contains(.inhibited) { return .inhibited }
        return .absent
    }
}

/// The rules of the Alertmanager sync for an alert (or group) that Alertmanager reports.
///
/// - active, and acknowledged or resolved because it was muted → trigger (its silence or inhibition is gone);
/// - silenced → the route's ``MutePolicy/silenced`` action: acknowledge a triggered incident, resolve an open
///   one, or nothing;
/// - inhibited → the route's ``MutePolicy/inhibited`` action, the same way (default nothing).
///
/// An alert no Alertmanager reports is the grace period's business, not these rules'.
public enum SyncRules {
    /// The event to queue and the cause to record, or `nil` when PagerDuty's state is already right.
    public static func step(
        for entry: LedgerEntry,
        view: AlertmanagerView,
        policy: MutePolicy
    ) -> (action: EventAction, cause: LedgerCause)? {
        switch view {
        case .active:
            let wasMuted = entry.cause == .silenced || entry.cause == .inhibited
            if entry.lastAction == .acknowledge || (entry.lastAction == .resolve && wasMuted) {
                return (.trigger, .webhook)
            }
            return nil
        case .silenced:
            return mute(entry, with: policy.silenced, cause: .silenced)
        case .inhibited:
            return mute(entry, with: policy.inhibited, cause: .inhibited)
        case .absent:
            return nil
        }
    }

    private static func mute(_ entry: LedgerEntry, with action: MuteAction, cause: LedgerCause) -> (EventAction, LedgerCause)? {
        switch action {
        case .acknowledge: entry.lastAction == .trigger ? (.acknowledge, cause) : nil
        case .resolve: entry.isOpen ? (.resolve, cause) : nil
        case .nothing: nil
        }
    }
}

/// Makes PagerDuty follow Alertmanager's real state, which its webhooks do not tell: every poll it reads the
/// current alerts of each configured Alertmanager (an HA pair is read as one) and, for each incident the ledger
/// holds open:
/// - silenced → acknowledge (or resolve, or nothing: the route's policy); inhibited → the inhibited policy;
/// - no longer muted and still firing → trigger again;
/// - reported by none of them (or ended) for longer than the grace period → resolve (reconciliation).
///
/// An Alertmanager that cannot be asked changes nothing: it is logged, `pagerduty_publisher_alertmanager_up`
/// shows 0, and no incident is resolved by reconciliation until every configured Alertmanager answers again
/// (the grace period then starts over).
public final class AlertmanagerSync: Service {
    private let sources: [any AlertmanagerObserving]
    private let store: any PublisherStore
    private let routes: RouteTable
    private let ledger: LedgerCache
    private let mapper: EventMapper
    private let policy: LedgerPolicy
    private let configuration: AlertmanagerSyncConfiguration
    private let clock: any PublisherClock
    private let signal: WorkSignal
    private let metrics: PublisherMetrics
    private let gate: AsyncGate
    private let ownership: any WorkOwnership
    private let logger: Logger
    private let state = Mutex(SyncState())

    /// What the sync carries from one poll to the next.
    private struct SyncState {
        /// Since when each open incident's alert has been missing from every Alertmanager.
        var missingSince: [LedgerKey: Date] = [:]
        /// Whether each Alertmanager answered its last poll (for one log line per change).
        var reachable: [String: Bool] = [:]
    }

    public init(
        sources: [any AlertmanagerObserving],
        store: any PublisherStore,
        routes: RouteTable,
        ledger: LedgerCache,
        mapper: EventMapper,
        policy: LedgerPolicy,
        configuration: AlertmanagerSyncConfiguration,
        clock: any PublisherClock,
        signal: WorkSignal,
        metrics: PublisherMetrics,
        gate: AsyncGate,
        ownership: any WorkOwnership = SoleReplica(),
        logger: Logger
    ) {
        self.ownership = ownership
        self.sources = sources
        self.store = store
        self.routes = routes
        self.ledger = ledger
        self.mapper = mapper
        self.policy = policy
        self.configuration = configuration
        self.clock = clock
        self.signal = signal
        self.metrics = metrics
        self.gate = gate
        self.logger = logger
        metrics.registerAlertmanagers(sources.map(\.displayName))
    }

    public func run() async throws {
        logger.info(
            "Alertmanager sync started",
            metadata: [
                "alertmanagers": "\(sources.map(\.displayName).joined(separator: ","))",
                "poll_interval_s": "\(Int(configuration.pollInterval.seconds))",
                "grace_period_s": "\(Int(configuration.gracePeriod.seconds))",
            ]
        )
        await cancelWhenGracefulShutdown {
            repeat {
                await self.poll()
            } while (try? await self.clock.sleep(for: self.configuration.pollInterval)) != nil
        }
    }

    /// Reads every Alertmanager once and queues what their state calls for, when this replica runs the sync
    /// (one replica at a time does, ``OwnedWork/alertmanagerSync``).
    public func poll() async {
        guard await ownership.claim(.alertmanagerSync) else {
            // Another replica syncs; its grace periods are its own.
            state.withLock { $0.missingSince.removeAll() }
            return
        }
        let answers = await AlertmanagerReads.readEach(sources)
        let now = clock.now
        var views: [String: [AlertmanagerView]] = [:]
        var everyAnswered = true
        for (source, answer) in zip(sources, answers) {
            switch answer {
            case .success(let alerts):
                noteReachability(of: source.displayName, isUp: true, error: nil)
                for observed in alerts {
                    guard let fingerprint = try? DedupKey.of(observed.alert) else { continue }
                    views[fingerprint, default: []].append(Self.view(of: observed, at: now))
                }
            case .failure(let error):
                everyAnswered = false
                noteReachability(of: source.displayName, isUp: false, error: error)
            }
        }
        let anyAnswered = answers.contains { answer in
            if case .success = answer { true } else { false }
        }
        guard anyAnswered else {
            // Nobody answered: nothing is known, so nothing changes.
            state.withLock { $0.missingSince.removeAll() }
            return
        }
        // A shared store's candidates are read before the gate is taken: the gate only keeps this process's cache
        // exact, the decision looks at each entry again as stored (under the store's locks), and a read that waits
        // for an unreachable database must not hold every webhook of this replica behind it.
        var sharedCandidates: [LedgerEntry]?
        if let shared = store as? any SharedPublisherStore {
            do {
                sharedCandidates = try await shared.syncCandidates()
            } catch {
                logger.error("Alertmanager sync could not read the ledger; it retries at the next poll", metadata: ["error": "\(error)"])
                return
            }
        }
        await gate.withGate {
            await apply(
                views: views.mapValues(AlertmanagerView.merging), candidates: sharedCandidates,
                everyAnswered: everyAnswered, now: now)
        }
    }

    private static func view(of observed: ObservedAlert, at now: Date) -> AlertmanagerView {
        if let endsAt = observed.alert.endsAt, endsAt <= now { return .absent }
        if !observed.silencedBy.isEmpty { return .silenced(by: observed.silencedBy) }
        if !observed.inhibitedBy.isEmpty { return .inhibited }
        return .active(observed.alert)
    }

    private func noteReachability(of name: String, isUp: Bool, error: (any Error)?) {
        metrics.recordAlertmanager(name, isUp: isUp)
        let previous = state.withLock { state in
            defer { state.reachable[name] = isUp }
            return state.reachable[name]
        }
        guard previous != isUp else { return }
        if isUp {
            logger.info("Alertmanager reachable", metadata: ["alertmanager": "\(name)"])
        } else {
            logger.warning(
                "Alertmanager unreachable; the sync changes nothing it would need it for",
                metadata: ["alertmanager": "\(name)", "error": "\(error.map { "\($0)" } ?? "")"]
            )
        }
    }

    /// What one pass decided, handed back out of the store's transaction.
    private struct SyncPass: Sendable {
        var entries: [LedgerEntry] = []
        var outbox: [OutboxMessage] = []
        var counted: [Counted] = []
        var stillMissing: [LedgerKey: Date] = [:]

        struct Counted: Sendable {
            var action: EventAction
            var cause: String
        }
    }

    /// One pass over the open incidents, under the ledger's gate. The candidates come from the ledger cache, or
    /// (`sharedCandidates`) from the store when other replicas write it too; the decisions run inside the store's
    /// transaction on the entries as stored (``PublisherStore/decide(keys:cache:_:)``).
    private func apply(views: [String: AlertmanagerView], candidates sharedCandidates: [LedgerEntry]?, everyAnswered: Bool, now: Date) async {
        let candidates = sharedCandidates ?? ledger.entries(where: Self.isCandidate)
        let missingSince = state.withLock { $0.missingSince }
        let pass: SyncPass
        do {
            pass = try await store.decide(keys: Set(candidates.map(\.key)), cache: ledger) { stored in
                let pass = self.decide(
                    stored.values.filter(Self.isCandidate), views: views, everyAnswered: everyAnswered,
                    missingSince: missingSince, now: now)
                return LedgerChanges(ledger: pass.entries, outbox: pass.outbox, outcome: pass)
            }
        } catch {
            logger.error("Alertmanager sync could not store its changes; it retries at the next poll", metadata: ["error": "\(error)"])
            return
        }
        // Never resolve while an Alertmanager is unreachable: the grace period starts over once all answer.
        state.withLock { $0.missingSince = everyAnswered ? pass.stillMissing : [:] }
        guard !pass.entries.isEmpty else { return }
        ledger.apply(pass.entries)
        for counted in pass.counted { metrics.recordSyncAction(counted.action, cause: counted.cause) }
        for route in Set(pass.outbox.map(\.route)).sorted() { signal.notify(route: route) }
    }

    /// Whether the sync looks at `entry`: an open incident (no resolve held), one the sync resolved because
    /// its alert was silenced or inhibited, or one with a silence of ours to extend or expire.
    static func isCandidate(_ entry: LedgerEntry) -> Bool {
        guard entry.subject != .change else { return false }
        if entry.ownSilence != nil { return true }
        guard entry.resolveHeldUntil == nil else { return false }
        return entry.isOpen || (entry.lastAction == .resolve && (entry.cause == .silenced || entry.cause == .inhibited))
    }

    /// Decides what the Alertmanagers' views call for, for each of `candidates` (as stored).
    private func decide(
        _ candidates: [LedgerEntry],
        views: [String: AlertmanagerView],
        everyAnswered: Bool,
        missingSince: [LedgerKey: Date],
        now: Date
    ) -> SyncPass {
        var pass = SyncPass()
        for var entry in candidates {
            guard let route = routes.route(named: entry.route) else { continue }
            let view = self.view(of: entry, in: views)
            if case .absent = view {
                guard entry.isOpen, everyAnswered else { continue }
                let since = missingSince[entry.key] ?? now
                guard now.timeIntervalSince(since) >= configuration.gracePeriod.seconds else {
                    pass.stillMissing[entry.key] = since
                    continue
                }
                let reason = "no configured Alertmanager has reported this alert for \(Int(now.timeIntervalSince(since))) s"
                if let message = queue(.resolve, cause: .reconciled, for: &entry, observed: nil, reason: reason, now: now) {
                    pass.outbox.append(message)
                    pass.entries.append(entry)
                    pass.counted.append(.init(action: .resolve, cause: "reconciled"))
                    log(.resolve, entry: entry, reason: reason)
                }
                continue
            }
            var changed = false
            if now.timeIntervalSince(entry.lastSeen) > policy.entryTTL.seconds / 4 {
                // Alertmanager still knows the alert: keep the entry alive while webhooks are silent about it.
                entry.lastSeen = now
                changed = true
            }
            if let step = SyncRules.step(for: entry, view: view, policy: route.mutePolicy) {
                let reason = Self.reason(for: step.action, view: view)
                var observed: Alert?
                if case .active(let alert) = view, entry.subject == .alert { observed = alert }
                if let message = queue(step.action, cause: step.cause, for: &entry, observed: observed, reason: reason, now: now) {
                    pass.outbox.append(message)
                    pass.counted.append(.init(action: step.action, cause: step.cause == .webhook ? "unmuted" : step.cause.rawValue))
                    changed = true
                    log(step.action, entry: entry, reason: reason)
                }
            }
            if changed { pass.entries.append(entry) }
        }
        return pass
    }

    private func view(of entry: LedgerEntry, in views: [String: AlertmanagerView]) -> AlertmanagerView {
        switch entry.subject {
        case .alert: views[entry.dedupKey] ?? .absent
        case .group(let members): AlertmanagerView.merging(members.map { views[$0] ?? .absent })
        case .change: .absent
        }
    }

    /// Builds the event for `action`, updating `entry`; `nil` (logged) when it cannot be encoded.
    private func queue(
        _ action: EventAction,
        cause: LedgerCause,
        for entry: inout LedgerEntry,
        observed: Alert?,
        reason: String,
        now: Date
    ) -> OutboxMessage? {
        let route = routes.route(named: entry.route)
        do {
            let message: OutboxMessage
            if action == .trigger, let observed {
                let routeMapper = route?.mapper ?? mapper
                let encoded = try routeMapper.encodedEvent(
                    for: observed, action: .trigger, in: WebhookMessage(alerts: [observed]), dedupKey: entry.dedupKey)
                entry.remembered = EventMapper.remembered(from: encoded.event) ?? entry.remembered
                message = OutboxMessage(
                    route: entry.route, kind: .trigger, dedupKey: entry.dedupKey,
                    severity: encoded.event.payload?.severity, body: Data(encoded.body), createdAt: now)
            } else {
                message = try LifecycleEvents.message(action, for: entry, reason: reason, at: now)
            }
            entry.lastAction = action
            entry.lastActionAt = now
            entry.cause = cause
            return message
        } catch {
            logger.error(
                "Alertmanager sync could not build an event",
                metadata: ["route": "\(entry.route)", "dedup_key": "\(entry.dedupKey)", "error": "\(error)"]
            )
            return nil
        }
    }

    private static func reason(for action: EventAction, view: AlertmanagerView) -> String {
        switch view {
        case .silenced(let ids): "silenced in Alertmanager (silence \(ids.joined(separator: ", ")))"
        case .inhibited: "inhibited in Alertmanager"
        case .active: "no longer muted in Alertmanager and still firing"
        case .absent: "no longer reported by Alertmanager"
        }
    }

    private func log(_ action: EventAction, entry: LedgerEntry, reason: String) {
        logger.info(
            "Alertmanager sync queued an event",
            metadata: [
                "action": "\(action.rawValue)", "route": "\(entry.route)", "dedup_key": "\(entry.dedupKey)",
                "reason": "\(reason)",
            ]
        )
    }
}
