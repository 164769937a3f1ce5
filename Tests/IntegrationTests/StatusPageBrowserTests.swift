import Foundation
import PublisherTestSupport
import Testing

/// The status page at `/` of the real daemon, rendered by a real headless browser (Debian's chromium, which
/// scripts/test installs) after a known sequence of deliveries, a refusal and a 429.
@Suite("The status page in a headless browser", .serialized, .timeLimit(.minutes(3)))
struct StatusPageBrowserTests {
    static var browser: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// Runs the headless browser with `arguments` and the page's URL; returns what it printed on standard output.
    static func runBrowser(_ browser: String, _ arguments: [String], url: String, profile: URL) throws -> String {
        // --no-sandbox: the tests may run as root, where chromium refuses its sandbox.
        let exit = try ChildProcess.runBlocking(
            browser,
            ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)"]
                + arguments + [url])
        guard exit.status == 0 else {
            throw DaemonError(reason: "\(browser) exited with \(exit.status)")
        }
        return exit.output
    }

    @Test func theBrowserShowsTheRoutesFiguresThePauseTheUnreachableAlertmanagerAndTheDeadLetter() async throws {
        let browser = try #require(Self.browser, "chromium is not installed (scripts/test installs it)")
        let fake = try await FakePagerDuty.start()
        // Refused, accepted, accepted, then a 429 that holds the key for ten minutes.
        fake.enqueue([
            .status(400, body: #"{"status":"invalid event","message":"Event object is invalid","errors":["summary is too dull"]}"#),
            .accept, .accept, .rateLimited(retryAfterSeconds: 600),
        ])
        let scratch = try ScratchDirectory()
        let closedPort = try FreePort.find()
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
            "--auth-token", DaemonProcess.authToken, "--alertmanager-url", "http://127.0.0.1:\(closedPort)",
            "--alertmanager-poll-interval", "1s",
        ])
        for index in 1...4 {
            let webhook = """
                {"version":"4","status":"firing","receiver":"pagerduty","groupKey":"{}:{alertname=\\"Page\(index)\\"}","alerts":[
                 {"status":"firing","labels":{"alertname":"Page\(index)","instance":"db-\(index)"},
                  "annotations":{"summary":"disk \(index) full"},"startsAt":"2026-11-28T10:00:00Z","fingerprint":"00000000000000a\(index)"}]}
                """
            let answer = try await HTTP.post(
                "\(daemon.baseURL)/v1/alertmanager", body: webhook, headers: ["Authorization": "Bearer \(DaemonProcess.authToken)"])
            #expect(answer.status == 202)
            // One at a time, so that the fake's answers meet the events in this order.
            try await waitUntil("PagerDuty answered event \(index)") { fake.requests.count >= index }
        }
        try await daemon.waitForLog("Alertmanager unreachable; the sync changes nothing it would need it for")

        let profile = scratch.url.appendingPathComponent("browser-profile")
        let dom = try Self.runBrowser(browser, ["--dump-dom"], url: "\(daemon.baseURL)/", profile: profile)
        let row = try #require(
            dom.split(separator: "\n").first { $0.contains(#"<tr data-route="default">"#) }.map(String.init),
            "the default route's row:\n\(dom)")
        #expect(row.contains(#"<td class="number pending">1</td>"#), "the event held by the 429: \(row)")
        #expect(row.contains(#"<td class="number dead">1</td>"#), "the refused event: \(row)")
        #expect(row.contains(#"<td class="number budget">4 / 120</td>"#), "four requests in the last minute: \(row)")
        #expect(row.contains(#"<td class="paused">429: paused "#), "\(row)")
        #expect(dom.contains("<td>127.0.0.1:\(closedPort)</td><td class=\"unreachable\">unreachable</td><td>never</td>"), "\(dom)")
        #expect(dom.contains("<code>00000000000000a1</code>"), "the dead letter's dedup_key")
        #expect(dom.contains("summary is too dull"), "PagerDuty's reason")
        #expect(dom.contains("<span id=\"version\">"))
        #expect(!dom.contains(DaemonProcess.routingKey), "never the routing key")

        // The browser draws it: a screenshot of the page is a PNG.
        let screenshot = scratch.url.appendingPathComponent("status.png")
        _ = try Self.runBrowser(
            browser, ["--screenshot=\(screenshot.path)", "--window-size=1280,900", "--hide-scrollbars"], url: "\(daemon.baseURL)/",
            profile: profile)
        let png = try Data(contentsOf: screenshot)
        #expect(png.count > 10_000 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG of \(png.count) bytes")
        if let keep = ProcessInfo.processInfo.environment["PAGERDUTY_PUBLISHER_STATUS_SCREENSHOT"] {
            try png.write(to: URL(fileURLWithPath: keep))
        }
        #expect(try await daemon.terminate() == 0)
        await fake.stop()
    }
}
