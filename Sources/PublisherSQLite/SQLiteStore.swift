import Foundation
import GRDB
import PublisherCore

/// The ``PublisherStore`` on one SQLite file, through GRDB.
///
/// The file is in WAL mode (a `DatabasePool`: one writer connection, several readers that never wait for it),
/// with foreign keys on and `PRAGMA synchronous` as configured (FULL by default: see
/// ``SQLiteSynchronousMode``). Every protocol method is one transaction, run on GRDB's own dispatch queues
/// through its async API, so nothing blocks the Swift cooperative pool. Times are stored as `REAL` seconds
/// since 1970 (within a microsecond; see the `StoredTime` notes in the source).
///
/// Errors are ``StoreError``s naming the operation, the file and SQLite's message, never a message body.
///
/// Lifetime: ``close()`` closes the file explicitly (later calls fail); dropping the last reference also closes
/// it. Reopen the same path with a new store.
public final class SQLiteStore: PublisherStore, Sendable {
    /// The database file.
    public let path: String
    let pool: DatabasePool
    /// Runs the checkpoints off the commit path; `nil` for a read-only store.
    let checkpointer: WALCheckpointer?

    /// Opens (and creates, with its parent directory, when missing) the database at `path`, and brings its
    /// schema up to date.
    ///
    /// This blocks while SQLite opens the file and migrates: call it at start-up, or use
    /// ``open(path:configuration:)`` from async code.
    public init(path: String, configuration: SQLiteStoreConfiguration = .init()) throws(StoreError) {
        self.path = path
        if !configuration.readOnly {
            try Self.createParentDirectory(of: path)
        }
        do {
            pool = try DatabasePool(path: path, configuration: Self.grdbConfiguration(configuration))
        } catch {
            throw StoreError(failure: error, while: "opening the database", at: path)
        }
        try Self.prepareSchema(of: pool, at: path, readOnly: configuration.readOnly)
        if configuration.readOnly {
            checkpointer = nil
        } else {
            try Self.applySynchronousMode(configuration.synchronous, to: pool, at: path)
            do {
                checkpointer = try WALCheckpointer(
                    pool: pool, path: path, policy: configuration.checkpoints, synchronous: configuration.synchronous)
            } catch {
                throw StoreError(failure: error, while: "opening the checkpoint connection", at: path)
            }
        }
    }

    /// Opens the store like ``init(path:configuration:)``, off the cooperative thread pool.
    public static func open(
        path: String,
        configuration: SQLiteStoreConfiguration = .init()
    ) async throws(StoreError) -> SQLiteStore {
        let result: Result<SQLiteStore, StoreError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(StoreError) -> SQLiteStore in
                    try SQLiteStore(path: path, configuration: configuration)
                })
            }
        }
        return try result.get()
    }

    /// Closes the database file. Waits for running transactions; every later call throws a ``StoreError``.
    /// Blocks briefly: call it at shutdown.
    public func close() throws(StoreError) {
        // The pool closes even when the checkpoint connection did not; the first failure is the one reported.
        var checkpointerFailure: (any Error)?
        do {
            try checkpointer?.close()
        } catch {
            checkpointerFailure = error
        }
        do {
            try pool.close()
        } catch {
            throw StoreError(failure: error, while: "closing the database", at: path)
        }
        if let checkpointerFailure {
            throw StoreError(failure: checkpointerFailure, while: "closing the checkpoint connection", at: path)
        }
    }

    /// Runs `updates` in one write transaction, mapping every failure to a ``StoreError``.
    func writing<T: Sendable>(
        _ operation: String,
        _ updates: @Sendable (Database) throws -> T
    ) async throws(StoreError) -> T {
        do {
            return try await pool.write(updates)
        } catch {
            throw StoreError(failure: error, while: operation, at: path)
        }
    }

    /// Runs `value` in one read transaction (a consistent snapshot), mapping every failure to a ``StoreError``.
    func reading<T: Sendable>(
        _ operation: String,
        _ value: @Sendable (Database) throws -> T
    ) async throws(StoreError) -> T {
        do {
            return try await pool.read(value)
        } catch {
            throw StoreError(failure: error, while: operation, at: path)
        }
    }

    // MARK: - Opening

    private static func grdbConfiguration(_ configuration: SQLiteStoreConfiguration) -> Configuration {
        var grdb = Configuration()
        grdb.readonly = configuration.readOnly
        grdb.busyMode = .timeout(configuration.busyTimeout)
        grdb.foreignKeysEnabled = true
        grdb.journalMode = .wal
        grdb.label = "PublisherSQLite"
        return grdb
    }

    private static func createParentDirectory(of path: String) throws(StoreError) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(
                reason: "could not create the database directory \(directory.path): \(error.localizedDescription)")
        }
    }

    /// Migrates a writable file; checks that a read-only one is already migrated.
    private static func prepareSchema(of pool: DatabasePool, at path: String, readOnly: Bool) throws(StoreError) {
        let migrator = SQLiteSchema.migrator
        do {
            let (complete, superseded) = try pool.read { db in
                (try migrator.hasCompletedMigrations(db), try migrator.hasBeenSuperseded(db))
            }
            if superseded {
                throw StoreError(
                    reason: "the database at \(path) was written by a newer version of pagerduty-publisher")
            }
            if readOnly {
                if !complete {
                    throw StoreError(
                        reason: "the database at \(path) has no up-to-date schema; open it once read-write")
                }
                return
            }
            try migrator.migrate(pool)
        } catch {
            throw StoreError(failure: error, while: "migrating the schema", at: path)
        }
    }

    /// GRDB's pool sets `synchronous = NORMAL` on its writer when it enables WAL; this overrides it.
    private static func applySynchronousMode(
        _ mode: SQLiteSynchronousMode, to pool: DatabasePool, at path: String
    ) throws(StoreError) {
        do {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(mode.pragmaValue)")
            }
        } catch {
            throw StoreError(failure: error, while: "setting PRAGMA synchronous", at: path)
        }
    }
}
