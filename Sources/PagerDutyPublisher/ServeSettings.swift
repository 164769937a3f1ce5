import AlertmanagerModels
import Foundation
import Logging
import PagerDutyEvents
import PagerDutyWebhooks
import PublisherConfiguration
import PublisherCore
import PublisherReceiver
import PublisherTelemetry
import StructuredLogging

/// A setting that cannot be used, with a sentence saying how to fix it.
struct SettingsError: Error, CustomStringConvertible {
    var description: String
}

/// The receiver's connection and request limits, as ``ReceiverConfiguration`` takes them.
struct ReceiverLimits: Sendable {
    var idleTimeout: Duration?
    var readTimeout: Duration?
    var maxConnections: Int?
    var maxWebhooksInFlight: Int
    var maxAlertsPerWebhook: Int
}

/// The daemon's settings: flags first, then environment variables, then defaults; validated.
struct ServeSettings: Sendable {
    static let configurationErrorExitCode: Int32 = 78  // EX_CONFIG
    static let defaultEventsURL = "https://events.pagerduty.com"
    static let dryRunRoutingKey = "dry-run-routing-key-not-a-secret"

    var host: String
    var port: Int
    /// The default route's key; `nil` when routes come only from the configuration file.
    var routingKey: String?
    var configPath: String?
    /// `--web.config.file`: TLS, bcrypt users and response headers, in exporter-toolkit's format.
    var webConfigFile: String?
    /// The file the default route's key was read from, re-read on every reload.
    var routingKeyFile: String?
    var eventsURL: String
    /// The SQLite file, or the PostgreSQL database several replicas share.
    var database: DatabaseLocation
    /// This process's name among the replicas of a PostgreSQL store (leases, logs, metrics).
    var replicaName: String
    var rateLimit: Int
    var authToken: String?
    /// The file ``authToken`` was read from, re-read when it changes (`ReceiverCredentialFiles`).
    var authTokenFile: String?
    /// Basic auth credentials (user name, password) for the receiver.
    var basicAuth: (username: String, password: String)?
    /// The file the basic auth password was read from, re-read when it changes.
    var basicAuthPasswordFile: String?
    var dryRun: Bool
    /// Whether OpenTelemetry traces are exported (`--otel`, or an `OTEL_EXPORTER_OTLP_*ENDPOINT`).
    var tracing: Bool
    var logLevel: Logger.Level
    var logFormat: LogFormat
    var maxBodyBytes: Int
    /// The receiver's connection and request limits (idle and read timeouts, caps); `nil` timeouts are off.
    var receiverLimits: ReceiverLimits
    var ledgerPolicy: LedgerPolicy
    var defaultSeverity: Severity
    var retryPolicy: RetryPolicy
    var requestTimeout: Duration
    var connectTimeout: Duration
    var configCheckInterval: Duration
    /// What routes get for the settings they do not give themselves.
    var routeDefaults: RouteDefaults
    /// The Alertmanagers the sync reads; empty turns the sync off.
    var alertmanagers: [AlertmanagerEndpoint]
    var alertmanagerSync: AlertmanagerSyncConfiguration
    var alertmanagerBearerToken: String?
    var alertmanagerBasicAuth: (username: String, password: String)?
    var alertmanagerCAFile: String?
    var flapPolicy: FlapPolicy
    /// The signing secrets of PagerDuty's v3 webhook subscriptions; `nil` leaves `/v1/pagerduty` off.
    var pagerDutyWebhookSecrets: WebhookSigningSecrets?
    /// The files ``pagerDutyWebhookSecrets`` were read from (re-read on reload).
    var pagerDutyWebhookSecretFiles: [String] = []

    /// The credentials for the Alertmanager API.
    var alertmanagerCredentials: AlertmanagerCredentials {
        if let token = alertmanagerBearerToken { return .bearer(token: token) }
        if let basic = alertmanagerBasicAuth { return .basic(username: basic.username, password: basic.password) }
        return .none
    }

