import Foundation

/// Whether the PostgreSQL tests can run: they need the admin URL of a cluster in
/// `PAGERDUTY_PUBLISHER_TEST_POSTGRES_URL` (`scripts/postgres start` prints one; `scripts/test` exports it).
///
/// For `@Suite(.enabled(if: PostgresAvailability.isConfigured, Comment(rawValue: PostgresAvailability.reason)))`. Under `CI=true` a
/// test fails when the variable is missing, so a CI run never skips them silently.
public enum PostgresAvailability {
    /// The environment variable holding the admin URL.
    public static let variable = "PAGERDUTY_PUBLISHER_TEST_POSTGRES_URL"

    /// The admin URL, when set and not blank.
    public static var adminURL: String? {
        guard let value = ProcessInfo.processInfo.environment[variable]?.trimmingCharacters(in: .whitespaces),
            !value.isEmpty
        else { return nil }
        return value
    }

    /// Whether ``adminURL`` is set.
    public static var isConfigured: Bool { adminURL != nil }

    /// Why the PostgreSQL tests are skipped, and how to run them.
    public static let reason: String =
        "PostgreSQL tests need \(variable) (an admin URL such as postgres://postgres@127.0.0.1:55432/postgres): run "
        + "`scripts/postgres start` and export the URL it prints, or run scripts/test, which does both"
}

/// A database of its own for one test or suite, created in the cluster of ``PostgresAvailability/adminURL`` with a
/// unique name and dropped by ``drop()``.
///
/// It runs `psql` (Debian's `postgresql-client`) against the admin URL, so the test support needs no PostgreSQL
/// library.
public struct PostgresTestDatabase: Sendable {
    /// The database's name: `pdp_test_<label>_<random>`.
    public let name: String
    /// The URL of the database: the admin URL with its database replaced.
    public let url: String
    /// The admin URL it was created with.
    public let adminURL: String

    /// Creates a database named after `label` (letters, digits and `_` are kept).
    public static func create(label: String = "store") throws -> PostgresTestDatabase {
        guard let adminURL = PostgresAvailability.adminURL else {
            throw PostgresTestDatabaseError(reason: "\(PostgresAvailability.variable) is not set")
        }
        let cleaned = String(label.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }.prefix(24))
        let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let name = "pdp_test_\(cleaned)_\(suffix)"
        try runPSQL(adminURL: adminURL, sql: "CREATE DATABASE \(name)")
        return PostgresTestDatabase(name: name, url: try Self.url(adminURL, database: name), adminURL: adminURL)
    }

    /// Drops the database, closing any connection still open to it.
    public func drop() throws {
        try Self.runPSQL(adminURL: adminURL, sql: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs `sql` in the database with `psql` and returns its unaligned, tuples-only output.
    @discardableResult
    public func psql(_ sql: String) throws -> String {
        try Self.runPSQL(adminURL: url, sql: sql)
    }

    /// `adminURL` with its path replaced by `/database` (the query is kept).
    static func url(_ adminURL: String, database: String) throws -> String {
        guard let schemeEnd = adminURL.range(of: "://") else {
            throw PostgresTestDatabaseError(reason: "\(PostgresAvailability.variable) is not a postgres:// URL")
        }
        let afterScheme = adminURL[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
        let prefix = adminURL[..<authorityEnd]
        var query = ""
        if let questionMark = afterScheme[authorityEnd...].firstIndex(of: "?") {
            query = String(afterScheme[questionMark...])
        }
        return "\(prefix)/\(database)\(query)"
    }

    @discardableResult
    private static func runPSQL(adminURL: String, sql: String) throws -> String {
        let exit: ChildProcessExit
        do {
            exit = try ChildProcess.runBlocking(
                "psql", ["--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--set=ON_ERROR_STOP=1",
                         "--dbname=\(adminURL)", "--command=\(sql)"])
        } catch {
            throw PostgresTestDatabaseError(reason: "cannot run psql (install postgresql-client): \(error)")
        }
        guard exit.status == 0 else {
            let message = exit.errorOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            throw PostgresTestDatabaseError(reason: "psql failed running \(sql): \(message)")
        }
        return exit.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Why a test database could not be created or dropped.
public struct PostgresTestDatabaseError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
