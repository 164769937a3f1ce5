import Foundation

/// How the store writes times: `REAL` seconds since 1970-01-01 UTC, the form SQLite's own date functions read
/// (`datetime(created_at, 'unixepoch', 'subsec')`).
///
/// A `Double` near today's dates resolves about 0.25 µs, so a time comes back within a microsecond of what was
/// written (exactly, for times built with `Date(timeIntervalSince1970:)`). Compare stored times with a tolerance
/// of a millisecond, never with `==` on values taken from the clock.
enum StoredTime {
    /// The column value for `date`.
    static func encode(_ date: Date) -> Double {
        date.timeIntervalSince1970
    }

    /// The date a column value stands for.
    static func decode(_ seconds: Double) -> Date {
        Date(timeIntervalSince1970: seconds)
    }
}
