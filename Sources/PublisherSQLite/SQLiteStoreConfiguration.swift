/// How ``SQLiteStore`` opens its database file.
public struct SQLiteStoreConfiguration: Sendable, Hashable {
    /// How long a write waits for another connection's lock before it fails, in seconds. Default 5.
    ///
    /// Only another process writing the same file can hold the lock (one store serialises its own writes), so
    /// the wait matters for tools such as `pagerduty-publisher queue` running beside the daemon.
    public var busyTimeout: Double

    /// When a committed transaction reaches the disk. Default ``SQLiteSynchronousMode/full``.
    public var synchronous: SQLiteSynchronousMode

    /// Opens the file without write access: no directory is created, no migration runs, and every write
    /// (including ``SQLiteStore/checkWritable()``) fails. For inspection tools and for tests of the failure paths.
    public var readOnly: Bool

    /// When the write-ahead log is copied back into the database file. Default ``SQLiteCheckpointPolicy/init()``.
    public var checkpoints: SQLiteCheckpointPolicy

    /// Creates a configuration; the defaults are the ones the daemon runs with.
    public init(
        busyTimeout: Double = 5,
        synchronous: SQLiteSynchronousMode = .full,
        readOnly: Bool = false,
        checkpoints: SQLiteCheckpointPolicy = .init()
    ) {
        self.busyTimeout = busyTimeout
        self.synchronous = synchronous
        self.readOnly = readOnly
        self.checkpoints = checkpoints
    }
}

/// When the write-ahead log is copied back into the database file (a checkpoint), by its length in pages.
///
/// A checkpoint normally runs on a connection of the store's own, beside the writer, so no commit waits for
/// it; the writer checkpoints itself only when the log grows past ``writerPages``.
public struct SQLiteCheckpointPolicy: Sendable, Hashable {
    /// Past this many pages in the log, a background connection checkpoints. Default 200 (about 800 KB): each
    /// checkpoint then writes little, so the log syncs of the commits running beside it wait little for the
    /// disk (SQLite's own automatic threshold is 1,000; see docs/performance.md for the comparison).
    public var backgroundPages: Int
    /// Past this many pages, the writer checkpoints before its commit returns, as SQLite does by default: the
    /// bound on the log when the background connection cannot keep up. Default 10,000 (about 40 MB).
    public var writerPages: Int

    /// Creates a policy; `writerPages` is raised to `backgroundPages` when smaller, and both to at least 1.
    public init(backgroundPages: Int = 200, writerPages: Int = 10_000) {
        self.backgroundPages = max(1, backgroundPages)
        self.writerPages = max(self.backgroundPages, writerPages)
    }
}

/// SQLite's `PRAGMA synchronous` settings that make sense with the write-ahead log.
///
/// The trade-off: with ``full`` SQLite syncs the write-ahead log to the disk at every commit, so a message the
/// receiver answered 202 for survives a kill -9, an OS crash and a power loss; each commit costs one `fsync`
/// (about a millisecond on SSDs, more on network disks). With ``normal`` it syncs only at checkpoints: a
/// kill -9 still loses nothing, but an OS crash or power loss can lose the last transactions, that is,
/// alerts Alertmanager already considers delivered. Rule 1 of the design ("nothing accepted is lost") needs
/// ``full``; choose ``normal`` only where losing a few seconds of alerts on power loss is acceptable.
public enum SQLiteSynchronousMode: String, Sendable, Hashable, CaseIterable {
    /// `PRAGMA synchronous = FULL`: durable across process kills and power loss.
    case full
    /// `PRAGMA synchronous = NORMAL`: durable across process kills only.
    case normal

    /// The value `PRAGMA synchronous` reports for this mode.
    var pragmaValue: Int {
        switch self {
        case .full: 2
        case .normal: 1
        }
    }

    /// The mode `PRAGMA synchronous` reported, if it is one of these.
    init?(pragmaValue: Int) {
        guard let mode = Self.allCases.first(where: { $0.pragmaValue == pragmaValue }) else { return nil }
        self = mode
    }
}
