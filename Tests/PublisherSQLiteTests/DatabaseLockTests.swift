import Foundation
import PublisherSQLite
import Testing

@Suite("The database lock of serve", .timeLimit(.minutes(2)))
struct DatabaseLockTests {
    func scratchDatabase() throws -> (directory: URL, database: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pd-lock-\(UUID().uuidString)")
        return (directory, directory.appendingPathComponent("nested/publisher.sqlite").path)
    }

    @Test func aSecondLockOnTheSameDatabaseIsRefusedAndNamesTheHolder() throws {
        let (directory, database) = try scratchDatabase()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try DatabaseLock(databasePath: database)
        #expect(first.path == database + ".lock")
        let written = try String(contentsOfFile: first.path, encoding: .utf8)
        #expect(written == "\(getpid())\n", "the holder's PID is in the lock file")

        do throws(DatabaseLockError) {
            _ = try DatabaseLock(databasePath: database)
            Issue.record("a second lock on the same database was granted")
        } catch {
            #expect(error.holder == getpid())
            #expect(error.reason.contains("process \(getpid())"))
            #expect(error.reason.contains(database))
        }

        first.release()
        let again = try DatabaseLock(databasePath: database)
        again.release()
    }

    @Test func droppingTheLockReleasesItAndAStaleLockFileDoesNotBlock() throws {
        let (directory, database) = try scratchDatabase()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let lock = try DatabaseLock(databasePath: database)
            _ = lock
        }
        // The file stays, with a PID in it, but nobody holds the lock: a restart after a crash must work.
        #expect(FileManager.default.fileExists(atPath: DatabaseLock.lockPath(for: database)))
        try "999999\n".write(toFile: DatabaseLock.lockPath(for: database), atomically: false, encoding: .utf8)
        let lock = try DatabaseLock(databasePath: database)
        #expect(try String(contentsOfFile: lock.path, encoding: .utf8) == "\(getpid())\n")
        lock.release()
    }

    @Test func differentDatabasesDoNotConflict() throws {
        let (directory, database) = try scratchDatabase()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try DatabaseLock(databasePath: database)
        let second = try DatabaseLock(databasePath: database + "-other")
        first.release()
        second.release()
    }
}