    init(options: ServeCommand, environment: [String: String]) throws {
        func value(_ flag: String?, _ variable: String) -> String? {
            if let flag, !flag.isEmpty { return flag }
            if let fromEnvironment = environment[variable], !fromEnvironment.isEmpty { return fromEnvironment }
            return nil
        }
        func duration(_ flag: String?, _ variable: String, _ fallback: Duration, name: String) throws -> Duration {
            guard let text = value(flag, variable) else { return fallback }
            do throws(DurationText.Problem) {
                return try DurationText.duration(text)
            } catch {
                throw SettingsError(description: "\(name) \"\(text)\" is not a usable duration: \(error.reason) (flag or \(variable)).")
            }
        }
        // A secret given at all (a flag, even empty, or a variable that is set, even to "") must not be blank.
        func given(_ flag: String?, _ variable: String) -> String? { flag ?? environment[variable] }
        func integer(_ flag: String?, _ variable: String, _ fallback: Int, name: String, minimum: Int) throws -> Int {
            guard let text = value(flag, variable) else { return fallback }
            guard let parsed = Int(text), parsed >= minimum else {
                throw SettingsError(description: "\(name) \"\(text)\" must be a whole number of at least \(minimum) (flag or \(variable)).")
            }
            return parsed
        }

        let listen = value(options.listen, "PAGERDUTY_PUBLISHER_LISTEN") ?? "0.0.0.0:9095"
        (host, port) = try Self.parseListen(listen)

        dryRun = options.dryRun || ["1", "true", "yes"].contains(environment["PAGERDUTY_PUBLISHER_DRY_RUN"]?.lowercased() ?? "")
        tracing = OTelTracing.isEnabled(
            flag: options.otel || ["1", "true", "yes"].contains(environment["PAGERDUTY_PUBLISHER_OTEL"]?.lowercased() ?? ""),
            environment: environment)
        let key = try Self.secret(
            direct: value(options.routingKey, "PAGERDUTY_ROUTING_KEY"),
            file: value(options.routingKeyFile, "PAGERDUTY_ROUTING_KEY_FILE"),
            what: "routing key", sources: "--routing-key[-file] or PAGERDUTY_ROUTING_KEY[_FILE]"
        )
        if let key {
            guard EventLimits.isWellFormedRoutingKey(key) else {
                throw SettingsError(description: "The routing key must be the \(EventLimits.routingKeyLength)-character integration key of an Events API v2 integration; the one given has \(key.count) characters.")
            }
            routingKey = key
        } else if dryRun {
            routingKey = Self.dryRunRoutingKey
        } else if value(options.config, "PAGERDUTY_PUBLISHER_CONFIG") != nil {
            routingKey = nil
        } else {
            throw SettingsError(description: "No PagerDuty routing key: set --routing-key, --routing-key-file or PAGERDUTY_ROUTING_KEY to your Events API v2 integration key (or define routes with --config), or pass --dry-run to log events instead of sending them.")
        }

        configPath = value(options.config, "PAGERDUTY_PUBLISHER_CONFIG")
        webConfigFile = value(options.webConfigFile, "PAGERDUTY_PUBLISHER_WEB_CONFIG_FILE")
        routingKeyFile = value(options.routingKey, "PAGERDUTY_ROUTING_KEY") == nil
            ? value(options.routingKeyFile, "PAGERDUTY_ROUTING_KEY_FILE") : nil
        eventsURL = value(options.eventsURL, "PAGERDUTY_EVENTS_URL") ?? Self.defaultEventsURL
        database = try options.databaseOptions.location(environment: environment)
        replicaName = value(options.replicaName, "PAGERDUTY_PUBLISHER_REPLICA_NAME")
            ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        rateLimit = try integer(options.rateLimit, "PAGERDUTY_RATE_LIMIT", 120, name: "The rate limit", minimum: 1)
        authTokenFile = given(options.authTokenFile, "PAGERDUTY_PUBLISHER_AUTH_TOKEN_FILE")
        authToken = try Self.secret(
            direct: given(options.authToken, "PAGERDUTY_PUBLISHER_AUTH_TOKEN"), file: authTokenFile,
            what: "auth token", sources: "--auth-token[-file] or PAGERDUTY_PUBLISHER_AUTH_TOKEN[_FILE]"
        )

        basicAuthPasswordFile = given(options.basicAuthPasswordFile, "PAGERDUTY_PUBLISHER_BASIC_AUTH_PASSWORD_FILE")
        let basicPassword = try Self.secret(
            direct: given(options.basicAuthPassword, "PAGERDUTY_PUBLISHER_BASIC_AUTH_PASSWORD"), file: basicAuthPasswordFile,
            what: "basic auth password", sources: "--basic-auth-password[-file] or PAGERDUTY_PUBLISHER_BASIC_AUTH_PASSWORD[_FILE]"
        )
        switch (value(options.basicAuthUsername, "PAGERDUTY_PUBLISHER_BASIC_AUTH_USERNAME"), basicPassword) {
        case (let username?, let password?):
            guard !username.contains(":") else {
                throw SettingsError(description: "The basic auth user name cannot contain ':'.")
            }
            basicAuth = (username, password)
        case (nil, nil):
            basicAuth = nil
        default:
            throw SettingsError(description: "Basic auth needs both a user name (--basic-auth-username) and a password (--basic-auth-password or --basic-auth-password-file).")
        }

        let levelText = value(options.logLevel, "PAGERDUTY_PUBLISHER_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw SettingsError(description: "The log level \"\(levelText)\" is unknown; use trace, debug, info, notice, warning, error or critical.")
        }
        logLevel = level
        let formatText = value(options.logFormat, "PAGERDUTY_PUBLISHER_LOG_FORMAT") ?? "json"
        guard let format = LogFormat(rawValue: formatText.lowercased()) else {
            throw SettingsError(description: "The log format \"\(formatText)\" is unknown; use json, logfmt or text.")
        }
        logFormat = format

