/// Where and how the Alertmanager receiver listens.
public struct ReceiverConfiguration: Sendable {
    /// The default port, 9095: unassigned among Prometheus' well-known exporter ports near Alertmanager's 9093.
    public static let defaultPort = 9095
    /// The default body limit, 10 MiB: a 1,000-alert webhook with generous labels and annotations is 2–5 MiB.
    public static let defaultMaxBodyBytes = 10 * 1024 * 1024

    /// The address to bind; `0.0.0.0` (every IPv4 interface) by default.
    public var host: String
    /// The TCP port to bind; `0` asks the system for a free port (reported through `onServerRunning`).
    public var port: Int
    /// When set, `POST` endpoints require `Authorization: Bearer <authToken>`; `nil` accepts every request.
    /// Health, readiness and metrics endpoints never require it. Never logged or echoed.
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

    /// Creates a configuration; every value has a default.
    public init(
        host: String = "0.0.0.0",
        port: Int = ReceiverConfiguration.defaultPort,
        authToken: String? = nil,
        basicAuth: BasicAuthCredentials? = nil,
        maxBodyBytes: Int = ReceiverConfiguration.defaultMaxBodyBytes,
        serverName: String? = nil
    ) {
        self.host = host
        self.port = port
        self.authToken = authToken
        self.basicAuth = basicAuth
        self.maxBodyBytes = maxBodyBytes
        self.serverName = serverName
    }
}

extension ReceiverConfiguration: CustomStringConvertible {
    /// A summary that says whether a token is set, never the token.
    public var description: String {
        "ReceiverConfiguration(host: \(host), port: \(port), authToken: \(authToken == nil ? "none" : "set"), "
            + "basicAuth: \(basicAuth.map { "user \($0.username)" } ?? "none"), "
            + "maxBodyBytes: \(maxBodyBytes), serverName: \(serverName ?? "none"))"
    }
}
