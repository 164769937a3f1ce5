import Foundation
import PagerDutyEvents

/// What a ledger entry stands for.
public enum LedgerSubject: Sendable, Hashable {
    /// One alert; its dedup_key is the alert's fingerprint.
    case alert
    /// An Alertmanager group on a route with `incident_per: group`; its dedup_key is the SHA-256 of the group
    /// key, and `members` are the fingerprints of the group's firing alerts in the last webhook.
    case group(members: Set<String>)
    /// An alert announcing a change (`change_event="true"`): it never has an incident, so the Alertmanager
    /// sync leaves it alone.
    case change
}

/// Who decided the last action of a ledger entry.
public enum LedgerCause: String, Sendable, Hashable, CaseIterable {
    /// An Alertmanager webhook (or a damped resolve released after its hold).
    case webhook
    /// The Alertmanager sync: the alert is silenced.
    case silenced
    /// The Alertmanager sync: the alert is inhibited.
    case inhibited
    /// The Alertmanager sync: no configured Alertmanager knew the alert for longer than the grace period.
    case reconciled
}

/// The few payload fields of the last trigger, kept so the publisher can send a meaningful acknowledge or
/// resolve when it has no webhook to build one from (a silence seen through the API, reconciliation).
public struct RememberedPayload: Sendable, Hashable {
    public var summary: String
    public var source: String
    public var severity: Severity

    public init(summary: String, source: String, severity: Severity) {
        self.summary = summary
        self.source = source
        self.severity = severity
    }
}

/// What PagerDuty last said about the incident of a ledger entry, from its signed v3 webhooks (a responder
/// acknowledged, resolved or reopened it, or PagerDuty opened it).
public struct IncidentState: Sendable, Hashable {
    /// The incident's status in PagerDuty.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case triggered
        case acknowledged
        case resolved
    }

    public var status: Status
    /// When the change happened, by PagerDuty's account (the event's `occurred_at`, or its receipt without one).
    /// An older event than this never overwrites the state.
    public var changedAt: Date
    /// Who made the change: the display name of PagerDuty's agent (a responder, an integration), never an e-mail
    /// address or a token; `nil` when PagerDuty named nobody.
    public var changedBy: String?
    /// PagerDuty's id of the incident, such as `PGR0VU2`.
    public var incidentID: String
    /// The incident's page in PagerDuty's web app.
    public var incidentURL: String?

    public init(status: Status, changedAt: Date, changedBy: String?, incidentID: String, incidentURL: String?) {
        self.status = status
        self.changedAt = changedAt
        self.changedBy = changedBy
        self.incidentID = incidentID
        self.incidentURL = incidentURL
    }
}

/// A silence this daemon created in Alertmanager for one alert, because of what PagerDuty reported about its
/// incident. The daemon only ever extends or expires silences recorded here: never anybody else's.
public struct OwnSilence: Sendable, Hashable {
    /// Why the silence exists, which decides how long it lives.
    public enum Purpose: String, Sendable, Hashable, CaseIterable {
        /// A responder acknowledged the incident (`acknowledged: silence`): extended while PagerDuty still says
        /// acknowledged, expired when it says resolved or triggered again.
        case acknowledged
        /// A responder resolved the incident while the alert still fired (`manual_resolve: silence:D`): lasts D,
        /// never extended; expired early if PagerDuty reports a newer state.
        case manualResolve = "manual_resolve"
    }

    public var purpose: Purpose
    /// The ``IncidentState/changedAt`` of the PagerDuty state the silence answers: a newer state ends it.
    public var answering: Date
    /// When the silence ends, as last created or extended.
    public var endsAt: Date
    /// The silence's id on each Alertmanager (by its display name) that took it; an Alertmanager missing here
    /// gets the silence at the next sync.
    public var ids: [String: String]

