import ArgumentParser
import Foundation
import Logging
import Metrics
import PostgresNIO
import PublisherCore
import PublisherPostgres
import ServiceLifecycle
import StructuredLogging

/// Opens the PostgreSQL store (several replicas): the connection pool, the schema (migrated by whichever
/// replica gets there first), the leases that say which replica delivers each routing key and runs the
/// Alertmanager sync, and the listener that wakes this replica's lanes when another replica stores events.
enum PostgresBootstrap {
    /// How long a replica keeps trying to reach PostgreSQL at start before it gives up (and its supervisor
    /// restarts it).
    static let startupPatience: Duration = .seconds(60)

    static func open(
        url: String, passwordFile: String?, caFile: String?, replica: String, signal: WorkSignal,
        knownRoutes: @escaping @Sendable () -> [String], metricsFactory: any MetricsFactory,
        redactor: SecretRedactor, logger: Logger
    ) async throws -> OpenedStore {
        let settings: PostgresSettings
        do throws(PostgresSettingsError) {
            settings = try PostgresSettings(url: url, passwordFile: passwordFile, caFile: caFile)
        } catch {
            FileHandle.standardError.write(Data("pagerduty-publisher: \(error)\n".utf8))
            throw ExitCode(ServeSettings.configurationErrorExitCode)
        }
        if let password = settings.clientConfiguration.password { redactor.register(password) }
        var backgroundLogger = logger
        backgroundLogger.logLevel = max(logger.logLevel, .warning)
        let client = PostgresClient(configuration: settings.clientConfiguration, backgroundLogger: backgroundLogger)
        let running = Task { await client.run() }
        let store = PostgresStore(client: client, logger: logger, fencingReplica: replica)
        let leases = PostgresLeases(client: client, replica: replica, logger: logger, metricsFactory: metricsFactory)
        let deadline = ContinuousClock.now + startupPatience
        var attempt = 0
        while true {
            do {
                try await store.migrate()
                try await leases.prepare()
                break
            } catch {
                attempt += 1
                guard ContinuousClock.now < deadline else {
                    logger.critical(
                        "Cannot reach PostgreSQL; giving up",
                        metadata: ["database": "\(settings.redacted)", "error": "\(error)", "attempts": "\(attempt)"])
                    running.cancel()
                    throw ExitCode(1)
                }
                logger.error(
                    "Cannot reach PostgreSQL yet; retrying",
                    metadata: ["database": "\(settings.redacted)", "error": "\(error)", "attempt": "\(attempt)"])
                try await Task.sleep(for: .seconds(min(attempt, 5)))
            }
        }
        logger.info("PostgreSQL store ready", metadata: ["database": "\(settings.redacted)", "replica": "\(replica)"])
        let listener = PostgresNotificationListener(client: client, signal: signal, logger: logger, knownRoutes: knownRoutes)
        return OpenedStore(store: store, ownership: leases, services: [leases, listener], close: { running.cancel() })
    }
}
