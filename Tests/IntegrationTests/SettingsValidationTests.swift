import Foundation
import Logging
@testable import PagerDutyPublisher
import PublisherConfiguration
import PublisherCore
import PublisherReceiver
import StructuredLogging
import Synchronization
import Testing

/// The settings of `serve` checked in process: durations, blank secrets, the database path, YAML errors.
@Suite("Settings that must fail closed", .timeLimit(.minutes(2)))
struct SettingsValidationTests {
    func settings(_ arguments: [String], environment: [String: String] = [:]) throws -> ServeSettings {
        try ServeSettings(options: ServeCommand.parse(arguments), environment: environment)
    }

    func refusal(_ arguments: [String], environment: [String: String] = [:]) -> String? {
        do {
            _ = try settings(arguments, environment: environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        ("inf", DurationText.Problem.notFinite), ("infinity", .notFinite), ("nan", .notFinite), ("-nan", .negative),
        ("1e300", .tooLong), ("-5s", .negative), ("-5", .negative), ("-0.5", .negative), ("99999999999999h", .tooLong),
        ("3651d", .tooLong), ("1e3s", .malformed), ("5 s", .malformed), ("", .malformed), ("s", .malformed), ("5x", .malformed),
        ("١٢s", .malformed),
    ] as [(String, DurationText.Problem)])
    func unusableDurationsAreRefusedWithAReason(_ text: String, _ problem: DurationText.Problem) {
        #expect(throws: problem) { try DurationText.duration(text) }
        #expect(DurationText.parse(text) == nil)
    }

    @Test(arguments: [
        ("30s", Duration.seconds(30)), ("1500ms", .milliseconds(1500)), ("1h30m", .seconds(5400)), ("0", .zero),
        ("2.5", .milliseconds(2500)), ("3650d", DurationText.maximum), ("  4h ", .seconds(14_400)),
    ] as [(String, Duration)])
    func usableDurationsParse(_ text: String, _ expected: Duration) throws {
        #expect(try DurationText.duration(text) == expected)
    }

    @Test(arguments: ["inf", "1e300", "nan", "-5s"])
    func aServeDurationFlagThatIsNotUsableIsOneSentence(_ text: String) throws {
        let fromFlag = try #require(refusal(["--dry-run", "--retrigger-interval=\(text)"]))
        let fromVariable = try #require(refusal(["--dry-run"], environment: ["PAGERDUTY_PUBLISHER_RETRIGGER_INTERVAL": text]))
        for message in [fromFlag, fromVariable] {
            #expect(message.contains("The retrigger interval \"\(text)\" is not a usable duration"))
            #expect(message.contains("PAGERDUTY_PUBLISHER_RETRIGGER_INTERVAL"))
            #expect(!message.contains("\n"))
        }
    }

    @Test func blankTokensAndPasswordsFromFlagsOrVariablesStopTheDaemon() throws {
        for arguments in [["--auth-token", ""], ["--auth-token", "  "], ["--auth-token-file", ""],
                          ["--basic-auth-username", "am", "--basic-auth-password", " \t"],
                          ["--basic-auth-username", "am", "--basic-auth-password-file", ""]] {
            let message = try #require(refusal(["--dry-run"] + arguments), "\(arguments)")
            #expect(message.contains("empty"), "\(arguments): \(message)")
        }
        for (variable, value) in [("PAGERDUTY_PUBLISHER_AUTH_TOKEN", ""), ("PAGERDUTY_PUBLISHER_AUTH_TOKEN", " \n"),
                                  ("PAGERDUTY_PUBLISHER_AUTH_TOKEN_FILE", ""),
                                  ("PAGERDUTY_PUBLISHER_ALERTMANAGER_BEARER_TOKEN", "  ")] {
            let message = try #require(refusal(["--dry-run"], environment: [variable: value]), "\(variable)")
            #expect(message.contains("empty"), "\(variable): \(message)")
            #expect(message.contains(variable.replacingOccurrences(of: "_FILE", with: "")), "names where it came from: \(message)")
        }
        // Unset means no authentication, as before.
        #expect(try settings(["--dry-run"]).authToken == nil)
    }

    @Test func aBlankTokenFileStopsTheDaemonWithoutEchoingIt() throws {
        let scratch = try ScratchDirectory()
        let file = scratch.url.appendingPathComponent("auth-token").path
        try " \n\n".write(toFile: file, atomically: true, encoding: .utf8)
        let message = try #require(refusal(["--dry-run", "--auth-token-file", file]))
        #expect(message == "The auth token file \(file) is empty or blank.")
        let password = scratch.url.appendingPathComponent("password").path
        try "\n".write(toFile: password, atomically: true, encoding: .utf8)
        #expect(refusal(["--dry-run", "--basic-auth-username", "am", "--basic-auth-password-file", password])?.contains("empty or blank") == true)
    }

    @Test(arguments: ["mysql://pager:hunter2@db.internal/publisher", "sqlite:///var/lib/p.sqlite", "HTTPS://x", "file:publisher.sqlite?mode=rwc", "/tmp/"])
    func aDatabaseThatIsNotAFilePathIsRefused(_ database: String) throws {
        let message = try #require(refusal(["--dry-run", "--database", database]) ?? refusal(["--dry-run"], environment: ["PAGERDUTY_PUBLISHER_DATABASE": database, "PAGERDUTY_PUBLISHER_DATA_DIR": "/nonexistent-\(UUID())"]))
        #expect(message.contains("database"), "\(message)")
        #expect(!message.contains("hunter2"), "a URL's password is never echoed")
    }

    @Test func aPostgresURLSelectsThePostgresStoreWithItsFilesAndIsNeverPrintedWithItsPassword() throws {
        let url = "postgresql://pager:hunter2@db.internal:5433/publisher?sslmode=verify-full"
        let chosen = try settings([
            "--dry-run", "--database", url, "--database-password-file", "/run/secrets/pg", "--database-ca-file", "/run/ca.pem",
        ]).database
        #expect(chosen == .postgres(url: url, passwordFile: "/run/secrets/pg", caFile: "/run/ca.pem"))
        #expect(!chosen.description.contains("hunter2") && chosen.description.contains("db.internal:5433/publisher"))
        let fromEnvironment = try settings(
            ["--dry-run"],
            environment: [
                "PAGERDUTY_PUBLISHER_DATABASE": "postgres://pager@db/publisher",
                "PAGERDUTY_PUBLISHER_DATABASE_PASSWORD_FILE": "/run/secrets/pg",
            ]).database
        #expect(fromEnvironment == .postgres(url: "postgres://pager@db/publisher", passwordFile: "/run/secrets/pg", caFile: nil))
        let misplaced = try #require(refusal(["--dry-run", "--database", "/tmp/p.sqlite", "--database-ca-file", "/run/ca.pem"]))
        #expect(misplaced.contains("are for a postgres:// database"), "\(misplaced)")
    }

    @Test func plainDatabasePathsAreKept() throws {
        #expect(try settings(["--dry-run", "--database", "/var/lib/pagerduty-publisher/publisher.sqlite"]).database == .sqlite(path: "/var/lib/pagerduty-publisher/publisher.sqlite"))
        #expect(try settings(["--dry-run", "--database", "relative/colon:name.sqlite"]).database == .sqlite(path: "relative/colon:name.sqlite"))
    }

    @Test func aYAMLSyntaxErrorNamesLineAndColumnButNeverTheSourceText() throws {
        let scratch = try ScratchDirectory()
        let key = "YamlK3yYamlK3yYamlK3yYamlK3y0001"
        let path = scratch.url.appendingPathComponent("config.yaml").path
        try """
            routes:
              - name: web
                routing_key: \(key): oops
                match: ['team = web']
            """.write(toFile: path, atomically: true, encoding: .utf8)
        do throws(ConfigurationProblems) {
            _ = try RouteConfiguration.load(path: path, defaultRoute: nil, defaults: RouteDefaults())
            Issue.record("a broken file was accepted")
        } catch {
            #expect(!error.description.contains(key))
            #expect(!error.description.contains("oops"))
            #expect(error.description.contains("not valid YAML: line 3, column"), "\(error.description)")
        }
    }

    @Test(arguments: [("127.0.0.1", true), ("127.1.2.3", true), ("::1", true), ("localhost", true),
                      ("0.0.0.0", false), ("::", false), ("10.0.0.5", false), ("127.0.0.1.example.com", false)] as [(String, Bool)])
    func loopbackAddresses(_ host: String, _ loopback: Bool) {
        #expect(Daemon.isLoopback(host) == loopback)
    }
}

/// Re-reading the receiver's token and password files.
@Suite("Reloading the receiver's credential files", .timeLimit(.minutes(2)))
struct CredentialFileReloadTests {
    static let first = "first-T0ken-for-the-receiver-001"
    static let second = "second-T0ken-for-the-receiver-02"

