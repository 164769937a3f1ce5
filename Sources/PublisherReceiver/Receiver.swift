import Hummingbird
import HummingbirdCore
import Logging
import PublisherCore
import PublisherWebConfig

/// The HTTP receiver: Alertmanager webhooks and change events in, health, readiness and metrics out.
///
/// | method, path | answer |
/// |---|---|
/// | `POST /v1/alertmanager`, `POST /v1/alertmanager/{route}` | 202 once stored; 400, 401, 404, 413, 415, 503 with a JSON error |
/// | `POST /v1/change-events`, `POST /v1/change-events/{route}` | the same answers, for one change event |
/// | `POST /v1/pagerduty` | PagerDuty's signed v3 webhooks (see ``PagerDutyWebhookEndpoint``); 404 when not configured |
/// | `GET /healthz` | 200 `{"status":"ok"}` |
/// | `GET /readyz` | 200 or 503 with the list of checks |
/// | `GET /metrics` | 200, Prometheus text format 0.0.4; 401 when the web configuration names users and none is given |
///
/// With a web configuration (``ReceiverConfiguration/webConfig``): TLS on every connection when it sets
/// `tls_server_config` (re-made for new connections on reload), its `basic_auth_users` accepted beside the
/// token and basic credentials (see ``ReceiverAuthorization``), and its headers on every answer.
///
/// Other methods on these paths get 405 with `Allow`; other paths get 404.
///
/// Rules of both POST endpoints: `Content-Type` must be `application/json` (parameters such as `charset`
/// allowed); a request without it gets 415. At most `maxWebhooksInFlight` requests are received at once; one
/// more gets 503 with `Retry-After`. Answers given before the body was read (401, 413, 415, that 503) close the
/// connection. A webhook's `version` must be `"4"` or absent, it may carry at most `maxAlertsPerWebhook` alerts,
/// and each alert needs labels and a fingerprint (when given) of at most 255 characters. A change event needs a non-blank `summary`; `timestamp` must be
/// RFC 3339, `links[].href` absolute http(s) URLs and `custom_details` an object. Error bodies are
/// `{"status":"error","error":"<reason>","field":"<JSON path>"}`; `field` is present for 400s, and `$` names
/// the whole body. The bearer token (when configured) is compared in constant time, checked before anything
/// else, and never logged or echoed.
public enum Receiver {
    /// The webhook path for the default route; `/{route}` may follow.
    public static let webhookPath = "/v1/alertmanager"
    /// The change events path for the default route; `/{route}` may follow.
    public static let changeEventsPath = "/v1/change-events"
    /// PagerDuty's signed v3 webhooks; answered 404 unless signing secrets are configured.
    public static let pagerDutyWebhookPath = "/v1/pagerduty"

    /// Builds the router with every endpoint; use it directly in tests, or through ``makeApplication``.
    /// - Parameters:
    ///   - configuration: Token and body limit (host and port are not used here).
    ///   - ingestor: Stores accepted webhooks; called only for requests that passed every check.
    ///   - changeEvents: Stores accepted change events; called only for requests that passed every check.
    ///   - readiness: Answers `/readyz`.
    ///   - metrics: Produces the `/metrics` text.
    ///   - statusReport: Gathers what the status page at `/` shows; without it, `/` answers 404.
    ///   - logger: Receives one debug line per request, a warning per 4xx and an error per 503.
    public static func makeRouter(
        configuration: ReceiverConfiguration,
        ingestor: any AlertIngesting,
        changeEvents: any ChangeEventIngesting,
        readiness: any ReadinessChecking,
        metrics: @escaping @Sendable () async -> String,
        pagerDutyWebhooks: PagerDutyWebhookSettings? = nil,
        statusReport: (@Sendable () async throws -> StatusReport)? = nil,
        logger: Logger
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestLogMiddleware(logger: logger))
        let authorization = ReceiverAuthorization(
            flags: RequestAuthenticator(configuration: configuration), web: configuration.webConfig)

        let checks = IngestEndpoint(
            authorization: authorization,
            maxBodyBytes: configuration.maxBodyBytes,
            inFlight: InFlightLimit(limit: configuration.maxWebhooksInFlight),
            logger: logger
        )
        let webhook = AlertmanagerWebhookEndpoint(
            ingestor: ingestor, endpoint: checks, maxAlerts: configuration.maxAlertsPerWebhook)
        router.post(RouterPath(webhookPath)) { request, context in
            await webhook.respond(to: request, context: context, route: nil)
        }
        router.post(RouterPath(webhookPath + "/:route")) { request, context in
            await webhook.respond(to: request, context: context, route: IngestEndpoint.routeName(context))
        }
        let change = ChangeEventEndpoint(ingestor: changeEvents, endpoint: checks)
        router.post(RouterPath(changeEventsPath)) { request, context in
            await change.respond(to: request, context: context, route: nil)
        }
        router.post(RouterPath(changeEventsPath + "/:route")) { request, context in
            await change.respond(to: request, context: context, route: IngestEndpoint.routeName(context))
        }

