import Foundation
import GRDB
import PublisherCore

extension SQLiteStore {
    /// Rewrites the one-row `heartbeat` table in a durable transaction: fails when the file, its directory or
    /// its disk cannot take writes (read-only mount, full disk, deleted directory, closed store).
    public func checkWritable() async throws(StoreError) {
        let now = StoredTime.encode(Date())
        try await writing("checking that the database is writable") { db in
            try db.execute(
                sql: """
                    INSERT INTO heartbeat (id, checked_at) VALUES (1, ?)
                    ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at
                    """,
                arguments: [now])
        }
    }

    /// The settings SQLite reports for the store's writer connection, for start-up logs and tests.
    public func effectiveSettings() async throws(StoreError) -> SQLiteEffectiveSettings {
        do {
            return try await pool.writeWithoutTransaction { db in
                let synchronous = try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
                return SQLiteEffectiveSettings(
                    journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                    synchronous: SQLiteSynchronousMode(pragmaValue: synchronous),
                    foreignKeys: try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false,
                    busyTimeoutMilliseconds: try Int.fetchOne(db, sql: "PRAGMA busy_timeout") ?? 0,
                    sqliteVersion: try String.fetchOne(db, sql: "SELECT sqlite_version()") ?? "")
            }
        } catch {
            throw StoreError(failure: error, while: "reading the connection settings", at: path)
        }
    }
}

/// What SQLite reports for the store's writer connection.
public struct SQLiteEffectiveSettings: Sendable, Hashable {
    /// `PRAGMA journal_mode`: `wal` for a store opened read-write.
    public var journalMode: String
    /// `PRAGMA synchronous`, or `nil` for a value other than FULL and NORMAL.
    public var synchronous: SQLiteSynchronousMode?
    /// `PRAGMA foreign_keys`.
    public var foreignKeys: Bool
    /// `PRAGMA busy_timeout`.
    public var busyTimeoutMilliseconds: Int
    /// The SQLite library version in use.
    public var sqliteVersion: String

    /// Creates the settings report.
    public init(
        journalMode: String,
        synchronous: SQLiteSynchronousMode?,
        foreignKeys: Bool,
        busyTimeoutMilliseconds: Int,
        sqliteVersion: String
    ) {
        self.journalMode = journalMode
        self.synchronous = synchronous
        self.foreignKeys = foreignKeys
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.sqliteVersion = sqliteVersion
    }
}
