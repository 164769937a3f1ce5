import CurlHTTP
import AlertmanagerModels
import ArgumentParser
import Foundation
import Logging
import PagerDutyEvents
import Prometheus
import PublisherConfiguration
import PublisherCore
import PublisherReceiver
import PublisherSQLite
import PublisherWebConfig
import PublisherTelemetry
import ServiceLifecycle
import StructuredLogging

/// Composes the daemon from its parts and runs them as one ServiceGroup (graceful shutdown on SIGTERM/SIGINT).
struct Daemon {
    let settings: ServeSettings

    func run() async throws {
        // Before anything else touches the database: one `serve` per SQLite file, for the process's life.
        var databaseLock: DatabaseLock?
        if let path = settings.database.sqlitePath {
            do throws(DatabaseLockError) {
                databaseLock = try DatabaseLock(databasePath: path)
            } catch {
                FileHandle.standardError.write(Data("pagerduty-publisher: \(error.reason)\n".utf8))
                throw ExitCode(ServeSettings.configurationErrorExitCode)
            }
        }
        defer { databaseLock?.release() }
        var databasePassword: String?
        if case .postgres(let url, _, _) = settings.database { databasePassword = DatabaseLocation.passwordInURL(url) }
        let redactor = SecretRedactor(
            secrets: [
                settings.routingKey, settings.authToken, settings.basicAuth?.password, settings.alertmanagerBearerToken,
                settings.alertmanagerBasicAuth?.password, databasePassword,
            ].compactMap { $0 } + OTelTracing.headerSecrets(in: ProcessInfo.processInfo.environment))
        let sink = StandardOutputSink()
        LoggingSystem.bootstrap(
            StructuredLogHandler.bootstrap(format: settings.logFormat, level: settings.logLevel, redactor: redactor, sink: sink)
        )
        var logger = Logger(label: "pagerduty-publisher")
        logger.logLevel = settings.logLevel
        // Before any span starts. Off, nothing is bootstrapped and the Tracing API's no-op tracer stays.
        var tracingService: (any Service)?
        if settings.tracing {
            do throws(OTelTracingError) {
                tracingService = try OTelTracing.bootstrap(
                    environment: ProcessInfo.processInfo.environment, logger: Logger(label: "pagerduty-publisher.otel"))
            } catch {
                FileHandle.standardError.write(Data("pagerduty-publisher: \(error.reason)\n".utf8))
                throw ExitCode(ServeSettings.configurationErrorExitCode)
            }
        }

        let registry = PrometheusCollectorRegistry()
        let metricsFactory = PrometheusMetricsFactory(registry: registry)


        let clock = SystemClock()
        let defaultRoute = settings.routingKey.map {
            Route(
                name: RouteTable.defaultRouteName, routingKey: $0, mutePolicy: settings.routeDefaults.mutePolicy,
                incidentPer: settings.routeDefaults.incidentPer, feedbackPolicy: settings.routeDefaults.feedbackPolicy)
        }
        let routeConfiguration: RouteConfiguration
        do {
            routeConfiguration = try RouteConfiguration.load(
                path: settings.configPath, defaultRoute: defaultRoute, defaults: settings.routeDefaults)
        } catch {
            FileHandle.standardError.write(Data("pagerduty-publisher: the configuration has problems:\n\(error)\n".utf8))
            throw ExitCode(ServeSettings.configurationErrorExitCode)
        }
        for route in routeConfiguration.routes { redactor.register(route.routingKey) }
        let webConfig: LiveWebConfig?
        do {
            webConfig = try settings.webConfigFile.map { LiveWebConfig(path: $0, initial: try WebConfigLoader.load(path: $0)) }
        } catch {
            FileHandle.standardError.write(Data("pagerduty-publisher: the web configuration has problems:\n\(error)\n".utf8))
            throw ExitCode(ServeSettings.configurationErrorExitCode)
        }
        let routes = RouteTable(routes: routeConfiguration.routes, defaultRoute: defaultRoute?.name)
        let signal = WorkSignal()
        let opened = try await StoreBootstrap.open(
            settings.database, replica: settings.replicaName, signal: signal, knownRoutes: { routes.names },
            metricsFactory: metricsFactory, redactor: redactor, logger: logger)
        defer { opened.close() }
        let store = opened.store
        let ledger = LedgerCache()
        let metrics = PublisherMetrics(factory: metricsFactory, routes: routes.names)
        let maintenance = LedgerMaintenance(
            store: store, ledger: ledger, policy: settings.ledgerPolicy, clock: clock, logger: logger
        )
        try await maintenance.load()

        let transport: any HTTPTransport
        if settings.dryRun {
            let dryRunLogger = logger
            transport = DryRunTransport { url, body in
                dryRunLogger.info(
                    "Dry run: event not sent",
                    metadata: ["url": "\(url)", "event": "\(String(decoding: body, as: UTF8.self))"]
                )
            }
        } else {
            transport = CurlHTTPTransport(
                configuration: CurlTransportConfiguration(
                    userAgent: "pagerduty-publisher/\(PublisherVersion.current)",
                    connectTimeout: settings.connectTimeout,
                    totalTimeout: settings.requestTimeout
                )
            )
        }
        let client: EventsAPIClient
        do {
            client = try EventsAPIClient(baseURL: settings.eventsURL, transport: transport)
        } catch {
            FileHandle.standardError.write(Data("pagerduty-publisher: \(error.reason)\n".utf8))
            throw ExitCode(ServeSettings.configurationErrorExitCode)
        }

        // Everything that changes the ledger takes this gate: webhooks, the Alertmanager sync, flap damping.
        let ledgerGate = AsyncGate()
        let flaps = FlapDetector(policy: settings.flapPolicy)
        let mapper = EventMapper(severityMapping: SeverityMapping(defaultSeverity: settings.defaultSeverity))
        let publisher = AlertPublisher(
            store: store,
            routes: routes,
            ledger: ledger,
            mapper: mapper,
            policy: settings.ledgerPolicy,
            clock: clock,
            signal: signal,
            logger: logger,
            flaps: flaps,
            gate: ledgerGate
        )
        let damping = FlapDamping(
            store: store, ledger: ledger, flaps: flaps, clock: clock, signal: signal, metrics: metrics,
            gate: ledgerGate, logger: logger
        )
        let lanes = LaneStatusBoard()
        let dispatcher = Dispatcher(
            store: store,
            routes: routes,
            client: client,
            configuration: DispatcherConfiguration(rateLimitPerMinute: settings.rateLimit, retryPolicy: settings.retryPolicy),
            clock: clock,
            signal: signal,
            metrics: metrics,
            ownership: opened.ownership,
            statusBoard: lanes,
            logger: logger
        )
        let sync: AlertmanagerSync?
        if settings.alertmanagers.isEmpty {
            sync = nil
        } else {
            let clients = makeAlertmanagerClients()
            sync = AlertmanagerSync(
                sources: clients,
                store: store, routes: routes, ledger: ledger, mapper: mapper, policy: settings.ledgerPolicy,
                configuration: settings.alertmanagerSync, clock: clock, signal: signal, metrics: metrics,
                gate: ledgerGate, ownership: opened.ownership, silencers: clients, logger: logger
            )
        }
        var statusReport: (@Sendable () async throws -> StatusReport)?
        if let administered = store as? any PublisherStore & QueueAdministration {
            let reporter = StatusReporter(
                version: PublisherVersion.current, store: administered, routes: routes, lanes: lanes,
                rateLimit: settings.rateLimit, alertmanagers: { sync?.alertmanagerStatuses() ?? [] }, clock: clock)
            statusReport = { try await reporter.report() }
        }
        let credentials = ReceiverCredentials(
            token: settings.authToken,
            basic: settings.basicAuth.map { BasicAuthCredentials(username: $0.username, password: $0.password) })
        let credentialFiles = ReceiverCredentialFiles(settings: settings, credentials: credentials, redactor: redactor)
        let webhookSecretFiles = settings.pagerDutyWebhookSecrets.map {
            WebhookSecretFiles(files: settings.pagerDutyWebhookSecretFiles, initial: $0)
        }
        let reloader = ConfigReloader(
            configPath: settings.configPath, defaultRoute: defaultRoute, defaultKeyFile: settings.routingKeyFile,
            defaults: settings.routeDefaults,
            routes: routes, redactor: redactor, signal: signal, checkInterval: settings.configCheckInterval,
            logger: logger, watchedFiles: routeConfiguration.watchedFiles, credentialFiles: credentialFiles,
            webConfig: webConfig.map(WebConfigReloads.init(live:)), webhookSecretFiles: webhookSecretFiles
        )
        let gauges = QueueGauges(store: store, ledger: ledger, metrics: metrics, clock: clock)
        let receiverLogger = logger
        let application = Receiver.makeApplication(
            configuration: ReceiverConfiguration(
                host: settings.host,
                port: settings.port,
                authToken: settings.authToken,
                basicAuth: settings.basicAuth.map { BasicAuthCredentials(username: $0.username, password: $0.password) },
                maxBodyBytes: settings.maxBodyBytes,
                idleTimeout: settings.receiverLimits.idleTimeout,
                readTimeout: settings.receiverLimits.readTimeout,
                maxConnections: settings.receiverLimits.maxConnections,
                maxWebhooksInFlight: settings.receiverLimits.maxWebhooksInFlight,
                maxAlertsPerWebhook: settings.receiverLimits.maxAlertsPerWebhook
            ).withCredentials(credentials).withWebConfig(webConfig),
            ingestor: publisher,
            changeEvents: ChangeEventPublisher(store: store, routes: routes, clock: clock, signal: signal, logger: logger),
            readiness: StoreReadiness(store: store),
            metrics: {
                await gauges.refresh()
                return registry.emitToString()
            },
            pagerDutyWebhooks: webhookSecretFiles.map { files in
                PagerDutyWebhookSettings(
                    secrets: files.inForce,
                    receiver: IncidentFeedback(store: store, ledger: ledger, gate: ledgerGate, clock: clock, logger: logger),
                    recordOutcome: { eventType, result in metrics.recordInboundWebhook(eventType: eventType, result: result) },
                    now: { clock.now })
            },
            statusReport: statusReport,
            logger: logger,
            onServerRunning: { port in
                receiverLogger.info(
                    "Receiver listening",
                    metadata: [
                        "host": "\(settings.host)", "port": "\(port)", "dry_run": "\(settings.dryRun)",
                        "tls": "\(webConfig?.servesTLS ?? false)",
                    ]
                )
            }
        )

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = opened.services.map { .init(service: $0) }
        // First, so it is shut down last: the spans of everything else's shutdown are exported before it stops.
        if let tracingService { services.insert(.init(service: tracingService), at: 0) }
        services += [
            .init(service: dispatcher),
            .init(service: maintenance),
            .init(service: damping),
            .init(service: reloader),
        ]
        if let sync { services.append(.init(service: sync)) }
        services.append(.init(service: application))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        logger.info(
            "pagerduty-publisher starting",
            metadata: [
                "version": "\(PublisherVersion.current)", "database": "\(settings.database)", "replica": "\(settings.replicaName)",
                "events_url": "\(settings.eventsURL)", "rate_limit": "\(settings.rateLimit)",
                "tracing": "\(settings.tracing)",
                "auth": "\([settings.authToken == nil ? nil : "bearer", settings.basicAuth == nil ? nil : "basic"].compactMap { $0 }.joined(separator: "+").nonEmpty ?? "none")",
            ]
        )
        if credentials == nil && webConfig?.current.users == nil && !Self.isLoopback(settings.host) {
            logger.warning(
                "The receiver listens on a non-loopback address without authentication: anyone who reaches it can page. Set --auth-token-file (or basic auth), or listen on 127.0.0.1.",
                metadata: ["host": "\(settings.host)"]
            )
        }
        try await group.run()
        logger.info("pagerduty-publisher stopped")
    }

