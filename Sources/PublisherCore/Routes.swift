import Synchronization

/// A named destination: a PagerDuty service's routing key. Metrics and logs use the name, never the key.
public struct Route: Sendable, Hashable {
    /// The route's name, used in URLs, metrics (`routing_key` label) and logs.
    public var name: String
    /// The Events API integration key. Secret.
    public var routingKey: String

    public init(name: String, routingKey: String) {
        self.name = name
        self.routingKey = routingKey
    }
}

extension Route: CustomStringConvertible {
    /// The name only: a route is safe to interpolate into a log line.
    public var description: String { "Route(\(name))" }
}

/// The routes in force. Read on every delivery, so a replaced key applies to events already queued.
public final class RouteTable: Sendable {
    /// The name of the route that takes `POST /v1/alertmanager` (no route in the path).
    public static let defaultRouteName = "default"

    private let routes: Mutex<[String: Route]>
    /// The route used when a webhook names none.
    public let defaultRoute: String

    public init(routes: [Route], defaultRoute: String = RouteTable.defaultRouteName) {
        self.routes = Mutex(Dictionary(routes.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last }))
        self.defaultRoute = defaultRoute
    }

    /// The route called `name`, if configured.
    public func route(named name: String) -> Route? {
        routes.withLock { $0[name] }
    }

    /// Every configured route name, sorted.
    public var names: [String] {
        routes.withLock { $0.keys.sorted() }
    }

    /// Every routing key in force (to register with log redaction).
    public var routingKeys: [String] {
        routes.withLock { $0.values.map(\.routingKey) }
    }

    /// Replaces all routes (a configuration reload).
    public func replace(with newRoutes: [Route]) {
        routes.withLock { $0 = Dictionary(newRoutes.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last }) }
    }
}