        maxBodyBytes = try integer(options.maxBodySize, "PAGERDUTY_PUBLISHER_MAX_BODY_SIZE", 10 * 1024 * 1024, name: "The maximum body size", minimum: 1024)
        // The receiver's limits (issue 12): 0 turns a timeout or the connection cap off.
        let idleTimeout = try duration(options.idleTimeout, "PAGERDUTY_PUBLISHER_IDLE_TIMEOUT", ReceiverConfiguration.defaultIdleTimeout, name: "The idle timeout")
        let readTimeout = try duration(options.readTimeout, "PAGERDUTY_PUBLISHER_READ_TIMEOUT", ReceiverConfiguration.defaultReadTimeout, name: "The read timeout")
        let maxConnections = try integer(options.maxConnections, "PAGERDUTY_PUBLISHER_MAX_CONNECTIONS", ReceiverConfiguration.defaultMaxConnections, name: "The connection cap", minimum: 0)
        receiverLimits = ReceiverLimits(
            idleTimeout: idleTimeout == .zero ? nil : idleTimeout,
            readTimeout: readTimeout == .zero ? nil : readTimeout,
            maxConnections: maxConnections == 0 ? nil : maxConnections,
            maxWebhooksInFlight: try integer(options.maxWebhooksInFlight, "PAGERDUTY_PUBLISHER_MAX_WEBHOOKS_IN_FLIGHT", ReceiverConfiguration.defaultMaxWebhooksInFlight, name: "The webhooks in flight cap", minimum: 1),
            maxAlertsPerWebhook: try integer(options.maxAlertsPerWebhook, "PAGERDUTY_PUBLISHER_MAX_ALERTS_PER_WEBHOOK", ReceiverConfiguration.defaultMaxAlertsPerWebhook, name: "The alerts per webhook cap", minimum: 1)
        )
        let retrigger = try duration(options.retriggerInterval, "PAGERDUTY_PUBLISHER_RETRIGGER_INTERVAL", .seconds(4 * 3600), name: "The retrigger interval")
        let ttl = try duration(options.ledgerTTL, "PAGERDUTY_PUBLISHER_LEDGER_TTL", .seconds(24 * 3600), name: "The ledger TTL")
        ledgerPolicy = LedgerPolicy(entryTTL: ttl, retriggerInterval: retrigger == .zero ? nil : retrigger)

        let severityText = value(options.defaultSeverity, "PAGERDUTY_PUBLISHER_DEFAULT_SEVERITY") ?? "error"
        guard let severity = Severity(rawValue: severityText.lowercased()) else {
            throw SettingsError(description: "The default severity \"\(severityText)\" is not one of critical, error, warning, info.")
        }
        defaultSeverity = severity

        let initialDelay = try duration(options.retryInitialDelay, "PAGERDUTY_PUBLISHER_RETRY_INITIAL_DELAY", .seconds(1), name: "The initial retry delay")
        let maximumDelay = try duration(options.retryMaxDelay, "PAGERDUTY_PUBLISHER_RETRY_MAX_DELAY", .seconds(60), name: "The maximum retry delay")
        guard initialDelay > .zero, maximumDelay >= initialDelay else {
            throw SettingsError(description: "Retry delays must be positive and the maximum at least the initial delay.")
        }
        retryPolicy = RetryPolicy(initialDelay: initialDelay, maximumDelay: maximumDelay)
        requestTimeout = try duration(options.requestTimeout, "PAGERDUTY_PUBLISHER_REQUEST_TIMEOUT", .seconds(30), name: "The request timeout")
        configCheckInterval = try duration(options.configCheckInterval, "PAGERDUTY_PUBLISHER_CONFIG_CHECK_INTERVAL", .seconds(10), name: "The configuration check interval")
        connectTimeout = try duration(options.connectTimeout, "PAGERDUTY_PUBLISHER_CONNECT_TIMEOUT", .seconds(5), name: "The connect timeout")

