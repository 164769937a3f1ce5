import Foundation
import Synchronization

/// What one dispatch lane (one routing key) is doing, as the status page shows it.
public struct LaneStatus: Sendable, Hashable {
    /// The routes whose events the lane delivers (names, never the key).
    public var routes: [String]
    /// Requests sent in the limiter's window (the last 60 s).
    public var requestsInWindow: Int
    /// The limiter's budget per window (`--rate-limit`).
    public var limit: Int
    /// Until when a 429 pauses the lane, while it does.
    public var pausedUntil: Date?

    public init(routes: [String], requestsInWindow: Int = 0, limit: Int, pausedUntil: Date? = nil) {
        self.routes = routes
        self.requestsInWindow = requestsInWindow
        self.limit = limit
        self.pausedUntil = pausedUntil
    }
}

/// The lanes' latest state, written by the lanes and read by the status page. Keyed by the lane's stored name
/// (a hash of the key, never the key).
public final class LaneStatusBoard: Sendable {
    private struct Entry {
        var routes: [String]
        var limit: Int
        /// When the requests of the last window were sent, oldest first.
        var requests: [Date] = []
        var pausedUntil: Date?
    }

    /// The look-back window of the figures (the limiter's).
    public static let window: TimeInterval = 60
    private let lanes = Mutex<[String: Entry]>([:])

    public init() {}

    /// Notes a request sent by `lane` at `date`.
    func recordRequest(lane: String, routes: [String], limit: Int, at date: Date) {
        lanes.withLock { lanes in
            var entry = lanes[lane] ?? Entry(routes: routes, limit: limit)
            entry.routes = routes
            entry.limit = limit
            entry.requests.removeAll { $0 <= date.addingTimeInterval(-Self.window) }
            entry.requests.append(date)
            lanes[lane] = entry
        }
    }

    /// Notes that a 429 pauses `lane` until `date`, or (`nil`) that it is not paused.
    func recordPause(lane: String, until date: Date?) {
        lanes.withLock { lanes in lanes[lane]?.pausedUntil = date }
    }

    /// Every lane that sent a request, as of `now`, sorted by its first route.
    public func snapshot(at now: Date) -> [LaneStatus] {
        let entries = lanes.withLock { Array($0.values) }
        return entries.map { entry in
            LaneStatus(
                routes: entry.routes, requestsInWindow: entry.requests.filter { $0 > now.addingTimeInterval(-Self.window) }.count,
                limit: entry.limit, pausedUntil: entry.pausedUntil.flatMap { $0 > now ? $0 : nil })
        }.sorted { ($0.routes.first ?? "") < ($1.routes.first ?? "") }
    }
}

/// What the Alertmanager sync last saw of one Alertmanager.
public struct AlertmanagerStatus: Sendable, Hashable {
    /// Host and port (never credentials).
    public var name: String
    /// Whether it answered the last poll; `nil` before the first poll (or when another replica runs the sync).
    public var isUp: Bool?
    /// When it last answered.
    public var lastAnsweredAt: Date?

    public init(name: String, isUp: Bool?, lastAnsweredAt: Date?) {
        self.name = name
        self.isUp = isUp
        self.lastAnsweredAt = lastAnsweredAt
    }
}

/// One route's line on the status page.
public struct RouteStatus: Sendable, Hashable {
    public var name: String
    /// Events waiting for delivery.
    public var pending: Int
    /// Age of the oldest waiting event.
    public var oldestPendingAge: TimeInterval?
    /// Events PagerDuty refused.
    public var deadLetters: Int
    /// Requests sent on the route's routing key in the last 60 s (shared by every route on that key).
    public var requestsInWindow: Int
    /// The budget per 60 s.
    public var limit: Int
    /// Until when a 429 pauses the route's key.
    public var pausedUntil: Date?

    public init(
        name: String, pending: Int, oldestPendingAge: TimeInterval?, deadLetters: Int, requestsInWindow: Int, limit: Int,
        pausedUntil: Date?
    ) {
        self.name = name
        self.pending = pending
        self.oldestPendingAge = oldestPendingAge
        self.deadLetters = deadLetters
        self.requestsInWindow = requestsInWindow
        self.limit = limit
        self.pausedUntil = pausedUntil
    }
}

/// One alert whose incident PagerDuty reported on (its signed v3 webhooks), as the status page lists it.
public struct ReportedIncident: Sendable, Hashable {
    /// A silence this daemon keeps in Alertmanager for the alert, as of the report's time.
    public enum OwnSilenceState: Sendable, Hashable {
        /// In at least one Alertmanager, until this time.
        case inForce(until: Date)
        /// Recorded, but no Alertmanager took it yet (the sync retries).
        case notYetInAlertmanager
    }

    /// The route (its name, never its key).
    public var route: String
    /// The ledger entry's dedup_key (the alert's fingerprint, or its group's).
    public var dedupKey: String
    /// What PagerDuty last said about the incident.
    public var incident: IncidentState
    /// The silence of ours while it lasts; `nil` without one or once it ended.
    public var ownSilence: OwnSilenceState?

    public init(route: String, dedupKey: String, incident: IncidentState, ownSilence: OwnSilenceState? = nil) {
        self.route = route
        self.dedupKey = dedupKey
        self.incident = incident
        self.ownSilence = ownSilence
    }

