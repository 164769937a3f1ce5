import ArgumentParser

/// The `pagerduty-publisher` command.
@main
struct PagerDutyPublisherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pagerduty-publisher",
        abstract: "Receives Alertmanager webhooks and keeps every alert's PagerDuty incident right.",
        discussion: """
            Alertmanager posts to /v1/alertmanager; each firing alert becomes one PagerDuty trigger and each \
            resolved alert one resolve, through the Events API v2, durably queued in SQLite and rate limited \
            per routing key.
            """,
        version: PublisherVersion.current,
        subcommands: [ServeCommand.self, SendCommand.self, QueueCommand.self, CheckConfigCommand.self, MigrateStoreCommand.self, VersionCommand.self],
        defaultSubcommand: nil
    )
}

/// `pagerduty-publisher version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    func run() {
        print(PublisherVersion.current)
    }
}

/// The version of this build.
enum PublisherVersion {
    static let current = "0.1.0"
}
