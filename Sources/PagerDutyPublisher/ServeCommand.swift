import ArgumentParser
import Foundation

/// `pagerduty-publisher serve`: runs the daemon.
///
/// Every option can also come from an environment variable (named in its help); a flag wins over the variable.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the daemon: receive Alertmanager webhooks and deliver them to PagerDuty.",
        discussion: """
            Without --routing-key (or --routing-key-file, or PAGERDUTY_ROUTING_KEY) the daemon refuses to \
            start, unless --dry-run is given: then events are logged instead of sent.
            """
    )

    @Option(help: "Receiver address HOST:PORT. [env: PAGERDUTY_PUBLISHER_LISTEN] (default: 0.0.0.0:9095)")
    var listen: String?

    @Option(name: .customLong("routing-key"), help: "Routing (integration) key of the default route. [env: PAGERDUTY_ROUTING_KEY]")
    var routingKey: String?

    @Option(name: .customLong("routing-key-file"), help: "File holding the routing key, e.g. a Kubernetes Secret mount. [env: PAGERDUTY_ROUTING_KEY_FILE]")
    var routingKeyFile: String?

    @Option(name: .customLong("events-url"), help: "Events API base URL; http only for loopback hosts. [env: PAGERDUTY_EVENTS_URL] (default: https://events.pagerduty.com; EU: https://events.eu.pagerduty.com)")
    var eventsURL: String?

    @OptionGroup var databaseOptions: DatabaseOptions

    @Option(name: .customLong("replica-name"), help: "This replica's name on a postgres:// database (leases, logs, metrics). [env: PAGERDUTY_PUBLISHER_REPLICA_NAME] (default: <hostname>-<pid>)")
    var replicaName: String?

    @Option(help: "YAML file with named routes, label matchers and severity mappings; reloaded on SIGHUP and when it or a key file changes. [env: PAGERDUTY_PUBLISHER_CONFIG]")
    var config: String?

    @Option(name: .customLong("config-check-interval"), help: "How often the configuration and key files are checked for changes. [env: PAGERDUTY_PUBLISHER_CONFIG_CHECK_INTERVAL] (default: 10s)")
    var configCheckInterval: String?

    @Option(name: .customLong("rate-limit"), help: "Requests per minute per routing key, in any 60 s. [env: PAGERDUTY_RATE_LIMIT] (default: 120)")
    var rateLimit: String?

    @Option(name: .customLong("auth-token"), help: "Require 'Authorization: Bearer TOKEN' on the receiver. [env: PAGERDUTY_PUBLISHER_AUTH_TOKEN]")
    var authToken: String?

    @Option(name: .customLong("auth-token-file"), help: "File holding the receiver's bearer token; re-read when it changes (the old token stays valid 60 s). [env: PAGERDUTY_PUBLISHER_AUTH_TOKEN_FILE]")
    var authTokenFile: String?

    @Option(name: .customLong("basic-auth-username"), help: "Also accept HTTP basic auth (Alertmanager's basic_auth) with this user name. [env: PAGERDUTY_PUBLISHER_BASIC_AUTH_USERNAME]")
    var basicAuthUsername: String?

    @Option(name: .customLong("basic-auth-password"), help: "The basic auth password. [env: PAGERDUTY_PUBLISHER_BASIC_AUTH_PASSWORD]")
    var basicAuthPassword: String?

    @Option(name: .customLong("basic-auth-password-file"), help: "File holding the basic auth password; re-read when it changes (the old one stays valid 60 s). [env: PAGERDUTY_PUBLISHER_BASIC_AUTH_PASSWORD_FILE]")
    var basicAuthPasswordFile: String?

    @Flag(name: .customLong("dry-run"), help: "Log each event instead of sending it to PagerDuty. [env: PAGERDUTY_PUBLISHER_DRY_RUN=true]")
    var dryRun = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical. [env: PAGERDUTY_PUBLISHER_LOG_LEVEL] (default: info)")
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: "json, logfmt or text. [env: PAGERDUTY_PUBLISHER_LOG_FORMAT] (default: json)")
    var logFormat: String?

    @Option(name: .customLong("max-body-size"), help: "Largest webhook body in bytes; larger ones get 413. [env: PAGERDUTY_PUBLISHER_MAX_BODY_SIZE] (default: 10485760)")
    var maxBodySize: String?

    // The receiver's limits.
    @Option(name: .customLong("idle-timeout"), help: "Close a kept-alive receiver connection idle this long between requests (0 = never). [env: PAGERDUTY_PUBLISHER_IDLE_TIMEOUT] (default: 2m)")
    var idleTimeout: String?

    @Option(name: .customLong("read-timeout"), help: "Close a receiver connection whose request has not arrived whole this long after the connection opened or the request began (0 = never). [env: PAGERDUTY_PUBLISHER_READ_TIMEOUT] (default: 30s)")
    var readTimeout: String?

    @Option(name: .customLong("max-connections"), help: "Most receiver connections open at once; more wait in the listen backlog (0 = no cap). [env: PAGERDUTY_PUBLISHER_MAX_CONNECTIONS] (default: 512)")
    var maxConnections: String?

    @Option(name: .customLong("max-webhooks-in-flight"), help: "Most webhooks and change events received at once; one more gets 503 with Retry-After. [env: PAGERDUTY_PUBLISHER_MAX_WEBHOOKS_IN_FLIGHT] (default: 16)")
    var maxWebhooksInFlight: String?

    @Option(name: .customLong("max-alerts-per-webhook"), help: "Most alerts in one webhook; more get 400 naming alerts. [env: PAGERDUTY_PUBLISHER_MAX_ALERTS_PER_WEBHOOK] (default: 10000)")
    var maxAlertsPerWebhook: String?

    @Option(name: .customLong("retrigger-interval"), help: "Send a still-firing alert's trigger again after this long (0 = never), e.g. 4h. [env: PAGERDUTY_PUBLISHER_RETRIGGER_INTERVAL] (default: 4h)")
    var retriggerInterval: String?

    @Option(name: .customLong("ledger-ttl"), help: "Forget an alert this long after a webhook last mentioned it, e.g. 24h. [env: PAGERDUTY_PUBLISHER_LEDGER_TTL] (default: 24h)")
    var ledgerTTL: String?

    @Option(name: .customLong("default-severity"), help: "Severity of alerts whose severity label is missing or unknown. [env: PAGERDUTY_PUBLISHER_DEFAULT_SEVERITY] (default: error)")
    var defaultSeverity: String?

    @Option(name: .customLong("retry-initial-delay"), help: "First retry delay after a 5xx, timeout or network error. [env: PAGERDUTY_PUBLISHER_RETRY_INITIAL_DELAY] (default: 1s)")
    var retryInitialDelay: String?

    @Option(name: .customLong("retry-max-delay"), help: "Longest retry delay (retries never stop). [env: PAGERDUTY_PUBLISHER_RETRY_MAX_DELAY] (default: 60s)")
    var retryMaxDelay: String?

    @Option(name: .customLong("request-timeout"), help: "Total timeout of one Events API request. [env: PAGERDUTY_PUBLISHER_REQUEST_TIMEOUT] (default: 30s)")
    var requestTimeout: String?

    @Option(name: .customLong("connect-timeout"), help: "Connect timeout of one Events API request. [env: PAGERDUTY_PUBLISHER_CONNECT_TIMEOUT] (default: 5s)")
    var connectTimeout: String?

    @Option(name: .customLong("alertmanager-url"), parsing: .singleValue, help: "Alertmanager to sync with through its API v2 (silences acknowledge, reconciliation resolves); repeat for each peer of an HA pair. [env: PAGERDUTY_PUBLISHER_ALERTMANAGER_URLS, comma-separated]")
    var alertmanagerURLs: [String] = []

    @Option(name: .customLong("alertmanager-poll-interval"), help: "Time between two reads of the Alertmanager API. [env: PAGERDUTY_PUBLISHER_ALERTMANAGER_POLL_INTERVAL] (default: 30s)")
    var alertmanagerPollInterval: String?

    @Option(name: .customLong("alertmanager-grace-period"), help: "Resolve an open incident whose alert no Alertmanager has reported for this long (counted only while all answer). [env: PAGERDUTY_PUBLISHER_ALERTMANAGER_GRACE_PERIOD] (default: 5m)")
    var alertmanagerGracePeriod: String?

    @Option(name: .customLong("alertmanager-bearer-token-file"), help: "File holding a bearer token for the Alertmanager API. [env: PAGERDUTY_PUBLISHER_ALERTMANAGER_BEARER_TOKEN[_FILE]]")
    var alertmanagerBearerTokenFile: String?

    @Option(name: .customLong("alertmanager-basic-auth-username"), help: "User name for basic auth on the Alertmanager API. [env: PAGERDUTY_PUBLISHER_ALERTMANAGER_BASIC_AUTH_USERNAME]")
    var alertmanagerBasicAuthUsername: String?

    @Option(name: .customLong("alertmanager-basic-auth-password-file"), help: "File holding the Alertmanager API's basic auth password. [env: PAGERDUTY_PUBLISHER_ALERTMANAGER_BASIC_AUTH_PASSWORD[_FILE]]")
    var alertmanagerBasicAuthPasswordFile: String?

    @Option(name: .customLong("alertmanager-ca-file"), help: "CA bundle to verify an https Alertmanager with, instead of the system's. [env: PAGERDUTY_PUBLISHER_ALERTMANAGER_CA_FILE]")
    var alertmanagerCAFile: String?

    @Option(name: .customLong("silenced-action"), help: "What a silence does to an open incident, for routes that do not say: acknowledge, resolve or nothing. [env: PAGERDUTY_PUBLISHER_SILENCED_ACTION] (default: acknowledge)")
    var silencedAction: String?

    @Option(name: .customLong("inhibited-action"), help: "What an inhibition does to an open incident, for routes that do not say: acknowledge, resolve or nothing. [env: PAGERDUTY_PUBLISHER_INHIBITED_ACTION] (default: nothing)")
    var inhibitedAction: String?

    @Option(name: .customLong("incident-per"), help: "One incident per alert or per Alertmanager group, for routes that do not say. [env: PAGERDUTY_PUBLISHER_INCIDENT_PER] (default: alert)")
    var incidentPer: String?

    @Option(name: .customLong("flap-threshold"), help: "An alert that resolves more than this many times within --flap-window is flapping (0 = off). [env: PAGERDUTY_PUBLISHER_FLAP_THRESHOLD] (default: 5)")
    var flapThreshold: String?

    @Option(name: .customLong("flap-window"), help: "The look-back window of flap detection. [env: PAGERDUTY_PUBLISHER_FLAP_WINDOW] (default: 1h)")
    var flapWindow: String?

    @Option(name: .customLong("pagerduty-webhook-secret-file"), parsing: .singleValue, help: "File holding the signing secret of a PagerDuty v3 webhook subscription (POST /v1/pagerduty), re-read on SIGHUP and when it changes; repeat for several subscriptions or during a rotation. Without it, /v1/pagerduty answers 404. [env: PAGERDUTY_PUBLISHER_PAGERDUTY_WEBHOOK_SECRET_FILES, comma-separated]")
    var pagerDutyWebhookSecretFiles: [String] = []

    @Option(name: .customLong("acknowledged-action"), help: "When a responder acknowledges an incident in PagerDuty, for routes that do not say: silence (the alert, in every --alertmanager-url, while it stays acknowledged) or nothing. Needs --pagerduty-webhook-secret-file. [env: PAGERDUTY_PUBLISHER_ACKNOWLEDGED_ACTION] (default: nothing)")
    var acknowledgedAction: String?

    @Option(name: .customLong("ack-silence-duration"), help: "How long a silence for an acknowledged incident lasts; it is extended while the incident stays acknowledged. [env: PAGERDUTY_PUBLISHER_ACK_SILENCE_DURATION] (default: 1h)")
    var ackSilenceDuration: String?

    @Option(name: .customLong("manual-resolve-action"), help: "When a responder resolves an incident in PagerDuty while its alert still fires, for routes that do not say: retrigger-after:DURATION, silence:DURATION or nothing. [env: PAGERDUTY_PUBLISHER_MANUAL_RESOLVE_ACTION] (default: nothing)")
    var manualResolveAction: String?

    @Option(name: .customLong("reopen-action"), help: "When a silence that acknowledged an incident ends and PagerDuty still says acknowledged, for routes that do not say: resolve-then-trigger (a new incident that pages) or nothing. [env: PAGERDUTY_PUBLISHER_REOPEN_ACTION] (default: nothing)")
    var reopenAction: String?

    @Option(name: .customLong("flap-resolve-hold"), help: "Damping: hold a flapping alert's resolve this long, dropping it if the alert fires again (0 = off). [env: PAGERDUTY_PUBLISHER_FLAP_RESOLVE_HOLD] (default: 0)")
    var flapResolveHold: String?

    @Option(name: .customLong("web.config.file"), help: "exporter-toolkit web configuration file: TLS (tls_server_config), bcrypt users (basic_auth_users), response headers (http_server_config.headers). Reloaded on SIGHUP and when it or its certificate, key or CA file changes; turning TLS on or off needs a restart. [env: PAGERDUTY_PUBLISHER_WEB_CONFIG_FILE]")
    var webConfigFile: String?
    @Flag(name: .customLong("otel"), help: "Export OpenTelemetry traces over OTLP, configured by the OTEL_* variables; on by itself when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set. [env: PAGERDUTY_PUBLISHER_OTEL=true]")
    var otel = false

    func run() async throws {
        let settings: ServeSettings
        do {
            settings = try ServeSettings(options: self, environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("pagerduty-publisher: \(error)\n".utf8))
            throw ExitCode(ServeSettings.configurationErrorExitCode)
        }
        try await Daemon(settings: settings).run()
    }
}
