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
    /// Those of `silencedBy` that this daemon created (their `createdBy` is `pagerduty-publisher`): never counted as
    /// muting the alert, even when the ledger holds no record of them (the daemon stopped, or its database failed,
    /// between creating one and recording it).
    public var ownSilences: [String]

    public init(alert: Alert, silencedBy: [String] = [], inhibitedBy: [String] = [], ownSilences: [String] = []) {
        self.alert = alert
        self.silencedBy = silencedBy
        self.inhibitedBy = inhibitedBy
        self.ownSilences = ownSilences
    }
}

/// One Alertmanager whose current alerts the sync reads.
public protocol AlertmanagerObserving: Sendable {
    /// How logs and the `alertmanager` metric label name it (host and port; never credentials).
    var displayName: String { get }
    /// The alerts it currently knows (active, silenced, inhibited), with the silences of this daemon's among those
    /// that silence them. Throws when it cannot be asked.
    func currentAlerts() async throws -> [ObservedAlert]
}

/// How often the sync polls and how long an alert may be missing before it is resolved.
public struct AlertmanagerSyncConfiguration: Sendable, Hashable {
    /// Time between polls. Default 30 seconds.
    public var pollInterval: Duration
    /// An open incident whose alert no configured Alertmanager reports (or reports as ended) is resolved once
    /// this long has passed, counted only while every configured Alertmanager answers. Default 5 minutes.
    public var gracePeriod: Duration
    /// How long a silence for an acknowledged incident (`acknowledged: silence`) lasts; it is extended while
    /// PagerDuty still says acknowledged, once less than half of it is left. Default 1 hour.
    public var acknowledgedSilenceDuration: Duration