    /// One API client per configured Alertmanager, sharing a libcurl transport of their own (TLS ≥ 1.2 with
    /// verification, the optional CA file, short timeouts, room for large alert lists).
    private func makeAlertmanagerClients() -> [AlertmanagerAPIClient] {
        let transport = CurlHTTPTransport(
            configuration: CurlTransportConfiguration(
                userAgent: "pagerduty-publisher/\(PublisherVersion.current)",
                connectTimeout: .seconds(5),
                totalTimeout: .seconds(20),
                maxConcurrentRequests: settings.alertmanagers.count,
                caInfo: settings.alertmanagerCAFile,
                maxResponseBodyBytes: 128 << 20
            )
        )
        let http = CurlAlertmanagerHTTP(transport: transport)
        return settings.alertmanagers.map { endpoint in
            AlertmanagerAPIClient(endpoint: endpoint, credentials: settings.alertmanagerCredentials, http: http)
        }
    }

    /// Whether `host` only accepts connections from this machine: `localhost`, 127.0.0.0/8 or `::1`.
    static func isLoopback(_ host: String) -> Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1" { return true }
        let parts = lowered.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}

extension ReceiverConfiguration {
    /// The configuration with `credentials` as its live credentials.
    fileprivate func withCredentials(_ credentials: ReceiverCredentials?) -> ReceiverConfiguration {
        var configuration = self
        configuration.credentials = credentials
        return configuration
    }
}

extension ReceiverConfiguration {
    /// The configuration with `webConfig` as its web configuration in force.
    fileprivate func withWebConfig(_ webConfig: LiveWebConfig?) -> ReceiverConfiguration {
        var configuration = self
        configuration.webConfig = webConfig
        return configuration
    }
}

extension String {
    /// The string, or `nil` when it is empty.
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
