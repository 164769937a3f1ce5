import ArgumentParser
import Foundation

/// Which store the daemon uses: an SQLite file (one replica, the default) or a PostgreSQL database (several
/// replicas).
enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    /// An SQLite file; `serve` locks `<path>.lock`.
    case sqlite(path: String)
    /// A PostgreSQL URL (`postgres://` or `postgresql://`), with the password file and CA file given beside it.
    case postgres(url: String, passwordFile: String?, caFile: String?)

    /// Safe to log: the URL without its password.
    var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let url, _, _): Self.redacted(url)
        }
    }

    /// The SQLite path, when the store is SQLite.
    var sqlitePath: String? {
        if case .sqlite(let path) = self { path } else { nil }
    }

    /// `url` with its password replaced by `***`.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "postgres://…"
    }

    /// The password written in a PostgreSQL URL, to keep it out of logs.
    static func passwordInURL(_ url: String) -> String? {
        URLComponents(string: url)?.password.flatMap { $0.removingPercentEncoding ?? $0 }
    }

    /// Whether `text` is a PostgreSQL URL.
    static func isPostgresURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }
}

/// Where the database is: `--database`, else `PAGERDUTY_PUBLISHER_DATABASE`, else `publisher.sqlite` in
/// `--data-dir` / `PAGERDUTY_PUBLISHER_DATA_DIR` / `./data`. A `postgres://` URL selects the PostgreSQL store.
/// Shared by `serve` and `queue`.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "SQLite database file (serve locks <file>.lock), or postgres://USER@HOST:PORT/DB?sslmode=… for several replicas. [env: PAGERDUTY_PUBLISHER_DATABASE] (default: <data-dir>/publisher.sqlite)")
    var database: String?

    @Option(name: .customLong("data-dir"), help: "Directory of the default database. [env: PAGERDUTY_PUBLISHER_DATA_DIR] (default: ./data)")
    var dataDirectory: String?

    @Option(name: .customLong("database-password-file"), help: "File holding the PostgreSQL password (wins over one in the URL). [env: PAGERDUTY_PUBLISHER_DATABASE_PASSWORD_FILE]")
    var passwordFile: String?

    @Option(name: .customLong("database-ca-file"), help: "PEM file of the CAs that sign PostgreSQL's certificate, for sslmode=verify-full. [env: PAGERDUTY_PUBLISHER_DATABASE_CA_FILE]")
    var caFile: String?

    private static func value(_ flag: String?, _ variable: String, _ environment: [String: String]) -> String? {
        if let flag, !flag.isEmpty { return flag }
        if let fromEnvironment = environment[variable], !fromEnvironment.isEmpty { return fromEnvironment }
        return nil
    }

    /// Whether these options or `environment` name a database (or its password or CA file), rather than leaving
    /// the default.
    func isGiven(environment: [String: String]) -> Bool {
        Self.value(database, "PAGERDUTY_PUBLISHER_DATABASE", environment) != nil
            || Self.value(dataDirectory, "PAGERDUTY_PUBLISHER_DATA_DIR", environment) != nil
            || Self.value(passwordFile, "PAGERDUTY_PUBLISHER_DATABASE_PASSWORD_FILE", environment) != nil
            || Self.value(caFile, "PAGERDUTY_PUBLISHER_DATABASE_CA_FILE", environment) != nil
    }

    /// The database path or URL these options and `environment` name.
    func path(environment: [String: String]) -> String {
        let directory = Self.value(dataDirectory, "PAGERDUTY_PUBLISHER_DATA_DIR", environment) ?? "data"
        return Self.value(database, "PAGERDUTY_PUBLISHER_DATABASE", environment) ?? "\(directory)/publisher.sqlite"
    }

    /// The store these options and `environment` name, checked.
    func location(environment: [String: String]) throws(SettingsError) -> DatabaseLocation {
        let given = path(environment: environment).trimmingCharacters(in: .whitespaces)
        let passwordFile = Self.value(passwordFile, "PAGERDUTY_PUBLISHER_DATABASE_PASSWORD_FILE", environment)
        let caFile = Self.value(caFile, "PAGERDUTY_PUBLISHER_DATABASE_CA_FILE", environment)
        if DatabaseLocation.isPostgresURL(given) {
            return .postgres(url: given, passwordFile: passwordFile, caFile: caFile)
        }
        if passwordFile != nil || caFile != nil {
            throw SettingsError(description: "--database-password-file and --database-ca-file are for a postgres:// database; the database given is the SQLite file \(given).")
        }
        return .sqlite(path: try Self.checkedFilePath(given))
    }

    /// `path` when it names a file; another URL (any `scheme://` but PostgreSQL's, SQLite's `file:` URIs), an empty
    /// path or an existing directory is refused with a sentence, so that a URL is never turned into directories
    /// named after it.
    static func checkedFilePath(_ path: String) throws(SettingsError) -> String {
        let trimmed = path.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw SettingsError(description: "The database path is empty; give the SQLite file with --database or PAGERDUTY_PUBLISHER_DATABASE.")
        }
        if let scheme = trimmed.range(of: "://").map({ trimmed[..<$0.lowerBound] }),
            let first = scheme.first, first.isASCII, first.isLetter,
            scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+.-".contains($0)) })
        {
            throw SettingsError(description: "The database \"\(scheme)://…\" is a URL of a store that is not supported; --database takes the path of a SQLite file or a postgres:// URL.")
        }
        if trimmed.lowercased().hasPrefix("file:") {
            throw SettingsError(description: "The database \"\(trimmed)\" is a URI; --database takes the plain path of a SQLite file.")
        }
        var isDirectory: ObjCBool = false
        if trimmed.hasSuffix("/") || (FileManager.default.fileExists(atPath: trimmed, isDirectory: &isDirectory) && isDirectory.boolValue) {
            throw SettingsError(description: "The database \(trimmed) is a directory; --database takes the path of a SQLite file in it, e.g. \(trimmed.hasSuffix("/") ? trimmed : trimmed + "/")publisher.sqlite.")
        }
        return path
    }
}
