import Foundation
import PostgresNIO
import PublisherCore

extension PostgresStore {
    /// Rewrites the one-row `heartbeat` table: a write round trip that fails when PostgreSQL is unreachable
    /// (within ``readinessTimeout``), read-only (a standby, or `default_transaction_read_only`), or when the
    /// connection runs with `synchronous_commit=off` (a 202 would then not mean the rows are on disk).
    public func checkWritable() async throws(StoreError) {
        let operation = "checking that PostgreSQL takes writes"
        let settings = try await fetch(
            operation, timeout: readinessTimeout, writes: true,
            """
            INSERT INTO heartbeat (id, checked_at) VALUES (1, now())
            ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at
            RETURNING current_setting('synchronous_commit')
            """,
            { try $0.decode(String.self) })
        if let synchronousCommit = settings.first, synchronousCommit == "off" {
            throw StoreError(
                reason: "\(operation): the connection runs with synchronous_commit=off, so a commit may be lost "
                    + "in a crash; connect with PostgresSettings.clientConfiguration (it sets synchronous_commit=on)")
        }
    }
}
