import Foundation
import Testing

/// The `serve` options of the Alertmanager sync: validation, and secrets kept out of every output.
@Suite("Alertmanager sync options", .timeLimit(.minutes(5)))
struct AlertmanagerSyncSettingsTests {
    @Test(arguments: [
        (["--alertmanager-url", "ftp://alertmanager:9093"], "--alertmanager-url"),
        (["--alertmanager-url", "http://user:pass@alertmanager:9093"], "--alertmanager-url"),
        (["--alertmanager-url", "http://127.0.0.1:9093", "--alertmanager-grace-period", "soon"], "grace period"),
        (["--silenced-action", "snooze"], "silenced action"),
        (["--incident-per", "team"], "--incident-per"),
        (["--acknowledged-action", "snooze"], "--acknowledged-action"),
        (["--ack-silence-duration", "10s"], "--ack-silence-duration"),
        (["--manual-resolve-action", "retrigger-after:0s"], "--manual-resolve-action"),
        (["--manual-resolve-action", "page-again"], "--manual-resolve-action"),
        (["--reopen-action", "sometimes"], "--reopen-action"),
        (["--alertmanager-basic-auth-username", "ops"], "--alertmanager-basic-auth-password-file"),
    ])
    func aBadOptionStopsTheDaemonWithExitCode78AndNamesIt(arguments: [String], named: String) async throws {
        let exit = try await DaemonProcess.runToExit(["serve", "--dry-run"] + arguments)
        #expect(exit.status == 78)
        #expect(exit.errorOutput.contains(named), "\(exit.errorOutput)")
        #expect(!exit.errorOutput.contains("pass@"), "no credential echoed")
    }

    @Test func anUnreachableAlertmanagerIsLoggedAndShownAndItsTokenNeverAppears() async throws {
        let scratch = try ScratchDirectory()
        let token = "am-b3arer-t0ken-n0t-for-logs-0042"
        let tokenFile = scratch.url.appendingPathComponent("am-token").path
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let closedPort = try FreePort.find()
        let daemon = try await DaemonProcess(arguments: [
            "--dry-run", "--database", scratch.database,
            "--alertmanager-url", "http://127.0.0.1:\(closedPort)", "--alertmanager-poll-interval", "1s",
            "--alertmanager-bearer-token-file", tokenFile,
        ])
        try await daemon.waitForLog("Alertmanager unreachable; the sync changes nothing it would need it for")
        let metrics = try await HTTP.get("\(daemon.baseURL)/metrics")
        #expect(metrics.body.contains("pagerduty_publisher_alertmanager_up{alertmanager=\"127.0.0.1:\(closedPort)\"} 0"))
        #expect(try await daemon.terminate() == 0)
        #expect(!daemon.lines.joined().contains(token))
        #expect(!daemon.errorOutput.contains(token))
        #expect(!metrics.body.contains(token))
    }
}
