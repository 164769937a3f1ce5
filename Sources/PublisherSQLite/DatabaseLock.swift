#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Why the database lock could not be taken.
public struct DatabaseLockError: Error, Sendable, CustomStringConvertible {
    /// A sentence saying what happened and what to do.
    public var reason: String
    /// The process holding the lock, when it is another one and its PID could be read.
    public var holder: Int32?

    public var description: String { reason }
}

/// An exclusive claim on one database file for the life of a process: `flock(2)` on `<database>.lock` beside
/// it, with the holder's PID written inside.
///
/// Only `serve` takes it: two daemons on one file each trust their own in-memory ledger and dispatcher, so
/// every alert would page several times. The `queue` commands do not take it; they stay usable while the
/// daemon runs (SQLite's own locking keeps their short transactions safe).
///
/// The kernel releases the lock when the process ends, however it ends (even SIGKILL), so a stale lock file
/// never blocks a restart; the file itself is left in place, and its PID is only informative.
public final class DatabaseLock: Sendable {
    /// The lock file.
    public let path: String
    private let descriptor: Mutex<Int32?>

    /// The lock file of `databasePath`: the same path with `.lock` appended.
    public static func lockPath(for databasePath: String) -> String { databasePath + ".lock" }

    /// Takes the lock for `databasePath` (creating the lock file and its directory when missing) without
    /// waiting; throws when another process, or another open of this process, holds it.
    public init(databasePath: String) throws(DatabaseLockError) {
        let path = Self.lockPath(for: databasePath)
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DatabaseLockError(reason: "Cannot create the lock file \(path) of the database: \(String(cString: strerror(errno))).")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            let holder = Self.readHolder(fd)
            close(fd)
            if failure == EWOULDBLOCK {
                let who = holder.map { "process \($0)" } ?? "another process"
                throw DatabaseLockError(
                    reason: "The database \(databasePath) is already used by \(who) (lock file \(path)); "
                        + "only one 'serve' may use a database, so stop the other one or give this one its own --database.",
                    holder: holder)
            }
            throw DatabaseLockError(reason: "Cannot lock \(path): \(String(cString: strerror(failure))).")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        descriptor = Mutex(fd)
    }

    /// Releases the lock (closing the file); later calls do nothing. Ending the process releases it too.
    public func release() {
        descriptor.withLock { fd in
            if let open = fd { close(open) }
            fd = nil
        }
    }

    deinit {
        release()
    }

    /// The PID written in the lock file, if it holds one.
    private static func readHolder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text).flatMap { $0 > 0 ? $0 : nil }
    }
}
