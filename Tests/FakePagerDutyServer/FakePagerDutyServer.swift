import ArgumentParser
import PublisherTestSupport

/// Runs ``FakePagerDuty`` as a process of its own for the load, storm and chaos scripts.
@main
struct FakePagerDutyServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-pagerduty",
        abstract: "A fake PagerDuty Events API v2 on loopback, for scripts."
    )

    func run() async throws {
        let fake = try await FakePagerDuty.start()
        print(fake.baseURL)
        try await Task.sleep(for: .seconds(365 * 24 * 3600))
    }
}
