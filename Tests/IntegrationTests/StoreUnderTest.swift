import PublisherTestSupport

/// The store a test runs the daemon on, by name: `"sqlite"`, a file in the scratch directory, or `"postgres"`, a
/// database of its own on the configured cluster, dropped when this goes away (after the daemon, declared later).
struct StoreUnderTest: ~Copyable {
    /// The stores this machine can run the daemon on: SQLite always, PostgreSQL when a cluster is configured.
    static var available: [String] { PostgresAvailability.isConfigured ? ["sqlite", "postgres"] : ["sqlite"] }

    /// The daemon's `--database` value.
    let database: String
    private let postgres: PostgresTestDatabase?

    /// - Parameter label: names the PostgreSQL database, to tell the tests' databases apart.
    init(_ store: String, scratch: borrowing ScratchDirectory, label: String) throws {
        if store == "postgres" {
            let created = try PostgresTestDatabase.create(label: label)
            postgres = created
            database = created.url
        } else {
            postgres = nil
            database = scratch.database
        }
    }

    deinit {
        try? postgres?.drop()
    }
}
