import ArgumentParser

/// Where the SQLite database is: `--database`, else `PAGERDUTY_PUBLISHER_DATABASE`, else `publisher.sqlite` in
/// `--data-dir` / `PAGERDUTY_PUBLISHER_DATA_DIR` / `./data`. Shared by `serve` and `queue`.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "SQLite database file. [env: PAGERDUTY_PUBLISHER_DATABASE] (default: <data-dir>/publisher.sqlite)")
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
}
