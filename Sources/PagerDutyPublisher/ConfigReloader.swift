import Foundation
import Logging
import PagerDutyEvents
import PublisherCore
import ServiceLifecycle
import StructuredLogging
import Synchronization
import UnixSignals

/// Reloads the routes on SIGHUP and when the configuration file or a key file changes. A configuration that
/// fails validation is refused whole: the routes in force stay, and the log says why.
final class ConfigReloader: Service {
    let configPath: String?
    let defaultRoute: Route?
    let defaultSeverity: Severity
    let routes: RouteTable
    let redactor: SecretRedactor
    let signal: WorkSignal
    let checkInterval: Duration
    let logger: Logger
    /// The configuration file and the key files it names, as of the last load.
    let watchedFiles: Mutex<[String]>

    init(
        configPath: String?, defaultRoute: Route?, defaultSeverity: Severity, routes: RouteTable, redactor: SecretRedactor,
        signal: WorkSignal, checkInterval: Duration, logger: Logger, watchedFiles: [String]
    ) {
        self.configPath = configPath
        self.defaultRoute = defaultRoute
        self.defaultSeverity = defaultSeverity
        self.routes = routes
        self.redactor = redactor
        self.signal = signal
        self.checkInterval = checkInterval
        self.logger = logger
        self.watchedFiles = Mutex(watchedFiles)
    }

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in hangups {
                        _ = self.reload(reason: "SIGHUP")
                    }
                }
                group.addTask {
                    var fingerprint = Self.fingerprint(of: self.watchedFiles.withLock { $0 })
                    while (try? await Task.sleep(for: self.checkInterval)) != nil {
                        let current = Self.fingerprint(of: self.watchedFiles.withLock { $0 })
                        if current != fingerprint {
                            _ = self.reload(reason: "a configuration or key file changed")
                            fingerprint = Self.fingerprint(of: self.watchedFiles.withLock { $0 })
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
            let configuration = try RouteConfiguration.load(path: configPath, defaultRoute: defaultRoute, defaultSeverity: defaultSeverity)
            for route in configuration.routes { redactor.register(route.routingKey) }
            watchedFiles.withLock { $0 = configuration.watchedFiles }
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

    /// The contents of `files` (a missing file counts as empty), to notice any change.
    static func fingerprint(of files: [String]) -> [Data] {
        files.map { FileManager.default.contents(atPath: $0) ?? Data() }
    }
}