        func choice<Choice: RawRepresentable<String> & CaseIterable>(
            _ flag: String?, _ variable: String, _ fallback: Choice, name: String
        ) throws -> Choice {
            guard let text = value(flag, variable) else { return fallback }
            guard let parsed = Choice(rawValue: text.lowercased()) else {
                let known = Choice.allCases.map(\.rawValue).joined(separator: ", ")
                throw SettingsError(description: "\(name) \"\(text)\" is not one of \(known) (flag or \(variable)).")
            }
            return parsed
        }
        routeDefaults = RouteDefaults(
            severity: severity,
            mutePolicy: MutePolicy(
                silenced: try choice(options.silencedAction, "PAGERDUTY_PUBLISHER_SILENCED_ACTION", MuteAction.acknowledge, name: "The silenced action"),
                inhibited: try choice(options.inhibitedAction, "PAGERDUTY_PUBLISHER_INHIBITED_ACTION", MuteAction.nothing, name: "The inhibited action")
            ),
            incidentPer: try choice(options.incidentPer, "PAGERDUTY_PUBLISHER_INCIDENT_PER", IncidentGrouping.alert, name: "--incident-per"),
            feedbackPolicy: FeedbackPolicy(
                acknowledged: try choice(options.acknowledgedAction, "PAGERDUTY_PUBLISHER_ACKNOWLEDGED_ACTION", AcknowledgedAction.nothing, name: "--acknowledged-action"),
                manualResolve: try Self.manualResolveAction(value(options.manualResolveAction, "PAGERDUTY_PUBLISHER_MANUAL_RESOLVE_ACTION")),
                reopen: try choice(options.reopenAction, "PAGERDUTY_PUBLISHER_REOPEN_ACTION", ReopenAction.nothing, name: "--reopen-action")
            )
        )

