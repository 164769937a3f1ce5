import PublisherWebConfig

/// Where and how the Alertmanager receiver listens.
public struct ReceiverConfiguration: Sendable {
    /// The default port, 9095: unassigned among Prometheus' well-known exporter ports near Alertmanager's 9093.
    public static let defaultPort = 9095
    /// The default body limit, 10 MiB: a 1,000-alert webhook with generous labels and annotations is 2–5 MiB.
    public static let defaultMaxBodyBytes = 10 * 1024 * 1024
    /// The default idle timeout, 120 s: longer than the 90 s after which Go's HTTP client (Alertmanager's) drops
    /// an idle kept-alive connection, so the client normally closes first and never reuses one being closed.
    public static let defaultIdleTimeout = Duration.seconds(120)
    /// The default read timeout, 30 s: a 10 MiB body still arrives at 3 Mbit/s; Alertmanager sends a webhook in
    /// milliseconds.
    public static let defaultReadTimeout = Duration.seconds(30)
    /// The default connection cap, 512: half the usual soft limit of 1,024 open files, leaving the rest to the
    /// database and the Events API client.
    public static let defaultMaxConnections = 512
    /// The default number of webhooks and change events in flight, 16: with the default body limit, at most
    /// 160 MiB of bodies are buffered at once, under the Deployment's 256 MiB memory limit.
    public static let defaultMaxWebhooksInFlight = 16
    /// The default number of alerts in one webhook, 10,000: about what the default 10 MiB body holds at the 0.5 to
    /// 1 KiB Alertmanager sends per alert, while a body of tiny hand-made alerts could hold 260,000.
    public static let defaultMaxAlertsPerWebhook = 10_000

    /// The address to bind; `0.0.0.0` (every IPv4 interface) by default.
    public var host: String
    /// The TCP port to bind; `0` asks the system for a free port (reported through `onServerRunning`).
    public var port: Int
    /// When set, `POST` endpoints require `Authorization: Bearer <authToken>`; `nil` accepts every request.
    /// Health and readiness never require it; `/` and `/metrics` accept it when ``webConfig`` names users. Never
    /// logged or echoed.
    public var authToken: String?
    /// When set, `POST` endpoints also accept (or, without a token, require) HTTP basic authentication with
    /// these credentials, as Alertmanager's `basic_auth` sends. Never logged or echoed.
    public var basicAuth: BasicAuthCredentials?
    /// Live credentials that the daemon replaces when their files change; when set, they are checked instead of
    /// ``authToken`` and ``basicAuth``.
    public var credentials: ReceiverCredentials?
    /// The largest request body accepted; larger bodies are answered with 413 without being buffered.
    public var maxBodyBytes: Int
    /// The value of the `Server` response header; `nil` for none.
    public var serverName: String?
    /// How long a kept-alive connection may stay idle between two requests before it is closed; `nil` never.
    public var idleTimeout: Duration?
    /// How long a request may take to arrive whole, head and body, counted from the connection's opening or from
    /// the request's first byte; the connection is closed when it runs out. `nil` waits for ever.
    public var readTimeout: Duration?
    /// The most connections open at once; further ones wait in the listen backlog. `nil` for no cap.
    public var maxConnections: Int?
    /// The most webhooks and change events being read, decoded or stored at once; one more is answered 503 with
    /// `Retry-After` without its body being read.
    public var maxWebhooksInFlight: Int
    /// The most alerts one webhook may carry; a webhook with more is answered 400 naming `alerts`.
    public var maxAlertsPerWebhook: Int
    /// The web configuration file in force (`--web.config.file`): TLS, `basic_auth_users`, response headers.
    /// `nil` serves plain HTTP with the flags' credentials only.
    public var webConfig: LiveWebConfig?

    /// Creates a configuration; every value has a default.
    public init(
        host: String = "0.0.0.0",
        port: Int = ReceiverConfiguration.defaultPort,
        authToken: String? = nil,
        basicAuth: BasicAuthCredentials? = nil,
        maxBodyBytes: Int = ReceiverConfiguration.defaultMaxBodyBytes,
        serverName: String? = nil,
        idleTimeout: Duration? = ReceiverConfiguration.defaultIdleTimeout,
        readTimeout: Duration? = ReceiverConfiguration.defaultReadTimeout,
        maxConnections: Int? = ReceiverConfiguration.defaultMaxConnections,
        maxWebhooksInFlight: Int = ReceiverConfiguration.defaultMaxWebhooksInFlight,
        maxAlertsPerWebhook: Int = ReceiverConfiguration.defaultMaxAlertsPerWebhook
    ) {
        self.host = host
        self.port = port
        self.authToken = authToken
        self.basicAuth = basicAuth
        self.maxBodyBytes = maxBodyBytes
        self.serverName = serverName
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
        self.maxConnections = maxConnections
        self.maxWebhooksInFlight = maxWebhooksInFlight
        self.maxAlertsPerWebhook = maxAlertsPerWebhook
    }
}

extension ReceiverConfiguration: CustomStringConvertible {
    /// A summary that says whether a token is set, never the token.
    public var description: String {
        "ReceiverConfiguration(host: \(host), port: \(port), authToken: \(authToken == nil ? "none" : "set"), "
            + "basicAuth: \(basicAuth.map { "user \($0.username)" } ?? "none"), "
            + "maxBodyBytes: \(maxBodyBytes), serverName: \(serverName ?? "none"), "
            + "idleTimeout: \(idleTimeout.map { "\($0)" } ?? "none"), readTimeout: \(readTimeout.map { "\($0)" } ?? "none"), "
            + "maxConnections: \(maxConnections.map(String.init) ?? "none"), maxWebhooksInFlight: \(maxWebhooksInFlight), "
            + "maxAlertsPerWebhook: \(maxAlertsPerWebhook))"
    }
}
