import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import PublisherCore
import PublisherPostgres
import PublisherSQLite

/// `pagerduty-publisher migrate-store --from FILE --to postgres://…`: moves an SQLite store's ledger, pending
/// events and dead letters into an empty PostgreSQL database, the step from one replica to several.
struct MigrateStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-store",
        abstract: "Copy an SQLite store (ledger, pending events, dead letters) into an empty PostgreSQL database.",
        discussion: """
            Stop the daemon that uses the SQLite file first (its lock is checked), and run this before any replica \
            starts on the PostgreSQL database. The SQLite file is left as it was; do not run serve on it again.
            """
    )

    @Option(name: .customLong("from"), help: "The SQLite database file serve used.")
    var source: String

    @Option(name: .customLong("to"), help: "The PostgreSQL database: postgres://USER@HOST:PORT/DB?sslmode=…")
    var target: String

    @Option(name: .customLong("to-password-file"), help: "File holding the PostgreSQL password. [env: PAGERDUTY_PUBLISHER_DATABASE_PASSWORD_FILE]")
    var passwordFile: String?

    @Option(name: .customLong("to-ca-file"), help: "PEM file of the CAs for sslmode=verify-full. [env: PAGERDUTY_PUBLISHER_DATABASE_CA_FILE]")
    var caFile: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let sourcePath: String
        do throws(SettingsError) {
            sourcePath = try DatabaseOptions.checkedFilePath(source)
        } catch {
            throw ValidationError(error.description)
        }
        guard FileManager.default.fileExists(atPath: sourcePath) else {
            throw ValidationError("No SQLite database at \(sourcePath).")
        }
        guard DatabaseLocation.isPostgresURL(target) else {
            throw ValidationError("--to takes a postgres:// URL; \(DatabaseLocation.redacted(target)) is not one.")
        }
        // No serve may write the file meanwhile.
        let lock: DatabaseLock
        do throws(DatabaseLockError) {
            lock = try DatabaseLock(databasePath: sourcePath)
        } catch {
            throw ValidationError(error.reason)
        }
        defer { lock.release() }
        let settings: PostgresSettings
        do throws(PostgresSettingsError) {
            settings = try PostgresSettings(
                url: target,
                passwordFile: passwordFile ?? environment["PAGERDUTY_PUBLISHER_DATABASE_PASSWORD_FILE"],
                caFile: caFile ?? environment["PAGERDUTY_PUBLISHER_DATABASE_CA_FILE"])
        } catch {
            throw ValidationError("\(error)")
        }
        let sqlite: SQLiteStore
        do {
            sqlite = try SQLiteStore(path: sourcePath)
        } catch {
            throw ValidationError("Cannot open \(sourcePath): \(error.reason)")
        }
        let logger = Logger(label: "pagerduty-publisher.migrate-store")
        let client = PostgresClient(configuration: settings.clientConfiguration)
        let running = Task { await client.run() }
        defer { running.cancel() }
        let postgres = PostgresStore(client: client, logger: logger)
        do {
            try await postgres.migrate()
            let report = try await StoreTransfer.copy(from: sqlite, to: postgres)
            print(
                "Moved \(report.ledgerEntries) ledger entries, \(report.pendingMessages) pending events and \(report.deadLetters) dead letters from \(sourcePath) to \(settings.redacted)."
            )
            print("Start the replicas with --database \(settings.redacted); do not run serve on \(sourcePath) again.")
        } catch let error as StoreTransferError {
            FileHandle.standardError.write(Data("pagerduty-publisher: \(error.reason)\n".utf8))
            throw ExitCode(1)
        } catch {
            FileHandle.standardError.write(Data("pagerduty-publisher: cannot prepare the PostgreSQL database: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
