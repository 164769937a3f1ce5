import Synchronization

/// A named destination: a PagerDuty service's routing key, the label matchers that pick it for an alert, and
/// its own severity mapping. Metrics and logs use the name, never the key.
public struct Route: Sendable {
    /// The route's name, used in URLs, metrics (`routing_key` label) and logs.
    public var name: String
    /// The Events API integration key. Secret.
    public var routingKey: String
    /// An alert posted to `/v1/alertmanager` (no route in the path) goes to the first route whose matchers all
    /// match its labels. A route without matchers is reached only through its path.
    public var matchers: [LabelMatcher]
    /// How the route turns alerts into events (severity mapping, summary template, fields, details, links);
    /// `nil` uses the daemon's.
    public var mapper: EventMapper?
    /// What the Alertmanager sync does to the route's incidents when their alert is silenced or inhibited.
    public var mutePolicy: MutePolicy
    /// One incident per alert (the default) or per Alertmanager group.
    public var incidentPer: IncidentGrouping
    /// What the Alertmanager sync does when responders acknowledge or resolve the route's incidents in PagerDuty.
    public var feedbackPolicy: FeedbackPolicy

    public init(
        name: String,
        routingKey: String,
        matchers: [LabelMatcher] = [],
        mapper: EventMapper? = nil,
        mutePolicy: MutePolicy = MutePolicy(),
        incidentPer: IncidentGrouping = .alert,
        feedbackPolicy: FeedbackPolicy = FeedbackPolicy()
    ) {
        self.name = name
        self.routingKey = routingKey
        self.matchers = matchers
        self.mapper = mapper
        self.mutePolicy = mutePolicy
        self.incidentPer = incidentPer
        self.feedbackPolicy = feedbackPolicy
    }

    /// Whether label-based selection picks this route for `labels`.
    public func takes(_ labels: [String: String]) -> Bool {
        !matchers.isEmpty && matchers.allSatisfy { $0.matches(labels) }
    }
}

/// What happens to an open incident when Alertmanager mutes its alert.
public enum MuteAction: String, Sendable, Hashable, CaseIterable {
    /// Acknowledge the incident; trigger it again when the alert is no longer muted and still firing.
    case acknowledge
    /// Resolve the incident; trigger it again when the alert is no longer muted and still firing.
    case resolve
    /// Leave the incident as it is.
    case nothing
}

/// A route's answer to silences and inhibitions, applied by the Alertmanager sync.
public struct MutePolicy: Sendable, Hashable {
    /// For an alert a silence suppresses. Default: acknowledge.
    public var silenced: MuteAction
    /// For an alert an inhibition rule suppresses (and no silence). Default: nothing, because the inhibiting
    /// alert usually pages for the same cause.
    public var inhibited: MuteAction

    public init(silenced: MuteAction = .acknowledge, inhibited: MuteAction = .nothing) {
        self.silenced = silenced
        self.inhibited = inhibited
    }
}

/// What one PagerDuty incident stands for on a route.
public enum IncidentGrouping: String, Sendable, Hashable, CaseIterable {
    /// One incident per alert; dedup_key is the alert's fingerprint.
    case alert
    /// One incident per Alertmanager group, as Alertmanager's own integration does; dedup_key is the
    /// SHA-256 (hex) of the webhook's `groupKey`, the same key that integration uses, so open incidents carry
    /// over when a team migrates.
    case group
}

extension Route: CustomStringConvertible {
    /// The name only: a route is safe to interpolate into a log line.
    public var description: String { "Route(\(name))" }
}

/// The routes in force, in their configured order. Read on every delivery, so a replaced key applies to events
/// already queued; replaced whole on a configuration reload.
public final class RouteTable: Sendable {
    /// The name of the route built from `--routing-key` (or its file or variable).
    public static let defaultRouteName = "default"

    private struct State {
        var ordered: [Route]
        var byName: [String: Route]
        var defaultRoute: String?
    }

    private let state: Mutex<State>

    /// - Parameter defaultRoute: the route for alerts no route's matchers take; `nil` leaves them unrouted.
    public init(routes: [Route], defaultRoute: String? = RouteTable.defaultRouteName) {
        state = Mutex(Self.state(routes, defaultRoute: defaultRoute))
    }

    /// The route called `name`, if configured.
    public func route(named name: String) -> Route? {
        state.withLock { $0.byName[name] }
    }

    /// The route an alert with `labels` goes to: the first whose matchers take it, else the default route (if
    /// configured), else `nil`.
    ///
    /// The matchers run on a snapshot of the routes, outside the lock: their regular expressions see values the
    /// sender controls, and must never hold up deliveries or a reload that need the table meanwhile.
    public func selectRoute(for labels: [String: String]) -> Route? {
        let (ordered, fallback) = state.withLock { state in
            (state.ordered, state.defaultRoute.flatMap { state.byName[$0] })
        }
        return ordered.first(where: { $0.takes(labels) }) ?? fallback
    }