    /// `entry` as of `now`; `nil` when PagerDuty never reported on its incident.
    public init?(_ entry: LedgerEntry, at now: Date) {
        guard let incident = entry.incident else { return nil }
        var silence: OwnSilenceState?
        if let own = entry.ownSilence, own.endsAt > now {
            silence = own.ids.isEmpty ? .notYetInAlertmanager : .inForce(until: own.endsAt)
        }
        self.init(route: entry.route, dedupKey: entry.dedupKey, incident: incident, ownSilence: silence)
    }

    /// The incident's page in PagerDuty when its URL is an absolute http or https URL with a host (the check the
    /// events' links get); `nil` otherwise, so that no other scheme (`javascript:`, `data:`) becomes a link.
    public var incidentLink: String? {
        incident.incidentURL.flatMap(EventMapper.webURL)
    }
}

/// Everything the status page (`GET /`) shows, gathered at one moment.
public struct StatusReport: Sendable, Hashable {
    public var version: String
    public var generatedAt: Date
    public var routes: [RouteStatus]
    /// Empty when no `--alertmanager-url` is configured.
    public var alertmanagers: [AlertmanagerStatus]
    /// The newest dead letters, at most ``StatusReporter/deadLetterCount``.
    public var deadLetters: [DeadLetter]
    /// Ledger entries by the state PagerDuty last reported for their incident (``QueueStats/incidents``: a state
    /// nobody is in is absent or 0). Empty when PagerDuty's webhooks are off or reported nothing yet.
    public var incidentCounts: [IncidentState.Status: Int]
    /// The entries PagerDuty reported on, the latest change first, at most ``StatusReporter/incidentCount``.
    public var incidents: [ReportedIncident]

    public init(
        version: String, generatedAt: Date, routes: [RouteStatus], alertmanagers: [AlertmanagerStatus], deadLetters: [DeadLetter],
        incidentCounts: [IncidentState.Status: Int] = [:], incidents: [ReportedIncident] = []
    ) {
        self.version = version
        self.generatedAt = generatedAt
        self.routes = routes
        self.alertmanagers = alertmanagers
        self.deadLetters = deadLetters
        self.incidentCounts = incidentCounts
        self.incidents = incidents
    }
}

/// Gathers a ``StatusReport`` from the store, the dispatch lanes and the Alertmanager sync.
public struct StatusReporter: Sendable {
    /// How many dead letters the page lists.
    public static let deadLetterCount = 20
    /// How many of the incidents PagerDuty reported on the page lists (`queue incidents` lists more).
    public static let incidentCount = 20

    private let version: String
    private let store: any PublisherStore & QueueAdministration
    private let routes: RouteTable
    private let lanes: LaneStatusBoard
    private let rateLimit: Int
    private let alertmanagers: @Sendable () -> [AlertmanagerStatus]
    private let clock: any PublisherClock

    public init(
        version: String,
        store: any PublisherStore & QueueAdministration,
        routes: RouteTable,
        lanes: LaneStatusBoard,
        rateLimit: Int,
        alertmanagers: @escaping @Sendable () -> [AlertmanagerStatus],
        clock: any PublisherClock
    ) {
        self.version = version
        self.store = store
        self.routes = routes
        self.lanes = lanes
        self.rateLimit = rateLimit
        self.alertmanagers = alertmanagers
        self.clock = clock
    }

    /// The report now. Throws when the store cannot be read.
    public func report() async throws -> StatusReport {
        let now = clock.now
        let figures = Dictionary(try await store.routeQueueFigures().map { ($0.route, $0) }, uniquingKeysWith: { $1 })
        let laneOfRoute = Dictionary(
            lanes.snapshot(at: now).flatMap { lane in lane.routes.map { ($0, lane) } }, uniquingKeysWith: { $1 })
        // Configured routes, then routes that are gone but still hold events.
        let names = routes.names + figures.keys.filter { routes.route(named: $0) == nil }.sorted()
        let routeStatuses = names.map { name in
            let figure = figures[name]
            let lane = laneOfRoute[name]
            return RouteStatus(
                name: name, pending: figure?.pending ?? 0,
                oldestPendingAge: figure?.oldestPendingCreatedAt.map { max(0, now.timeIntervalSince($0)) },
                deadLetters: figure?.deadLetters ?? 0, requestsInWindow: lane?.requestsInWindow ?? 0,
                limit: lane?.limit ?? rateLimit, pausedUntil: lane?.pausedUntil)
        }
        let deadLetters = try await store.deadLetters(limit: Self.deadLetterCount)
        // The counts: the queue figures' one read (the ledger's part goes through its partial index of reported
        // states). The rows: one more read, of at most `incidentCount` entries.
        let incidentCounts = try await store.queueStats().incidents
        let incidents = try await store.incidentEntries(status: nil, limit: Self.incidentCount).compactMap {
            ReportedIncident($0, at: now)
        }
        return StatusReport(
            version: version, generatedAt: now, routes: routeStatuses, alertmanagers: alertmanagers(),
            deadLetters: deadLetters, incidentCounts: incidentCounts, incidents: incidents)
    }
}