        let alertmanagerURLs =
            options.alertmanagerURLs.isEmpty
            ? (environment["PAGERDUTY_PUBLISHER_ALERTMANAGER_URLS"] ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            : options.alertmanagerURLs
        var endpoints: [AlertmanagerEndpoint] = []
        for url in alertmanagerURLs {
            do throws(AlertmanagerAPIError) {
                endpoints.append(try AlertmanagerEndpoint(url: url))
            } catch {
                throw SettingsError(description: "--alertmanager-url: \(error.reason)")
            }
        }
        alertmanagers = endpoints

        let secretFiles =
            options.pagerDutyWebhookSecretFiles.isEmpty
            ? (environment["PAGERDUTY_PUBLISHER_PAGERDUTY_WEBHOOK_SECRET_FILES"] ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            : options.pagerDutyWebhookSecretFiles
        if secretFiles.isEmpty {
            pagerDutyWebhookSecrets = nil
        } else {
            do throws(WebhookSecretError) {
                pagerDutyWebhookSecrets = try WebhookSigningSecrets.load(files: secretFiles)
                pagerDutyWebhookSecretFiles = secretFiles
            } catch {
                throw SettingsError(
                    description: "--pagerduty-webhook-secret-file: \(error.reason) (flag or PAGERDUTY_PUBLISHER_PAGERDUTY_WEBHOOK_SECRET_FILES).")
            }
        }
        alertmanagerSync = AlertmanagerSyncConfiguration(
            pollInterval: try duration(options.alertmanagerPollInterval, "PAGERDUTY_PUBLISHER_ALERTMANAGER_POLL_INTERVAL", .seconds(30), name: "The Alertmanager poll interval"),
            gracePeriod: try duration(options.alertmanagerGracePeriod, "PAGERDUTY_PUBLISHER_ALERTMANAGER_GRACE_PERIOD", .seconds(300), name: "The Alertmanager grace period"),
            acknowledgedSilenceDuration: try duration(options.ackSilenceDuration, "PAGERDUTY_PUBLISHER_ACK_SILENCE_DURATION", .seconds(3600), name: "--ack-silence-duration")
        )
        guard alertmanagerSync.pollInterval > .zero else {
            throw SettingsError(description: "The Alertmanager poll interval must be positive.")
        }
        guard alertmanagerSync.acknowledgedSilenceDuration >= .seconds(60) else {
            throw SettingsError(
                description: "--ack-silence-duration must be at least 1m: the silence is extended at half of it (flag or PAGERDUTY_PUBLISHER_ACK_SILENCE_DURATION).")
        }
        alertmanagerBearerToken = try Self.secret(
            direct: environment["PAGERDUTY_PUBLISHER_ALERTMANAGER_BEARER_TOKEN"],
            file: given(options.alertmanagerBearerTokenFile, "PAGERDUTY_PUBLISHER_ALERTMANAGER_BEARER_TOKEN_FILE"),
            what: "Alertmanager bearer token", sources: "--alertmanager-bearer-token-file or PAGERDUTY_PUBLISHER_ALERTMANAGER_BEARER_TOKEN[_FILE]"
        )
        let alertmanagerPassword = try Self.secret(
            direct: environment["PAGERDUTY_PUBLISHER_ALERTMANAGER_BASIC_AUTH_PASSWORD"],
            file: given(options.alertmanagerBasicAuthPasswordFile, "PAGERDUTY_PUBLISHER_ALERTMANAGER_BASIC_AUTH_PASSWORD_FILE"),
            what: "Alertmanager basic auth password",
            sources: "--alertmanager-basic-auth-password-file or PAGERDUTY_PUBLISHER_ALERTMANAGER_BASIC_AUTH_PASSWORD[_FILE]"
        )
        switch (value(options.alertmanagerBasicAuthUsername, "PAGERDUTY_PUBLISHER_ALERTMANAGER_BASIC_AUTH_USERNAME"), alertmanagerPassword) {
        case (let username?, let password?): alertmanagerBasicAuth = (username, password)
        case (nil, nil): alertmanagerBasicAuth = nil
        default:
            throw SettingsError(description: "Basic auth on the Alertmanager API needs both --alertmanager-basic-auth-username and --alertmanager-basic-auth-password-file.")
        }
        if alertmanagerBearerToken != nil && alertmanagerBasicAuth != nil {
            throw SettingsError(description: "Use either a bearer token or basic auth for the Alertmanager API, not both.")
        }
        alertmanagerCAFile = value(options.alertmanagerCAFile, "PAGERDUTY_PUBLISHER_ALERTMANAGER_CA_FILE")

        let flapThreshold = try integer(options.flapThreshold, "PAGERDUTY_PUBLISHER_FLAP_THRESHOLD", 5, name: "The flap threshold", minimum: 0)
        let flapWindow = try duration(options.flapWindow, "PAGERDUTY_PUBLISHER_FLAP_WINDOW", .seconds(3600), name: "The flap window")
        let resolveHold = try duration(options.flapResolveHold, "PAGERDUTY_PUBLISHER_FLAP_RESOLVE_HOLD", .zero, name: "The flap resolve hold")
        flapPolicy = FlapPolicy(
            threshold: flapThreshold == 0 ? nil : flapThreshold,
            window: flapWindow,
            resolveHold: resolveHold == .zero ? nil : resolveHold
        )
    }

    /// `--manual-resolve-action`'s value: `retrigger-after:DURATION`, `silence:DURATION` or `nothing` (default).
    static func manualResolveAction(_ text: String?) throws -> ManualResolveAction {
        guard let text else { return .nothing }
        guard let action = ManualResolveAction(text: text.lowercased(), parseDuration: { DurationText.parse(String($0)) }) else {
            throw SettingsError(
                description: "--manual-resolve-action \"\(text)\" is not one of \(ManualResolveAction.forms), with a positive duration such as 10m (flag or PAGERDUTY_PUBLISHER_MANUAL_RESOLVE_ACTION).")
        }
        return action
    }

    /// Reads a secret given directly or as a file (surrounding white space removed). Both at once is an error,
    /// and so is a secret, or a file name, that is given but empty or blank: fail closed, never "no auth".
    static func secret(direct: String?, file: String?, what: String, sources: String) throws -> String? {
        switch (direct, file) {
        case (.some, .some):
            throw SettingsError(description: "Give the \(what) either directly or as a file, not both (\(sources)).")
        case (let direct?, nil):
            let text = direct.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else {
                throw SettingsError(description: "The \(what) is empty or blank; give a real value or unset it (\(sources)).")
            }
            return text
        case (nil, let path?):
            guard !path.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw SettingsError(description: "The \(what) file name is empty; give the file's path or unset it (\(sources)).")
            }
            return try SecretFile.read(path, what: what)
        case (nil, nil):
            return nil
        }
    }

    /// Splits `HOST:PORT`, `[::1]:PORT` or `:PORT`.
    static func parseListen(_ text: String) throws -> (String, Int) {
        let invalid = SettingsError(description: "The listen address \"\(text)\" is not HOST:PORT (e.g. 0.0.0.0:9095 or [::1]:9095).")
        guard let colon = text.lastIndex(of: ":") else { throw invalid }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else { throw invalid }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}