    final class TestClock: PublisherClock {
        private let current = Mutex(Duration.zero)
        var now: Date { Date(timeIntervalSince1970: 0) }
        var uptime: Duration { current.withLock { $0 } }
        func sleep(for duration: Duration) async throws { advance(duration) }
        func advance(_ duration: Duration) { current.withLock { $0 += duration } }
    }

    @Test func aChangedTokenFileRotatesWithOverlapAndABlankOneKeepsTheTokenInForce() throws {
        let scratch = try ScratchDirectory()
        let file = scratch.url.appendingPathComponent("auth-token").path
        try (Self.first + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let settings = try ServeSettings(options: ServeCommand.parse(["--dry-run", "--auth-token-file", file]), environment: [:])
        let clock = TestClock()
        let credentials = try #require(ReceiverCredentials(token: settings.authToken, basic: nil, clock: clock))
        let redactor = SecretRedactor()
        let files = try #require(ReceiverCredentialFiles(settings: settings, credentials: credentials, redactor: redactor))
        let sink = MemoryLogSink()
        let logger = Logger(label: "test") { StructuredLogHandler(label: $0, format: .json, level: .trace, redactor: SecretRedactor(), sink: sink) }

        #expect(files.files == [file])
        #expect(!files.reload(reason: "test", logger: logger), "nothing changed")

        try (Self.second + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(files.reload(reason: "test", logger: logger))
        #expect(credentials.isAuthorized("Bearer \(Self.second)"))
        #expect(credentials.isAuthorized("Bearer \(Self.first)"), "the old token during the overlap")
        #expect(redactor.redact("x \(Self.second) y") == "x \(SecretRedactor.replacement) y", "registered for redaction")
        clock.advance(ReceiverCredentials.defaultOverlap)
        #expect(!credentials.isAuthorized("Bearer \(Self.first)"), "the old token after the overlap")

        try "  \n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(!files.reload(reason: "test", logger: logger))
        #expect(credentials.isAuthorized("Bearer \(Self.second)"), "a blank file keeps the token in force")
        #expect(!credentials.isAuthorized(nil), "never no auth")
        try FileManager.default.removeItem(atPath: file)
        #expect(!files.reload(reason: "test", logger: logger))
        #expect(credentials.isAuthorized("Bearer \(Self.second)"), "a missing file keeps the token in force")
        #expect(sink.lines.filter { $0.contains("Receiver credentials not reloaded") }.count == 2)
        #expect(sink.lines.contains { $0.contains("Receiver credentials reloaded") })
        #expect(!sink.lines.contains { $0.contains(Self.first) || $0.contains(Self.second) })
    }

    @Test func aChangedPasswordFileKeepsTheUserName() throws {
        let scratch = try ScratchDirectory()
        let file = scratch.url.appendingPathComponent("password").path
        try "old-password".write(toFile: file, atomically: true, encoding: .utf8)
        let settings = try ServeSettings(
            options: ServeCommand.parse(["--dry-run", "--basic-auth-username", "am", "--basic-auth-password-file", file]), environment: [:])
        let clock = TestClock()
        let credentials = try #require(ReceiverCredentials(
            token: nil, basic: BasicAuthCredentials(username: "am", password: "old-password"), clock: clock))
        let files = try #require(ReceiverCredentialFiles(settings: settings, credentials: credentials, redactor: SecretRedactor()))
        try "new-password\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(files.reload(reason: "test", logger: Logger(label: "test")))
        func basic(_ user: String, _ password: String) -> String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }
        #expect(credentials.isAuthorized(basic("am", "new-password")))
        clock.advance(.seconds(61))
        #expect(!credentials.isAuthorized(basic("am", "old-password")))
        #expect(!credentials.isAuthorized(basic("other", "new-password")))
    }

    @Test func aTokenGivenDirectlyIsNotWatched() throws {
        let settings = try ServeSettings(options: ServeCommand.parse(["--dry-run", "--auth-token", Self.first]), environment: [:])
        let credentials = ReceiverCredentials(token: settings.authToken, basic: nil)
        #expect(ReceiverCredentialFiles(settings: settings, credentials: credentials, redactor: SecretRedactor()) == nil)
    }
}