    public init(purpose: Purpose, answering: Date, endsAt: Date, ids: [String: String] = [:]) {
        self.purpose = purpose
        self.answering = answering
        self.endsAt = endsAt
        self.ids = ids
    }
    /// ``ids`` as the stores keep them: a JSON object with sorted keys, so an entry is always written the same way
    /// (JSON escapes a NUL character, so the text is storable in PostgreSQL too).
    public var storedIDs: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A dictionary of strings always encodes.
        let data = (try? encoder.encode(ids)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The ids from their stored text (``storedIDs``).
    /// - Throws: ``StoreError`` when the text is not a JSON object of strings.
    public static func ids(stored text: String) throws(StoreError) -> [String: String] {
        do {
            return try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        } catch {
            throw StoreError(reason: "a ledger row has silence ids that are not a JSON object of strings")
        }
    }
}

/// What the ledger remembers of one alert on one route: the last action sent (or queued) for its dedup_key.
public struct LedgerEntry: Sendable, Hashable {
    /// The route whose routing key the alert's events go to.
    public var route: String
    /// The dedup_key: the alert's fingerprint, or the fingerprint of its labels.
    public var dedupKey: String
    /// The last action queued for PagerDuty.
    public var lastAction: EventAction
    /// When ``lastAction`` was queued.
    public var lastActionAt: Date
    /// The `startsAt` of the alert occurrence ``lastAction`` belongs to, when the sender gave one.
    public var startsAt: Date?
    /// When a webhook last mentioned the alert; the entry expires a TTL after this.
    public var lastSeen: Date
    /// An alert, a group, or a change announcement.
    public var subject: LedgerSubject
    /// Who decided ``lastAction``.
    public var cause: LedgerCause
    /// Payload fields of the last trigger, when one was queued since this was recorded.
    public var remembered: RememberedPayload?
    /// A resolve held back because the alert is flapping: it is sent at this time unless the alert fires again.
    public var resolveHeldUntil: Date?
    /// What PagerDuty last said about the incident, when one of its webhooks named this entry's dedup_key.
    public var incident: IncidentState?
    /// The silence this daemon keeps in Alertmanager for the alert, when a policy made one.
    public var ownSilence: OwnSilence?

    public init(
        route: String,
        dedupKey: String,
        lastAction: EventAction,
        lastActionAt: Date,
        startsAt: Date?,
        lastSeen: Date,
        subject: LedgerSubject = .alert,
        cause: LedgerCause = .webhook,
        remembered: RememberedPayload? = nil,
        resolveHeldUntil: Date? = nil,
        incident: IncidentState? = nil,
        ownSilence: OwnSilence? = nil
    ) {
        self.route = route
        self.dedupKey = dedupKey
        self.lastAction = lastAction
        self.lastActionAt = lastActionAt
        self.startsAt = startsAt
        self.lastSeen = lastSeen
        self.subject = subject
        self.cause = cause
        self.remembered = remembered
        self.resolveHeldUntil = resolveHeldUntil
        self.incident = incident
        self.ownSilence = ownSilence
    }

    /// The key of this entry.
    public var key: LedgerKey { LedgerKey(route: route, dedupKey: dedupKey) }

    /// Whether PagerDuty has (or will have, once the outbox drains) an open incident for this entry.
    public var isOpen: Bool { lastAction != .resolve && subject != .change }
}

/// Which Events API call an outbox message becomes.
public enum OutboxKind: String, Sendable, Hashable, CaseIterable {
    case trigger
    case acknowledge
    case resolve
    case change
}

/// An event accepted for delivery, as written to the outbox. The body never contains the routing key: the
/// dispatcher adds the route's current key when it sends, so keys can rotate while events wait.
public struct OutboxMessage: Sendable, Hashable {
    /// The route (and so the dispatcher lane) the event goes to.
    public var route: String
    public var kind: OutboxKind
    /// The dedup_key of an alert event; `nil` for change events.
    public var dedupKey: String?
    /// The event's payload severity (triggers, and acknowledges and resolves that carry a payload): the
    /// dispatcher's delivery priority, and the `severity` label of triggers in metrics. `nil` for change events.
    public var severity: Severity?
    /// The event's JSON with an empty `routing_key`.
    public var body: Data
    /// When the event was accepted.
    public var createdAt: Date
    /// The W3C `traceparent` of the webhook that queued the event, when tracing was on: each delivery attempt's
    /// span links to it, also after a restart. Never holds a secret (a version, two ids and flags).
    public var traceContext: String?

    public init(
        route: String, kind: OutboxKind, dedupKey: String?, severity: Severity?, body: Data, createdAt: Date,
        traceContext: String? = nil
    ) {
        self.route = route
        self.kind = kind
        self.dedupKey = dedupKey
        self.severity = severity
        self.body = body
        self.createdAt = createdAt
        self.traceContext = traceContext
    }
}

/// An outbox message waiting for delivery, with its delivery history.
public struct OutboxRecord: Sendable, Hashable {
    /// Increases with every accepted message: the delivery order within a route.
    public var id: Int64
    public var message: OutboxMessage
    /// How many delivery attempts failed so far.
    public var attempts: Int
    /// Why the last attempt failed (no secrets).
    public var lastError: String?

    public init(id: Int64, message: OutboxMessage, attempts: Int = 0, lastError: String? = nil) {
        self.id = id
        self.message = message
        self.attempts = attempts
        self.lastError = lastError
    }
}

/// A pending outbox message without its body: what the dispatcher needs to decide the delivery order.
public struct PendingMessageSummary: Sendable, Hashable {
    /// The message's outbox id (its age: lower ids were accepted earlier).
    public var id: Int64
    public var kind: OutboxKind
    /// The dedup_key of an alert event; `nil` for change events.
    public var dedupKey: String?
    /// The severity the event carries, when it has one.
    public var severity: Severity?

