import Foundation
import PublisherTestSupport
import Testing

/// Fail closed, on the real binary: blank secrets, rotated token files, YAML errors that never echo the source,
/// the warning for an open receiver, unusable durations.
@Suite("Fail closed on the real daemon", .serialized, .timeLimit(.minutes(5)))
struct FailClosedDaemonTests {
    static let first = "first-T0ken-for-the-receiver-001"
    static let second = "second-T0ken-for-the-receiver-02"

    @Test func aBlankTokenStopsServeWithExit78InsteadOfTurningAuthOff() async throws {
        let scratch = try ScratchDirectory()
        let file = scratch.url.appendingPathComponent("auth-token").path
        try "\n".write(toFile: file, atomically: true, encoding: .utf8)
        for (arguments, environment) in [
            (["--auth-token-file", file], [:]), (["--auth-token", " "], [:]), ([], ["PAGERDUTY_PUBLISHER_AUTH_TOKEN": ""]),
        ] as [([String], [String: String])] {
            let exit = try await DaemonProcess.runToExit(
                ["serve", "--dry-run", "--listen", "127.0.0.1:0", "--database", scratch.database] + arguments, environment: environment)
            #expect(exit.status == 78, "\(arguments) \(environment)")
            #expect(exit.errorOutput.contains("auth token"), "\(exit.errorOutput)")
            #expect(exit.errorOutput.split(separator: "\n").count == 1)
            #expect(!exit.output.contains("Receiver listening"))
        }
    }

    @Test func anUnusableDurationIsExit78WithASentence() async throws {
        let exit = try await DaemonProcess.runToExit(["serve", "--dry-run", "--listen", "127.0.0.1:0", "--ledger-ttl", "1e300"])
        #expect(exit.status == 78)
        #expect(exit.errorOutput.contains("The ledger TTL \"1e300\" is not a usable duration"))
        #expect(exit.errorOutput.split(separator: "\n").count == 1)
    }

