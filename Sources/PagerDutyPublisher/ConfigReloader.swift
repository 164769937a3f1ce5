import Foundation
import Logging
import PagerDutyEvents
import PublisherConfiguration
import PublisherCore
import ServiceLifecycle
import StructuredLogging
import Synchronization
import UnixSignals

/// Reloads the routes on SIGHUP and when the configuration file or a key file changes. A configuration that
/// fails validation is refused whole: the routes in force stay, and the log says why. The receiver's token and
/// password files (``credentialFiles``), the web configuration and the PagerDuty webhook signing secrets
/// (``webhookSecretFiles``) are reloaded at the same moments, independently of the routes.
final class ConfigReloader: Service {
    let configPath: String?
    /// The default route as it started; its key is re-read from ``defaultKeyFile`` on every reload.
    let defaultRoute: Route?
    let defaultKeyFile: String?
    let defaults: RouteDefaults
    let routes: RouteTable
    let redactor: SecretRedactor
    let signal: WorkSignal
    let checkInterval: Duration
    let logger: Logger
    /// The configuration file and the key files it names, as of the last load.
    let watchedFiles: Mutex<[String]>
    let credentialFiles: ReceiverCredentialFiles?
    /// The web configuration file's reloads (``WebConfigReloads``), independent of the routes.
    let webConfig: WebConfigReloads?
    /// The files of `--pagerduty-webhook-secret-file`, independent of the routes.
    let webhookSecretFiles: WebhookSecretFiles?

    init(
        configPath: String?, defaultRoute: Route?, defaultKeyFile: String?, defaults: RouteDefaults, routes: RouteTable, redactor: SecretRedactor,
        signal: WorkSignal, checkInterval: Duration, logger: Logger, watchedFiles: [String], credentialFiles: ReceiverCredentialFiles? = nil,
        webConfig: WebConfigReloads? = nil, webhookSecretFiles: WebhookSecretFiles? = nil
    ) {
        self.webConfig = webConfig
        self.webhookSecretFiles = webhookSecretFiles
        self.credentialFiles = credentialFiles
        self.configPath = configPath
        self.defaultRoute = defaultRoute
        self.defaultKeyFile = defaultRoute == nil ? nil : defaultKeyFile
        self.defaults = defaults
        self.routes = routes
        self.redactor = redactor
        self.signal = signal
        self.checkInterval = checkInterval
        self.logger = logger
        self.watchedFiles = Mutex(watchedFiles + (self.defaultKeyFile.map { [$0] } ?? []))
    }

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in hangups {
                        _ = self.reload(reason: "SIGHUP")
                        self.credentialFiles?.reload(reason: "SIGHUP", logger: self.logger)
                        self.webConfig?.reload(reason: "SIGHUP", logger: self.logger)
                        self.webhookSecretFiles?.reload(reason: "SIGHUP", logger: self.logger)
                    }
                }
                group.addTask {
                    // Each watch reads its files before the reload that follows a change: a file changed
                    // during the reload (a key written just after its certificate) differs next time.
                    var routeWatch = FileWatch(self.watchedFiles.withLock { $0 })
                    var credentialWatch = FileWatch(self.credentialFiles?.files ?? [])
                    var signingWatch = FileWatch(self.webhookSecretFiles?.files ?? [])
                    var webWatch = FileWatch(self.webConfig?.files ?? [])
                    while (try? await Task.sleep(for: self.checkInterval)) != nil {
                        if webWatch.changed(), let webConfig = self.webConfig {
                            webConfig.reload(reason: "the web configuration or a file it names changed", logger: self.logger)
                            webWatch.follow(webConfig.files)
                        }
                        if credentialWatch.changed() {
                            self.credentialFiles?.reload(reason: "a receiver credential file changed", logger: self.logger)
                        }
                        if signingWatch.changed() {
                            self.webhookSecretFiles?.reload(
                                reason: "a PagerDuty webhook secret file changed", logger: self.logger)
                        }
                        if routeWatch.changed() {
                            _ = self.reload(reason: "a configuration or key file changed")
                            routeWatch.follow(self.watchedFiles.withLock { $0 })
                        }
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Loads the configuration again and, when it is valid, puts it in force.
    func reload(reason: String) -> Bool {
        do {
            var currentDefault = defaultRoute
            if let defaultKeyFile, var route = defaultRoute {
                route.routingKey = try Self.readKey(defaultKeyFile)
                currentDefault = route
            }
            let configuration = try RouteConfiguration.load(path: configPath, defaultRoute: currentDefault, defaults: defaults)
            for route in configuration.routes { redactor.register(route.routingKey) }
            watchedFiles.withLock { $0 = configuration.watchedFiles + (defaultKeyFile.map { [$0] } ?? []) }
            routes.replace(with: configuration.routes, defaultRoute: defaultRoute?.name)
            signal.notify(route: WorkSignal.routesChanged)
            logger.info(
                "Configuration reloaded",
                metadata: ["reason": "\(reason)", "routes": "\(configuration.routes.map(\.name).joined(separator: ","))"]
            )
            return true
        } catch {
            logger.error(
                "Configuration reload failed; keeping the routes in force",
                metadata: ["reason": "\(reason)", "problems": "\(error.problems.joined(separator: "; "))"]
            )
            return false
        }
    }

    /// The routing key in `path`, which must be 32 letters or digits.
    private static func readKey(_ path: String) throws(ConfigurationProblems) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationProblems(problems: ["the routing key file \(path) cannot be read."])
        }
        let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard EventLimits.isWellFormedRoutingKey(key) else {
            throw ConfigurationProblems(problems: ["the routing key in \(path) must be \(EventLimits.routingKeyLength) letters or digits; it has \(key.count) characters."])
        }
        return key
    }

    /// The contents of `files` (a missing file counts as empty), to notice any change.
    static func fingerprint(of files: [String]) -> [Data] {
        files.map { FileManager.default.contents(atPath: $0) ?? Data() }
    }
}

/// Files watched for a change of content (a missing file counts as empty).
struct FileWatch {
    private(set) var files: [String]
    private var contents: [Data]

    init(_ files: [String]) {
        self.files = files
        contents = ConfigReloader.fingerprint(of: files)
    }

    /// Whether any file's content differs from the last read; remembers what it read now.
    mutating func changed() -> Bool {
        let now = ConfigReloader.fingerprint(of: files)
        guard now != contents else { return false }
        contents = now
        return true
    }

    /// Watches `newFiles` from now on, when a reload named other files than before.
    mutating func follow(_ newFiles: [String]) {
        guard newFiles != files else { return }
        files = newFiles
        contents = ConfigReloader.fingerprint(of: newFiles)
    }
}