    /// The name of the default route, when it is configured.
    public var defaultRoute: String? {
        state.withLock { state in state.defaultRoute.flatMap { state.byName[$0] == nil ? nil : $0 } }
    }

    /// Every configured route name, sorted.
    public var names: [String] {
        state.withLock { $0.byName.keys.sorted() }
    }

    /// Every routing key in force (to register with log redaction).
    public var routingKeys: [String] {
        state.withLock { $0.ordered.map(\.routingKey) }
    }

    /// Replaces all routes (a configuration reload).
    public func replace(with routes: [Route], defaultRoute: String? = RouteTable.defaultRouteName) {
        state.withLock { $0 = Self.state(routes, defaultRoute: defaultRoute) }
    }

    private static func state(_ routes: [Route], defaultRoute: String?) -> State {
        State(
            ordered: routes,
            byName: Dictionary(routes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }),
            defaultRoute: defaultRoute
        )
    }
}

/// What the daemon does in Alertmanager when a responder acknowledges an incident in PagerDuty.
public enum AcknowledgedAction: String, Sendable, Hashable, CaseIterable {
    /// Silence exactly that alert in every configured Alertmanager while the incident stays acknowledged, so its
    /// other receivers stop repeating it.
    case silence
    /// Leave Alertmanager alone.
    case nothing
}

/// What the daemon does when a responder resolves an incident in PagerDuty while Alertmanager still reports its
/// alert firing. Written `retrigger-after:DURATION`, `silence:DURATION` or `nothing`.
public enum ManualResolveAction: Sendable, Hashable {
    /// Trigger a new incident if the alert still fires this long after the resolve.
    case retriggerAfter(Duration)
    /// Silence exactly that alert for this long.
    case silence(Duration)
    /// Nothing: the alert is triggered again after `--retrigger-interval`, as for any firing alert.
    case nothing

    /// Parses `retrigger-after:DURATION`, `silence:DURATION` or `nothing`, with `parseDuration` reading the part
    /// after the colon (`nil` when it is not a positive duration). `nil` for anything else.
    public init?(text: String, parseDuration: (Substring) -> Duration?) {
        if text == "nothing" {
            self = .nothing
            return
        }
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let kind = text[..<colon]
        guard let duration = parseDuration(text[text.index(after: colon)...]), duration > .zero else { return nil }
        switch kind {
        case "retrigger-after": self = .retriggerAfter(duration)
        case "silence": self = .silence(duration)
        default: return nil
        }
    }

    /// The accepted forms, for error messages.
    public static let forms = "retrigger-after:DURATION, silence:DURATION or nothing"

    /// The action as written in flags and route files (durations in the largest whole unit: `90s`, `15m`, `2h`).
    public var text: String {
        func written(_ duration: Duration) -> String {
            let seconds = duration.components.seconds
            if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
            if seconds % 60 == 0 { return "\(seconds / 60)m" }
            return "\(seconds)s"
        }
        switch self {
        case .retriggerAfter(let duration): return "retrigger-after:" + written(duration)
        case .silence(let duration): return "silence:" + written(duration)
        case .nothing: return "nothing"
        }
    }
}

/// What the daemon does when a silence it turned into an acknowledge ends while PagerDuty still reports the
/// incident acknowledged (the Events API cannot un-acknowledge, so a trigger alone would page nobody).
public enum ReopenAction: String, Sendable, Hashable, CaseIterable {
    /// Resolve the acknowledged incident, then trigger a new one, which pages.
    case resolveThenTrigger = "resolve-then-trigger"
    /// Trigger only: the incident stays acknowledged and nobody is paged.
    case nothing
}

/// A route's answers to what responders do in PagerDuty (reported by its signed webhooks), applied by the
/// Alertmanager sync.
public struct FeedbackPolicy: Sendable, Hashable {
    /// When a responder acknowledges. Default nothing.
    public var acknowledged: AcknowledgedAction
    /// When a responder resolves while the alert still fires. Default nothing.
    public var manualResolve: ManualResolveAction
    /// When a silence's acknowledge outlives the silence. Default nothing.
    public var reopen: ReopenAction

    public init(acknowledged: AcknowledgedAction = .nothing, manualResolve: ManualResolveAction = .nothing, reopen: ReopenAction = .nothing) {
        self.acknowledged = acknowledged
        self.manualResolve = manualResolve
        self.reopen = reopen
    }
}