    @Test func aRotatedTokenFileIsReloadedWithOverlapAndABlankOneKeepsTheToken() async throws {
        let scratch = try ScratchDirectory()
        let file = scratch.url.appendingPathComponent("auth-token").path
        try (Self.first + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let daemon = try await DaemonProcess(arguments: [
            "--dry-run", "--database", scratch.database, "--auth-token-file", file, "--config-check-interval", "100ms",
        ])
        let url = "\(daemon.baseURL)/v1/alertmanager"
        func post(_ token: String?) async throws -> Int {
            try await HTTP.post(url, body: Webhook.body(Webhook.firing("Rotated", ["r"])),
                                headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:]).status
        }
        #expect(try await post(Self.first) == 202)
        #expect(try await post(Self.second) == 401)

        try (Self.second + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        try await daemon.waitForLog("Receiver credentials reloaded; the previous ones stay valid for the overlap")
        #expect(try await post(Self.second) == 202)
        #expect(try await post(Self.first) == 202, "the old token within the 60 s overlap")

        try "   \n".write(toFile: file, atomically: true, encoding: .utf8)
        try await daemon.waitForLog("Receiver credentials not reloaded; keeping the secret in force")
        #expect(try await post(Self.second) == 202)
        #expect(try await post(nil) == 401, "a blank file never means no auth")

        let logs = daemon.lines.joined(separator: "\n")
        #expect(!logs.contains(Self.first) && !logs.contains(Self.second))
        #expect(try await daemon.terminate() == 0)
    }

    @Test func yamlErrorsNeverEchoTheSourceLineAtStartOrOnReload() async throws {
        let scratch = try ScratchDirectory()
        let config = scratch.url.appendingPathComponent("config.yaml").path
        let inlineKey = "Inl1neK3yInl1neK3yInl1neK3yInl01"
        let broken = """
            routes:
              - name: web
                routing_key: \(inlineKey): [
                match: ['team = web']
            """
        try broken.write(toFile: config, atomically: true, encoding: .utf8)
        let start = try await DaemonProcess.runToExit(
            ["serve", "--dry-run", "--listen", "127.0.0.1:0", "--database", scratch.database, "--config", config])
        #expect(start.status == 78)
        #expect(start.errorOutput.contains("not valid YAML: line"), "\(start.errorOutput)")
        #expect(!start.errorOutput.contains(inlineKey))
        #expect(!start.output.contains(inlineKey))
        let check = try await DaemonProcess.runToExit(["check-config", "--config", config])
        #expect(check.status != 0)
        #expect(!check.errorOutput.contains(inlineKey) && !check.output.contains(inlineKey))

        try """
            routes:
              - name: web
                routing_key: WebKeyWebKeyWebKeyWebKeyWebKey03
                match: ['team=web']
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try await DaemonProcess(arguments: [
            "--database", scratch.database, "--config", config, "--events-url", "http://127.0.0.1:9", "--config-check-interval", "1h",
        ])
        try broken.write(toFile: config, atomically: true, encoding: .utf8)
        daemon.hangUp()
        try await daemon.waitForLog("Configuration reload failed; keeping the routes in force")
        let failure = try #require(daemon.records.first { $0["msg"] as? String == "Configuration reload failed; keeping the routes in force" })
        #expect((failure["problems"] as? String)?.contains("line 3, column") == true, "\(failure)")
        #expect(!daemon.lines.joined().contains(inlineKey))
        #expect(try await daemon.terminate() == 0)
    }

    @Test func listeningBeyondLoopbackWithoutAuthIsWarnedAboutAndWithAuthIsNot() async throws {
        let scratch = try ScratchDirectory()
        let open = try await DaemonProcess(arguments: ["--dry-run", "--database", scratch.database, "--listen", "0.0.0.0:0"])
        let warning = "The receiver listens on a non-loopback address without authentication: anyone who reaches it can page. Set --auth-token-file (or basic auth), or listen on 127.0.0.1."
        try await open.waitForLog(warning)
        #expect(try await open.terminate() == 0)

        let other = try ScratchDirectory()
        let guarded = try await DaemonProcess(arguments: [
            "--dry-run", "--database", other.database, "--listen", "0.0.0.0:0", "--auth-token", Self.first,
        ])
        let local = try await DaemonProcess(arguments: ["--dry-run", "--database", scratch.database])
        try await guarded.waitForLog("pagerduty-publisher starting")
        try await local.waitForLog("pagerduty-publisher starting")
        #expect(!guarded.records.contains { $0["msg"] as? String == warning })
        #expect(!local.records.contains { $0["msg"] as? String == warning })
        _ = try await guarded.terminate()
        _ = try await local.terminate()
    }
}

/// One daemon per database file.
@Suite("Two daemons on one SQLite file", .serialized, .timeLimit(.minutes(5)))
struct DatabaseLockDaemonTests {
    @Test func aSecondServeOnTheSameDatabaseExits78NamingTheFirstAndQueueCommandsStillWork() async throws {
        let scratch = try ScratchDirectory()
        let first = try await DaemonProcess(arguments: ["--dry-run", "--database", scratch.database])

        let second = try await DaemonProcess.runToExit(["serve", "--dry-run", "--listen", "127.0.0.1:0", "--database", scratch.database])
        #expect(second.status == 78)
        #expect(second.errorOutput.contains("already used by process \(first.pid)"), "\(second.errorOutput)")
        #expect(second.errorOutput.contains(scratch.database))
        #expect(second.errorOutput.split(separator: "\n").count == 1)
        #expect(!second.output.contains("Receiver listening"))

        let status = try await DaemonProcess.runToExit(["queue", "status", "--database", scratch.database])
        #expect(status.status == 0, "\(status.errorOutput)")
        let list = try await DaemonProcess.runToExit(["queue", "list", "--database", scratch.database])
        #expect(list.status == 0, "\(list.errorOutput)")

        let answer = try await HTTP.post("\(first.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("Still", ["s"])))
        #expect(answer.status == 202, "the first daemon is unaffected")
        #expect(try await first.terminate() == 0)

        // The lock ends with the process: the next serve starts.
        let next = try await DaemonProcess(arguments: ["--dry-run", "--database", scratch.database])
        next.kill()
        let afterKill = try await DaemonProcess(arguments: ["--dry-run", "--database", scratch.database])
        #expect(try await afterKill.terminate() == 0, "a SIGKILLed daemon leaves no lock behind")
    }

    @Test func aDatabaseURLOfAnotherStoreIsRefusedAndCreatesNothing() async throws {
        let scratch = try ScratchDirectory()
        let exit = try await DaemonProcess.runToExit(
            ["serve", "--dry-run", "--listen", "127.0.0.1:0", "--database", "mysql://pager:hunter2@db.internal/publisher"],
            workingDirectory: scratch.url)
        #expect(exit.status == 78)
        #expect(exit.errorOutput.contains("is a URL of a store that is not supported"), "\(exit.errorOutput)")
        #expect(!exit.errorOutput.contains("hunter2"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty, "no directory named after the URL")

        let queue = try await DaemonProcess.runToExit(["queue", "status", "--database", "mysql://pager:hunter2@db.internal/publisher"])
        #expect(queue.status != 0)
        #expect(queue.errorOutput.contains("is a URL"), "\(queue.errorOutput)")
        #expect(!queue.errorOutput.contains("hunter2"))
    }
}
