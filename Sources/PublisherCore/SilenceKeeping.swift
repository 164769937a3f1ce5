import AlertmanagerModels
import Foundation
import Logging

/// One Alertmanager in which the daemon keeps its own silences (through its API v2).
public protocol AlertmanagerSilencing: Sendable {
    /// How logs and the ledger name it (host and port; never credentials). Must match the name the sync reads it by.
    var displayName: String { get }
    /// Creates the silence, or replaces the one with `silence.id`; returns the id Alertmanager gave it (a replaced
    /// silence can get a new one).
    func postSilence(_ silence: SilenceRequest) async throws -> String
    /// Expires the silence `id`; an unknown or already expired silence is not an error.
    func expireSilence(id: String) async throws
}

/// What happened to one of the daemon's silences on one Alertmanager, the `action` label of
/// `pagerduty_publisher_silences_total`.
public enum SilenceAction: String, Sendable, Hashable, CaseIterable {
    case created
    case extended
    case expired
    /// The Alertmanager could not be asked or refused; the sync tries again at its next poll.
    case failed
}

/// A change to the daemon's silence of one alert, decided by the sync under the ledger's gate and carried out after
/// it (the network calls never hold back webhooks).
struct SilencePlan: Sendable, Hashable {
    enum Operation: Sendable, Hashable {
        /// Create the silence where it is missing, to end at `endsAt`; with `rewriteExisting`, also rewrite it
        /// where it exists (an extension).
        case put(purpose: OwnSilence.Purpose, answering: Date, endsAt: Date, comment: String, rewriteExisting: Bool)
        /// Expire every recorded silence.
        case expire
    }

    var key: LedgerKey
    var operation: Operation
    /// The alert's labels, as Alertmanager reports them: the silence's exact matchers.
    var labels: [String: String]
    /// The ids already recorded, by Alertmanager.
    var existing: [String: String]
}

/// The rules of the daemon's own silences, for one ledger entry (pure: the sync runs them inside the store's
/// decision).
///
/// - `acknowledged: silence`: a responder acknowledged an incident this daemon triggered (not one it acknowledged
///   itself because of a silence) → a silence matching exactly the alert, for `--ack-silence-duration`, extended
///   while PagerDuty still says acknowledged, expired when it says anything else;
/// - `manual_resolve: silence:D`: a responder resolved the incident while the alert fires → a silence for D,
///   never extended, expired early when PagerDuty reports a newer state;
/// - no silence for an alert no Alertmanager reports (its labels are unknown), nor for a group incident.
enum SilenceRules {
    /// The silence's creator as Alertmanager shows it.
    static let createdBy = "pagerduty-publisher"

    /// The plan for `entry`, and the entry as it must be stored now (an own silence that ended on its own is
    /// forgotten without a call).
    static func plan(
        for entry: LedgerEntry,
        policy: FeedbackPolicy,
        firing: Bool,
        labels: [String: String]?,
        alertmanagers: [String],
        acknowledgedSilenceDuration: Duration,
        settle: Duration,
        now: Date
    ) -> (plan: SilencePlan?, entry: LedgerEntry) {
        var entry = entry
        guard !alertmanagers.isEmpty else { return (nil, entry) }
        let incident = entry.incident
        if let own = entry.ownSilence {
            let stillWanted: Bool
            switch own.purpose {
            case .acknowledged: stillWanted = policy.acknowledged == .silence && incident?.status == .acknowledged
            case .manualResolve: stillWanted = incident?.changedAt == own.answering
            }
            if !stillWanted {
                if own.endsAt > now, !own.ids.isEmpty {
                    return (SilencePlan(key: entry.key, operation: .expire, labels: [:], existing: own.ids), entry)
                }
                entry.ownSilence = nil
                return (nil, entry)
            }
            guard let labels, own.endsAt > now || own.purpose == .acknowledged else { return (nil, entry) }
            let missing = alertmanagers.contains { own.ids[$0] == nil }
            switch own.purpose {
            case .acknowledged:
                let extend = own.endsAt.timeIntervalSince(now) < acknowledgedSilenceDuration.seconds / 2
                guard missing || extend else { return (nil, entry) }
                // An extension rewrites every silence; otherwise only the Alertmanagers without one get it, ending
                // with the others.
                let operation = SilencePlan.Operation.put(
                    purpose: .acknowledged, answering: own.answering,
                    endsAt: extend ? now.addingTimeInterval(acknowledgedSilenceDuration.seconds) : own.endsAt,
                    comment: comment(.acknowledged, incident: incident), rewriteExisting: extend)
                return (SilencePlan(key: entry.key, operation: operation, labels: labels, existing: own.ids), entry)
            case .manualResolve:
                guard missing else { return (nil, entry) }
                let operation = SilencePlan.Operation.put(
                    purpose: .manualResolve, answering: own.answering, endsAt: own.endsAt,
                    comment: comment(.manualResolve, incident: incident), rewriteExisting: false)
                return (SilencePlan(key: entry.key, operation: operation, labels: labels, existing: own.ids), entry)
            }
        }
        guard let incident, let labels, entry.subject == .alert, entry.lastAction == .trigger else { return (nil, entry) }
        switch incident.status {
        case .acknowledged where policy.acknowledged == .silence:
            let operation = SilencePlan.Operation.put(
                purpose: .acknowledged, answering: incident.changedAt,
                endsAt: now.addingTimeInterval(acknowledgedSilenceDuration.seconds),
                comment: comment(.acknowledged, incident: incident), rewriteExisting: false)
            return (SilencePlan(key: entry.key, operation: operation, labels: labels, existing: [:]), entry)
        case .resolved where firing && FeedbackRules.isManualResolve(of: entry, settle: settle, now: now):
            guard case .silence(let duration) = policy.manualResolve else { return (nil, entry) }
            let operation = SilencePlan.Operation.put(
                purpose: .manualResolve, answering: incident.changedAt, endsAt: now.addingTimeInterval(duration.seconds),
                comment: comment(.manualResolve, incident: incident), rewriteExisting: false)
            return (SilencePlan(key: entry.key, operation: operation, labels: labels, existing: [:]), entry)
        default:
            return (nil, entry)
        }
    }

