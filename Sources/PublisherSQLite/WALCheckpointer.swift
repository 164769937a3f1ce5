import Dispatch
import GRDB
import GRDBSQLite
import Synchronization

/// Copies the write-ahead log back into the database file (a checkpoint) on a connection of its own, so that
/// no commit waits for it.
///
/// SQLite's automatic checkpoint runs inside the commit that takes the log past its threshold. That commit, and
/// every webhook queued behind it, then waits while the checkpoint writes a few hundred scattered pages into the
/// database file and syncs it: milliseconds on a virtual disk, about one commit in seventy at a steady trickle
/// of webhooks. Here the writer connection's WAL hook (called after each commit with the log's length in pages)
/// replaces that automatic checkpoint:
///
/// - past ``SQLiteCheckpointPolicy/backgroundPages`` it asks this checkpointer's own connection for a passive
///   checkpoint, which copies pages while the writer goes on committing. At most one is queued at a time. When
///   it copied the whole log, the writer's next transaction starts the log again from its beginning, so the log
///   file keeps its size;
/// - past ``SQLiteCheckpointPolicy/writerPages`` (the background connection fell behind: sustained writes, or
///   checkpoints failing) the writer checkpoints before its commit returns, as SQLite would by default, so the
///   log stays bounded.
///
/// Checkpoints never decide what is durable: a commit is durable once its log pages are synced, and a
/// checkpoint syncs the database file before the log may restart (in both ``SQLiteSynchronousMode``s).
///
/// Lifetime: the hook's context is this object, unretained. It keeps the pool whose writer calls it, so the
/// writer connection cannot outlive it; ``close()`` removes the hook first and then closes its own connection.
final class WALCheckpointer: Sendable {
    /// What the checkpointer did so far (for tests and diagnostics).
    struct Statistics: Sendable, Hashable {
        /// Background checkpoints that ran, whether or not they copied the whole log.
        var background = 0
        /// Background checkpoints that copied every page of the log (it restarts at the next write).
        var backgroundComplete = 0
        /// Background checkpoints SQLite refused or failed (the next commit past the threshold tries again).
        var backgroundFailures = 0
        /// Checkpoints the writer ran itself because the log reached ``SQLiteCheckpointPolicy/writerPages``.
        var byWriter = 0
        /// The log's length after the latest commit, in pages.
        var latestLog = 0
        /// The longest the log has been after a commit, in pages.
        var longestLog = 0
    }

    private let pool: DatabasePool
    /// The connection the background checkpoints run on (internal for tests).
    let connection: DatabaseQueue
    private let policy: SQLiteCheckpointPolicy
    private let isQueued = Atomic<Bool>(false)
    private let state = Mutex((statistics: Statistics(), isClosed: false))

    /// Opens the checkpointer's connection to `path` (the file `pool` has open) and takes over `pool`'s
    /// checkpoints.
    init(pool: DatabasePool, path: String, policy: SQLiteCheckpointPolicy, synchronous: SQLiteSynchronousMode) throws {
        var configuration = Configuration()
        configuration.label = "PublisherSQLite.checkpointer"
        // A passive checkpoint never waits for a lock; nothing else runs on this connection.
        configuration.busyMode = .immediateError
        self.pool = pool
        self.policy = policy
        connection = try DatabaseQueue(path: path, configuration: configuration)
        // The checkpoint's sync of the database file follows this connection's setting: keep it the store's.
        try connection.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous.pragmaValue)")
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        pool.writeWithoutTransaction { db in
            // Replaces the writer's automatic checkpoint (SQLite keeps one WAL hook per connection).
            _ = sqlite3_wal_hook(db.sqliteConnection, { context, writer, _, pages in
                guard let context else { return SQLITE_OK }
                Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue()
                    .writerCommitted(logPages: Int(pages), writer: writer)
                return SQLITE_OK
            }, context)
        }
    }

    /// What the checkpointer did so far.
    var statistics: Statistics {
        state.withLock { $0.statistics }
    }

    /// Waits until the checkpoint queued on the background connection, if any, has run.
    func waitForQueuedCheckpoint() {
        connection.writeWithoutTransaction { _ in }
    }

    /// Gives the writer its automatic checkpoint back and closes the background connection, after the
    /// checkpoint it runs, if any. Later calls do nothing.
    func close() throws {
        let alreadyClosed = state.withLock { state in
            defer { state.isClosed = true }
            return state.isClosed
        }
        if alreadyClosed { return }
        pool.writeWithoutTransaction { db in
            _ = sqlite3_wal_autocheckpoint(db.sqliteConnection, CInt(policy.writerPages))
        }
        try connection.close()
    }

    /// Called by the writer's WAL hook after each commit, on the writer's queue, with the log's length.
    private func writerCommitted(logPages: Int, writer: OpaquePointer?) {
        state.withLock { state in
            state.statistics.latestLog = logPages
            state.statistics.longestLog = max(state.statistics.longestLog, logPages)
        }
        if logPages >= policy.writerPages {
            // SQLITE_BUSY while the background connection is checkpointing: that one copies the pages anyway.
            if sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK {
                state.withLock { $0.statistics.byWriter += 1 }
            }
            return
        }
        guard logPages >= policy.backgroundPages,
            isQueued.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        connection.asyncWriteWithoutTransaction { db in
            self.checkpointInBackground(db)
        }
    }

    private func checkpointInBackground(_ db: Database) {
        // Cleared first: a commit that lands while this runs queues the next checkpoint.
        isQueued.store(false, ordering: .releasing)
        let result = try? db.checkpoint(.passive)
        state.withLock { state in
            guard let result else {
                state.statistics.backgroundFailures += 1
                return
            }
            state.statistics.background += 1
            if result.checkpointedFrameCount == result.walFrameCount {
                state.statistics.backgroundComplete += 1
            }
        }
    }
}
