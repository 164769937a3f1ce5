import ArgumentParser
import Foundation

/// Where the SQLite database is: `--database`, else `PAGERDUTY_PUBLISHER_DATABASE`, else `publisher.sqlite` in
/// `--data-dir` / `PAGERDUTY_PUBLISHER_DATA_DIR` / `./data`. Shared by `serve` and `queue`.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "SQLite database file (a path, not a URL); serve locks <file>.lock. [env: PAGERDUTY_PUBLISHER_DATABASE] (default: <data-dir>/publisher.sqlite)")
    var database: String?

    @Option(name: .customLong("data-dir"), help: "Directory of the default database. [env: PAGERDUTY_PUBLISHER_DATA_DIR] (default: ./data)")
    var dataDirectory: String?

    /// The database path these options and `environment` name.
    func path(environment: [String: String]) -> String {
        func value(_ flag: String?, _ variable: String) -> String? {
            if let flag, !flag.isEmpty { return flag }
            if let fromEnvironment = environment[variable], !fromEnvironment.isEmpty { return fromEnvironment }
            return nil
        }
        let directory = value(dataDirectory, "PAGERDUTY_PUBLISHER_DATA_DIR") ?? "data"
        return value(database, "PAGERDUTY_PUBLISHER_DATABASE") ?? "\(directory)/publisher.sqlite"
    }

    /// `path` when it names a file; a URL (`postgres://…`, any `scheme://`, SQLite's `file:` URIs), an empty path or
    /// an existing directory is refused with a sentence: only SQLite files are supported, and a URL must not be
    /// turned into directories named after it.
    static func checkedFilePath(_ path: String) throws(SettingsError) -> String {
        let trimmed = path.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw SettingsError(description: "The database path is empty; give the SQLite file with --database or PAGERDUTY_PUBLISHER_DATABASE.")
        }
        if let scheme = trimmed.range(of: "://").map({ trimmed[..<$0.lowerBound] }),
            let first = scheme.first, first.isASCII, first.isLetter,
            scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+.-".contains($0)) })
        {
            throw SettingsError(description: "The database \"\(scheme)://…\" is a URL; --database takes the path of a SQLite file (no other store is supported yet).")
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