    /// The silence's comment: why, who, and the incident's link (its id when PagerDuty gave no link).
    static func comment(_ purpose: OwnSilence.Purpose, incident: IncidentState?) -> String {
        let who = incident?.changedBy ?? "a responder"
        let link = incident?.incidentURL ?? incident.map { "incident \($0.incidentID)" } ?? "the incident"
        switch purpose {
        case .acknowledged: return "Acknowledged in PagerDuty by \(who): \(link)"
        case .manualResolve: return "Resolved in PagerDuty by \(who) while still firing: \(link)"
        }
    }
}

/// The rules for incidents a responder resolved while the alert fires, and for acknowledges that outlive their
/// silence.
enum FeedbackRules {
    /// Whether PagerDuty says a responder resolved the incident this daemon last triggered: the resolve is not
    /// older than that trigger, the daemon itself sent no resolve since, and the state has stood for `settle` (one
    /// poll). The settling matters after `reopen: resolve-then-trigger`, whose own resolve PagerDuty reports too:
    /// the new incident's `triggered` follows it within moments and replaces it.
    static func isManualResolve(of entry: LedgerEntry, settle: Duration, now: Date) -> Bool {
        guard let incident = entry.incident, incident.status == .resolved, entry.lastAction == .trigger else { return false }
        return incident.changedAt >= entry.lastActionAt && now.timeIntervalSince(incident.changedAt) >= settle.seconds
    }

    /// Whether `manual_resolve: retrigger-after:D` calls for a new incident now.
    static func isRetriggerDue(for entry: LedgerEntry, policy: FeedbackPolicy, firing: Bool, settle: Duration, now: Date) -> Bool {
        guard firing, case .retriggerAfter(let delay) = policy.manualResolve, isManualResolve(of: entry, settle: settle, now: now),
            let resolvedAt = entry.incident?.changedAt
        else { return false }
        return now.timeIntervalSince(resolvedAt) >= delay.seconds
    }

    /// Whether a trigger for an alert that is no longer muted must resolve first (`reopen: resolve-then-trigger`):
    /// the daemon acknowledged the incident because of a mute, and PagerDuty still says acknowledged.
    static func mustResolveBeforeTrigger(_ entry: LedgerEntry, policy: FeedbackPolicy) -> Bool {
        policy.reopen == .resolveThenTrigger && entry.lastAction == .acknowledge
            && (entry.cause == .silenced || entry.cause == .inhibited) && entry.incident?.status == .acknowledged
    }
}

/// Carries out ``SilencePlan``s on every configured Alertmanager, one call at a time per plan, and says what
/// became of each: the ids to record.
struct SilenceKeeper: Sendable {
    let silencers: [any AlertmanagerSilencing]
    let metrics: PublisherMetrics
    let logger: Logger

