import ArgumentParser
import Foundation
import Logging
import Metrics
import PublisherCore
import PublisherSQLite
import ServiceLifecycle
import StructuredLogging

/// The store the daemon runs on, with who owns which work and the services the store needs beside it.
struct OpenedStore: Sendable {
    var store: any PublisherStore
    /// ``SoleReplica`` for SQLite; leases in the database for PostgreSQL.
    var ownership: any WorkOwnership
    /// Run in the ServiceGroup before the daemon's own services (and so stopped after them).
    var services: [any Service]
    /// Releases what opening took (the PostgreSQL connection pool).
    var close: @Sendable () -> Void
}

/// Opens the store `settings.database` names.
enum StoreBootstrap {
    static func open(
        _ location: DatabaseLocation,
        replica: String,
        signal: WorkSignal,
        knownRoutes: @escaping @Sendable () -> [String],
        metricsFactory: any MetricsFactory,
        redactor: SecretRedactor,
        logger: Logger
    ) async throws -> OpenedStore {
        switch location {
        case .sqlite(let path):
            do {
                let store = try SQLiteStore(path: path)
                return OpenedStore(store: store, ownership: SoleReplica(), services: [], close: {})
            } catch {
                logger.critical("Cannot open the database", metadata: ["path": "\(path)", "error": "\(error)"])
                throw error
            }
        case .postgres(let url, let passwordFile, let caFile):
            return try await PostgresBootstrap.open(
                url: url, passwordFile: passwordFile, caFile: caFile, replica: replica, signal: signal,
                knownRoutes: knownRoutes, metricsFactory: metricsFactory, redactor: redactor, logger: logger)
        }
    }
}