        if let pagerDutyWebhooks {
            let pagerDuty = PagerDutyWebhookEndpoint(
                settings: pagerDutyWebhooks, maxBodyBytes: configuration.maxBodyBytes, inFlight: checks.inFlight,
                logger: logger)
            router.post(RouterPath(pagerDutyWebhookPath)) { request, context in
                await pagerDuty.respond(to: request, context: context)
            }
            MethodNotAllowed.register(on: router, paths: [pagerDutyWebhookPath], allowed: .post)
        }

        let operational = OperationalEndpoints(readiness: readiness, metrics: metrics, logger: logger)
        router.get("/healthz") { _, _ in operational.health() }
        router.get("/readyz") { _, context in await operational.ready(context: context) }
        router.get("/metrics") { request, _ in
            guard await authorization.allowsReading(request.headers[.authorization]) else {
                return ReceiverAuthorization.readRefusal
            }
            return await operational.exposition()
        }
        if let statusReport {
            let page = StatusPage(report: statusReport, logger: logger)
            router.get("/") { request, context in
                guard await authorization.allowsReading(request.headers[.authorization]) else {
                    return ReceiverAuthorization.readRefusal
                }
                return await page.respond(context: context)
            }
            MethodNotAllowed.register(on: router, paths: ["/"], allowed: .get)
        }

        MethodNotAllowed.register(
            on: router,
            paths: [webhookPath, webhookPath + "/:route", changeEventsPath, changeEventsPath + "/:route"],
            allowed: .post
        )
        MethodNotAllowed.register(on: router, paths: ["/healthz", "/readyz", "/metrics"], allowed: .get)
        return router
    }

    /// Builds the Hummingbird application serving
    /// ``makeRouter(configuration:ingestor:changeEvents:readiness:metrics:logger:)``
    /// on `configuration.host`:`configuration.port`.
    ///
    /// The application is a swift-service-lifecycle `Service`: run it in a `ServiceGroup`; on graceful
    /// shutdown it stops accepting connections and finishes the requests in flight.
    ///
    /// Connections are guarded by `configuration`'s idle timeout, read timeout and connection cap (see
    /// ``ReceiverHTTP1Channel``).
    /// - Parameter onServerRunning: Called once the socket is bound, with the bound port (useful with port 0).
    public static func makeApplication(
        configuration: ReceiverConfiguration,
        ingestor: any AlertIngesting,
        changeEvents: any ChangeEventIngesting,
        readiness: any ReadinessChecking,
        metrics: @escaping @Sendable () async -> String,
        pagerDutyWebhooks: PagerDutyWebhookSettings? = nil,
        statusReport: (@Sendable () async throws -> StatusReport)? = nil,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = makeRouter(
            configuration: configuration,
            ingestor: ingestor,
            changeEvents: changeEvents,
            readiness: readiness,
            metrics: metrics,
            pagerDutyWebhooks: pagerDutyWebhooks,
            statusReport: statusReport,
            logger: logger
        )
        let idleTimeout = configuration.idleTimeout
        let readTimeout = configuration.readTimeout
        let web = configuration.webConfig
        return Application(
            router: router,
            server: HTTPServerBuilder { responder -> any ServerChildChannel in
                let http1 = ReceiverHTTP1Channel(
                    responder: responder, idleTimeout: idleTimeout, readTimeout: readTimeout, webConfig: web,
                    logger: logger)
                // TLS is on or off for the process's life (see LiveWebConfig); its settings follow reloads.
                if let web, web.servesTLS { return ReloadingTLSChannel(base: http1, web: web) }
                return http1
            },
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: configuration.serverName,
                availableConnectionsDelegate: configuration.maxConnections.map {
                    MaximumAvailableConnections($0, logger: logger)
                }
            ),
            onServerRunning: { channel in
                await onServerRunning(channel.localAddress?.port ?? configuration.port)
            },
            logger: logger
        )
    }
}

/// Answers 405 with an `Allow` header for the usual methods a path does not support.
enum MethodNotAllowed {
    private static let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete]

    static func register(on router: Router<BasicRequestContext>, paths: [String], allowed: HTTPRequest.Method) {
        for path in paths {
            for method in methods where method != allowed {
                router.on(RouterPath(path), method: method) { _, _ in
                    var response = ReceiverRejection(
                        status: .methodNotAllowed,
                        reason: "method \(method.rawValue) is not allowed here; use \(allowed.rawValue)"
                    ).response
                    response.headers[.allow] = allowed.rawValue
                    return response
                }
            }
        }
    }
}