    public init(id: Int64, kind: OutboxKind, dedupKey: String?, severity: Severity?) {
        self.id = id
        self.kind = kind
        self.dedupKey = dedupKey
        self.severity = severity
    }
}

/// A message PagerDuty refused (or that could not be delivered at all), kept with the reason.
public struct DeadLetter: Sendable, Hashable {
    public var id: Int64
    public var message: OutboxMessage
    public var attempts: Int
    public var reason: String
    public var failedAt: Date

    public init(id: Int64, message: OutboxMessage, attempts: Int, reason: String, failedAt: Date) {
        self.id = id
        self.message = message
        self.attempts = attempts
        self.reason = reason
        self.failedAt = failedAt
    }
}

/// Queue figures for metrics and health.
public struct QueueStats: Sendable, Hashable {
    /// Messages waiting for delivery.
    public var pending: Int
    /// When the oldest waiting message was accepted.
    public var oldestPendingCreatedAt: Date?
    /// Messages in the dead-letter table.
    public var deadLetters: Int
    /// Ledger entries by the status PagerDuty last reported for their incident (entries PagerDuty never reported
    /// on are not counted).
    public var incidents: [IncidentState.Status: Int]

    public init(
        pending: Int, oldestPendingCreatedAt: Date?, deadLetters: Int, incidents: [IncidentState.Status: Int] = [:]
    ) {
        self.pending = pending
        self.oldestPendingCreatedAt = oldestPendingCreatedAt
        self.deadLetters = deadLetters
        self.incidents = incidents
    }
}

/// Why the store could not do what was asked. Callers answer 503 and retry later; nothing was changed.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { "storage unavailable: \(reason)" }
}

/// Durable storage of the ledger and the outbox. Every method is one short transaction; every write is
/// durable when it returns.
///
/// The SQLite store (one replica) and the PostgreSQL store (several replicas, ``SharedPublisherStore``)
/// implement it.
public protocol PublisherStore: Sendable {
    /// Ledger entries last seen at or after `date`, to warm the in-memory cache at start.
    func loadLedger(seenSince date: Date) async throws -> [LedgerEntry]

    /// Upserts `ledger` entries (keyed by route and dedup_key) and appends `outbox` messages, in one
    /// transaction, in the given order. Returns the ids given to the messages.
    @discardableResult
    func commit(ledger: [LedgerEntry], outbox: [OutboxMessage]) async throws -> [Int64]

    /// Routes that have pending messages.
    func routesWithPendingMessages() async throws -> [String]

    /// The oldest pending messages of `route`, by id, at most `limit`.
    func pendingMessages(route: String, limit: Int) async throws -> [OutboxRecord]

    /// Summaries (no bodies) of the oldest pending messages of `route`, by id, at most `limit`.
    func pendingSummaries(route: String, limit: Int) async throws -> [PendingMessageSummary]

    /// The pending messages with the given ids, in the order of `ids`; ids no longer pending are skipped.
    func pendingMessages(ids: [Int64]) async throws -> [OutboxRecord]

    /// Removes a delivered message from the outbox.
    func markDelivered(id: Int64) async throws

    /// Counts a failed attempt of a pending message and remembers why.
    func recordFailedAttempt(id: Int64, error: String) async throws

    /// Moves a pending message to the dead-letter table with `reason`.
    func moveToDeadLetters(id: Int64, reason: String, at date: Date) async throws

    /// Dead letters, newest first, at most `limit`.
    func deadLetters(limit: Int) async throws -> [DeadLetter]

    /// Pending and dead-letter counts, and the oldest pending time.
    func queueStats() async throws -> QueueStats

    /// Deletes ledger entries last seen before `date`, except those with a resolve held; returns how many.
    @discardableResult
    func expireLedger(seenBefore date: Date) async throws -> Int

    /// Throws when the store cannot write (readiness).
    func checkWritable() async throws

    /// Runs `decide` inside one transaction on the stored ledger entries of `keys`, which no other writer of
    /// the store (another replica included) can change until the transaction ends, then upserts the entries and
    /// appends the messages it returns, in that transaction. Returns the decision's outcome once it is durable;
    /// when the store fails, nothing of it is written.
    ///
    /// A store with one writer may answer from `cache` (``decideFromCache(keys:cache:_:)``); a shared store must
    /// read its own rows under a row or advisory lock.
    func decide<Outcome: Sendable>(
        keys: Set<LedgerKey>,
        cache: LedgerCache,
        _ decide: @escaping LedgerDecider<Outcome>
    ) async throws -> Outcome