    /// What a plan left behind: the ids that now exist, by Alertmanager.
    struct Outcome: Sendable {
        var plan: SilencePlan
        var ids: [String: String]
    }

    func carryOut(_ plans: [SilencePlan], now: Date) async -> [Outcome] {
        var outcomes: [Outcome] = []
        for plan in plans {
            outcomes.append(await carryOut(plan, now: now))
        }
        return outcomes
    }

    private func carryOut(_ plan: SilencePlan, now: Date) async -> Outcome {
        var ids = plan.existing
        switch plan.operation {
        case .put(let purpose, _, let endsAt, let comment, let rewriteExisting):
            for silencer in silencers {
                let existing = plan.existing[silencer.displayName]
                if existing != nil && !rewriteExisting { continue }
                let request = SilenceRequest(
                    id: existing, matchers: SilenceRequest.matchers(exactly: plan.labels), startsAt: now, endsAt: endsAt,
                    createdBy: SilenceRules.createdBy, comment: comment)
                do {
                    let id: String
                    do {
                        id = try await silencer.postSilence(request)
                    } catch where existing != nil {
                        // Alertmanager may have forgotten it (restarted without its data, or garbage-collected
                        // after it ended): create it anew. A silence it still had ends on its own.
                        var fresh = request
                        fresh.id = nil
                        id = try await silencer.postSilence(fresh)
                    }
                    ids[silencer.displayName] = id
                    let action: SilenceAction = existing == nil ? .created : .extended
                    metrics.recordSilence(action)
                    log(action, plan: plan, alertmanager: silencer.displayName, id: id, purpose: purpose, endsAt: endsAt)
                } catch {
                    // Not recorded as existing: the next poll creates it there anew (a silence it may still hold
                    // ends on its own), so the recorded end never claims an extension that did not happen.
                    ids[silencer.displayName] = nil
                    metrics.recordSilence(.failed)
                    logger.warning(
                        "Could not write a silence in Alertmanager; the sync tries again at its next poll",
                        metadata: metadata(plan, alertmanager: silencer.displayName).merging(["error": "\(error)"]) { $1 })
                }
            }
        case .expire:
            for (name, id) in plan.existing.sorted(by: { $0.key < $1.key }) {
                guard let silencer = silencers.first(where: { $0.displayName == name }) else {
                    // No longer configured: nothing can reach it, and its silence ends on its own.
                    ids[name] = nil
                    continue
                }
                do {
                    try await silencer.expireSilence(id: id)
                    ids[name] = nil
                    metrics.recordSilence(.expired)
                    log(.expired, plan: plan, alertmanager: name, id: id, purpose: nil, endsAt: nil)
                } catch {
                    metrics.recordSilence(.failed)
                    logger.warning(
                        "Could not expire a silence in Alertmanager; the sync tries again at its next poll",
                        metadata: metadata(plan, alertmanager: name).merging(["silence_id": "\(id)", "error": "\(error)"]) { $1 })
                }
            }
        }
        return Outcome(plan: plan, ids: ids)
    }

    private func metadata(_ plan: SilencePlan, alertmanager: String) -> Logger.Metadata {
        ["route": "\(plan.key.route)", "dedup_key": "\(plan.key.dedupKey)", "alertmanager": "\(alertmanager)"]
    }

    private func log(
        _ action: SilenceAction, plan: SilencePlan, alertmanager: String, id: String, purpose: OwnSilence.Purpose?, endsAt: Date?
    ) {
        var metadata = metadata(plan, alertmanager: alertmanager)
        metadata["silence_id"] = "\(id)"
        metadata["action"] = "\(action.rawValue)"
        if let purpose { metadata["purpose"] = "\(purpose.rawValue)" }
        if let endsAt { metadata["ends_at"] = "\(RFC3339.format(endsAt))" }
        logger.info("Alertmanager silence \(action.rawValue)", metadata: metadata)
    }

    /// The entry with the outcome recorded: the ids that exist, or no own silence once none does.
    static func recording(_ outcome: Outcome, on entry: LedgerEntry) -> LedgerEntry {
        var entry = entry
        switch outcome.plan.operation {
        case .put(let purpose, let answering, let endsAt, _, _):
            if outcome.ids.isEmpty && outcome.plan.existing.isEmpty { return entry }
            entry.ownSilence = OwnSilence(purpose: purpose, answering: answering, endsAt: endsAt, ids: outcome.ids)
        case .expire:
            if outcome.ids.isEmpty {
                entry.ownSilence = nil
            } else {
                entry.ownSilence?.ids = outcome.ids
            }
        }
        return entry
    }
}
