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

    /// Creates a configuration; the defaults are the ones the daemon runs with.
    public init(busyTimeout: Double = 5, synchronous: SQLiteSynchronousMode = .full, readOnly: Bool = false) {
        self.busyTimeout = busyTimeout
        self.synchronous = synchronous
        self.readOnly = readOnly
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