    /// Remembers that a request to PagerDuty for `lane` starts at `date` (stored before it is sent), so the rate
    /// limiter's window survives a restart or a handover to another replica, even one after a `kill -9` while the
    /// request was in flight. `lane` names a routing key without being it.
    ///
    /// A store shared by several processes also fences the request: it records the start only while this process
    /// owns the lane's ``OwnedWork/delivery(lane:)``, and otherwise throws ``WorkNoLongerOwned`` (the caller then
    /// sends nothing), so an owner that lost the lane without noticing yet never sends.
    func recordRequest(lane: String, finishedAt date: Date) async throws

    /// The recorded times of the requests of `lane` at or after `date`, oldest first.
    func requestTimes(lane: String, since date: Date) async throws -> [Date]

    /// Whether the PagerDuty webhook event `id` was applied (``rememberInboundEvent(id:at:)``) within the
    /// ``InboundEvents/retention`` up to `now` (at or after ``InboundEvents/oldestRemembered(at:)``). An id applied
    /// earlier is a new delivery again, whether or not a later ``rememberInboundEvent(id:at:)`` has pruned it yet.
    func hasInboundEvent(id: String, at now: Date) async throws -> Bool

    /// Remembers that the PagerDuty webhook event `id` was applied at `date` (idempotent: an id still within the
    /// ``InboundEvents/retention`` keeps its first time; one applied before it is remembered from `date` again),
    /// and forgets the events applied more than ``InboundEvents/retention`` before `date`.
    func rememberInboundEvent(id: String, at date: Date) async throws
}

/// How long the ids of PagerDuty's webhook events are kept to recognise a replay.
public enum InboundEvents {
    /// 24 hours: far longer than PagerDuty retries a delivery.
    public static let retention: TimeInterval = 24 * 60 * 60

    /// The earliest time an event id applied counts as a replay at `now`: ``retention`` before it. An id applied
    /// exactly then still does; one applied earlier does not.
    public static func oldestRemembered(at now: Date) -> Date {
        now.addingTimeInterval(-retention)
    }
}

/// What a decision taken inside the store's transaction writes, and what it tells its caller.
public struct LedgerChanges<Outcome: Sendable>: Sendable {
    /// Entries to upsert (keyed by route and dedup_key).
    public var ledger: [LedgerEntry]
    /// Messages to append, in this order.
    public var outbox: [OutboxMessage]
    /// What the caller learns from the decision (for example each webhook's result).
    public var outcome: Outcome

    public init(ledger: [LedgerEntry], outbox: [OutboxMessage], outcome: Outcome) {
        self.ledger = ledger
        self.outbox = outbox
        self.outcome = outcome
    }
}

/// The decisions of ``PublisherStore/decide(keys:cache:_:)``: given the stored entries of the keys asked for
/// (absent keys have none), what to write. It runs exactly once per call, synchronously, inside the transaction.
public typealias LedgerDecider<Outcome: Sendable> = @Sendable (_ stored: [LedgerKey: LedgerEntry]) -> LedgerChanges<Outcome>

extension PublisherStore {
    /// The decision of a store with one writer (this process): the process's ledger cache is exact, since every
    /// write of the ledger goes through it under the callers' gate, so `decide` reads it instead of the tables.
    public func decideFromCache<Outcome: Sendable>(
        keys: Set<LedgerKey>,
        cache: LedgerCache,
        _ decide: @escaping LedgerDecider<Outcome>
    ) async throws -> Outcome {
        var stored: [LedgerKey: LedgerEntry] = [:]
        stored.reserveCapacity(keys.count)
        for key in keys {
            if let entry = cache.entry(for: key) { stored[key] = entry }
        }
        let changes = decide(stored)
        if !changes.ledger.isEmpty || !changes.outbox.isEmpty {
            try await commit(ledger: changes.ledger, outbox: changes.outbox)
        }
        return changes.outcome
    }
}

/// A store that several processes write at once (PostgreSQL behind several replicas). Its ledger, not a
/// process's cache, is the authority: every decision reads the stored entries under the store's locks, and the
/// background work that scans the ledger (the Alertmanager sync, held resolves) reads it from the store.
public protocol SharedPublisherStore: PublisherStore {
    /// Entries the Alertmanager sync looks at: those with an open incident (not a change announcement, no
    /// resolve held), those the sync resolved because the alert was silenced or inhibited, and those with an
    /// ``LedgerEntry/ownSilence``.
    func syncCandidates() async throws -> [LedgerEntry]

    /// Entries whose held resolve is due at `date`.
    func heldResolves(dueAt date: Date) async throws -> [LedgerEntry]

    /// The entries of `dedupKey` on every route (PagerDuty's webhooks name an incident by its dedup_key only).
    func ledgerEntries(dedupKey: String) async throws -> [LedgerEntry]
}