    public init(pollInterval: Duration = .seconds(30), gracePeriod: Duration = .seconds(300), acknowledgedSilenceDuration: Duration = .seconds(3600)) {
        self.pollInterval = pollInterval
        self.gracePeriod = gracePeriod
        self.acknowledgedSilenceDuration = acknowledgedSilenceDuration
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
/// - no longer muted and still firing → trigger again (after a resolve, when PagerDuty still says acknowledged
///   and the route's `reopen` is `resolve-then-trigger`);
/// - reported by none of them (or ended) for longer than the grace period → resolve (reconciliation).
///
/// And it makes Alertmanager follow what responders do in PagerDuty (recorded on the ledger from its signed
/// webhooks), by the route's ``FeedbackPolicy``: silences for acknowledged incidents, kept while they stay
/// acknowledged and expired after; a silence or a new incident for an incident resolved while its alert fires.
/// The daemon's own silences never count as a silence that mutes the alert (``SilenceRules``), so they cannot
/// feed back into acknowledges.
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
    private let keeper: SilenceKeeper
    private let logger: Logger
    private let state = Mutex(SyncState())

    /// What the sync carries from one poll to the next.
    private struct SyncState {
        /// Since when each open incident's alert has been missing from every Alertmanager.
        var missingSince: [LedgerKey: Date] = [:]
        /// Whether each Alertmanager answered its last poll (for one log line per change).
        var reachable: [String: Bool] = [:]
        /// When each Alertmanager last answered.
        var lastAnswered: [String: Date] = [:]
    }

    /// What the last poll saw of each configured Alertmanager, in the order configured (the status page).
    public func alertmanagerStatuses() -> [AlertmanagerStatus] {
        let state = state.withLock { ($0.reachable, $0.lastAnswered) }
        return sources.map { source in
            AlertmanagerStatus(
                name: source.displayName, isUp: state.0[source.displayName], lastAnsweredAt: state.1[source.displayName])
        }
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
        silencers: [any AlertmanagerSilencing] = [],
        logger: Logger
    ) {
        self.ownership = ownership
        self.keeper = SilenceKeeper(silencers: silencers, metrics: metrics, logger: logger)
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
        var observations: [String: [ObservedAlert]] = [:]
        var everyAnswered = true
        for (source, answer) in zip(sources, answers) {
            switch answer {
            case .success(let alerts):
                noteReachability(of: source.displayName, isUp: true, error: nil)
                state.withLock { $0.lastAnswered[source.displayName] = now }
                for observed in alerts {
                    guard let fingerprint = try? DedupKey.of(observed.alert) else { continue }
                    observations[fingerprint, default: []].append(observed)
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
        let plans = await gate.withGate {
            await apply(observations: observations, candidates: sharedCandidates, everyAnswered: everyAnswered, now: now)
        }
        guard !plans.isEmpty else { return }
        // Alertmanager is asked outside the gate: its answers must not hold back webhooks.
        let outcomes = await keeper.carryOut(plans, now: now)
        await gate.withGate { await record(outcomes) }
    }

    /// What `observed` says, with the daemon's own silences (those recorded, `ownSilences`, and those Alertmanager says
    /// it created) not counted as muting it.
    private static func view(of observed: ObservedAlert, at now: Date, ignoring ownSilences: Set<String>) -> AlertmanagerView {
        if let endsAt = observed.alert.endsAt, endsAt <= now { return .absent }
        let silencedBy = observed.silencedBy.filter { !ownSilences.contains($0) && !observed.ownSilences.contains($0) }
        if !silencedBy.isEmpty { return .silenced(by: silencedBy) }
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
        var silences: [SilencePlan] = []

        struct Counted: Sendable {
            var action: EventAction
            var cause: String
        }
    }

    /// One pass over the open incidents, under the ledger's gate. The candidates come from the ledger cache, or
    /// (`sharedCandidates`) from the store when other replicas write it too; the decisions run inside the store's
    /// transaction on the entries as stored (``PublisherStore/decide(keys:cache:_:)``).
    /// Returns the silences to create, extend or expire, which the caller carries out after the gate.
    private func apply(observations: [String: [ObservedAlert]], candidates sharedCandidates: [LedgerEntry]?, everyAnswered: Bool, now: Date) async -> [SilencePlan] {
        let candidates = sharedCandidates ?? ledger.entries(where: Self.isCandidate)
        let missingSince = state.withLock { $0.missingSince }
        let pass: SyncPass
        do {
            pass = try await store.decide(keys: Set(candidates.map(\.key)), cache: ledger) { stored in
                let pass = self.decide(
                    stored.values.filter(Self.isCandidate), observations: observations, everyAnswered: everyAnswered,
                    missingSince: missingSince, now: now)
                return LedgerChanges(ledger: pass.entries, outbox: pass.outbox, outcome: pass)
            }
        } catch {
            logger.error("Alertmanager sync could not store its changes; it retries at the next poll", metadata: ["error": "\(error)"])
            return []
        }
        // Never resolve while an Alertmanager is unreachable: the grace period starts over once all answer.
        state.withLock { $0.missingSince = everyAnswered ? pass.stillMissing : [:] }
        guard !pass.entries.isEmpty else { return pass.silences }
        ledger.apply(pass.entries)
        for counted in pass.counted { metrics.recordSyncAction(counted.action, cause: counted.cause) }
        for route in Set(pass.outbox.map(\.route)).sorted() { signal.notify(route: route) }
        return pass.silences
    }

    /// Records on the ledger which silences now exist, on each entry as stored.
    private func record(_ outcomes: [SilenceKeeper.Outcome]) async {
        let byKey = Dictionary(outcomes.map { ($0.plan.key, $0) }, uniquingKeysWith: { $1 })
        do {
            let changed = try await store.decide(keys: Set(byKey.keys), cache: ledger) { stored in
                let entries = stored.values.compactMap { entry -> LedgerEntry? in
                    guard let outcome = byKey[entry.key] else { return nil }
                    let recorded = SilenceKeeper.recording(outcome, on: entry)
                    return recorded == entry ? nil : recorded
                }
                return LedgerChanges(ledger: entries, outbox: [], outcome: entries)
            }
            ledger.apply(changed)
        } catch {
            // The silences exist but are not recorded: the acknowledged ones are created again at the next poll
            // (a duplicate that ends on its own), and expired ones are expired again (harmless).
            logger.error("Alertmanager sync could not record its silences", metadata: ["error": "\(error)"])
        }
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
        observations: [String: [ObservedAlert]],
        everyAnswered: Bool,
        missingSince: [LedgerKey: Date],
        now: Date
    ) -> SyncPass {
        var pass = SyncPass()
        let alertmanagers = keeper.silencers.map(\.displayName)
        for original in candidates {
            guard let route = routes.route(named: original.route) else { continue }
            let view = self.view(of: original, in: observations, now: now)
            let firing: Bool
            if case .active = view { firing = true } else { firing = false }
            let silence = SilenceRules.plan(
                for: original, policy: route.feedbackPolicy, firing: firing,
                labels: original.subject == .alert ? observations[original.dedupKey]?.first?.alert.labels : nil,
                alertmanagers: alertmanagers, acknowledgedSilenceDuration: configuration.acknowledgedSilenceDuration,
                settle: configuration.pollInterval, now: now)
            if let plan = silence.plan { pass.silences.append(plan) }
            var entry = silence.entry
            var changed = entry != original
            if FeedbackRules.isRetriggerDue(
                for: entry, policy: route.feedbackPolicy, firing: firing, settle: configuration.pollInterval, now: now),
                case .active(let alert) = view
            {
                let reason = "resolved in PagerDuty while still firing in Alertmanager"
                let observed = entry.subject == .alert ? alert : nil
                if let message = queue(.trigger, cause: .webhook, for: &entry, observed: observed, reason: reason, now: now) {
                    pass.outbox.append(message)
                    pass.counted.append(.init(action: .trigger, cause: "manual_resolve"))
                    log(.trigger, entry: entry, reason: reason)
                    changed = true
                }
                if changed { pass.entries.append(entry) }
                continue
            }
            // A held resolve is damping's business; the entry is here only for its silence.
            guard entry.resolveHeldUntil == nil else {
                if changed { pass.entries.append(entry) }
                continue
            }
            if case .absent = view {
                guard entry.isOpen, everyAnswered else {
                    if changed { pass.entries.append(entry) }
                    continue
                }
                let since = missingSince[entry.key] ?? now
                guard now.timeIntervalSince(since) >= configuration.gracePeriod.seconds else {
                    pass.stillMissing[entry.key] = since
                    if changed { pass.entries.append(entry) }
                    continue
                }
                let reason = "no configured Alertmanager has reported this alert for \(Int(now.timeIntervalSince(since))) s"
                if let message = queue(.resolve, cause: .reconciled, for: &entry, observed: nil, reason: reason, now: now) {
                    pass.outbox.append(message)
                    pass.counted.append(.init(action: .resolve, cause: "reconciled"))
                    log(.resolve, entry: entry, reason: reason)
                    changed = true
                }
                if changed { pass.entries.append(entry) }
                continue
            }
            if now.timeIntervalSince(entry.lastSeen) > policy.entryTTL.seconds / 4 {
                // Alertmanager still knows the alert: keep the entry alive while webhooks are silent about it.
                entry.lastSeen = now
                changed = true
            }
            if let step = SyncRules.step(for: entry, view: view, policy: route.mutePolicy) {
                let reason = Self.reason(for: step.action, view: view)
                var observed: Alert?
                if case .active(let alert) = view, entry.subject == .alert { observed = alert }
                if step.action == .trigger, FeedbackRules.mustResolveBeforeTrigger(entry, policy: route.feedbackPolicy) {
                    // The Events API cannot un-acknowledge: close the acknowledged incident so the trigger opens a
                    // new one, which pages.
                    let reason = "the silence ended while PagerDuty still reports the incident acknowledged"
                    if let message = queue(.resolve, cause: .webhook, for: &entry, observed: nil, reason: reason, now: now) {
                        pass.outbox.append(message)
                        pass.counted.append(.init(action: .resolve, cause: "reopened"))
                        log(.resolve, entry: entry, reason: reason)
                        changed = true
                    }
                }
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

    /// What the Alertmanagers, taken together, say about `entry`'s alert (or group), not counting the entry's own
    /// silences as muting it.
    private func view(of entry: LedgerEntry, in observations: [String: [ObservedAlert]], now: Date) -> AlertmanagerView {
        let own = Set(entry.ownSilence?.ids.values.map { $0 } ?? [])
        func view(of fingerprint: String) -> AlertmanagerView {
            guard let observed = observations[fingerprint] else { return .absent }
            return AlertmanagerView.merging(observed.map { Self.view(of: $0, at: now, ignoring: own) })
        }
        switch entry.subject {
        case .alert: return view(of: entry.dedupKey)
        case .group(let members): return AlertmanagerView.merging(members.map(view(of:)))
        case .change: return .absent
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
