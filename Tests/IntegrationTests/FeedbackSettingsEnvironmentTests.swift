import Foundation
@testable import PagerDutyPublisher
import PagerDutyWebhooks
import PublisherCore
import Testing

/// The environment variables of PagerDuty's webhooks and what the daemon does about them (issue 14): each one is
/// honoured, a flag beats it, and a bad value stops the daemon with a sentence naming it.
@Suite("PagerDuty feedback settings from the environment", .timeLimit(.minutes(2)))
struct FeedbackSettingsEnvironmentTests {
    static let secretFilesVariable = "PAGERDUTY_PUBLISHER_PAGERDUTY_WEBHOOK_SECRET_FILES"

    func settings(_ arguments: [String] = [], environment: [String: String]) throws -> ServeSettings {
        try ServeSettings(options: ServeCommand.parse(["--dry-run"] + arguments), environment: environment)
    }

    func refusal(_ arguments: [String] = [], environment: [String: String]) -> String? {
        do {
            _ = try settings(arguments, environment: environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Two secret files in `scratch`, holding `first-secret-0001` and `second-secret-0002`.
    func secretFiles(in scratch: borrowing ScratchDirectory) throws -> [String] {
        try ["first-secret-0001", "second-secret-0002"].enumerated().map { index, secret in
            let path = scratch.url.appendingPathComponent("webhook-secret-\(index)").path
            try "\(secret)\n".write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
    }

    @Test func withoutTheVariablesTheDefaultsHold() throws {
        let settings = try settings(environment: [:])
        #expect(settings.routeDefaults.feedbackPolicy == FeedbackPolicy(acknowledged: .nothing, manualResolve: .nothing, reopen: .nothing))
        #expect(settings.alertmanagerSync.acknowledgedSilenceDuration == .seconds(3600))
        #expect(settings.pagerDutyWebhookSecrets == nil && settings.pagerDutyWebhookSecretFiles.isEmpty)
    }

    @Test func eachVariableIsHonoured() throws {
        let scratch = try ScratchDirectory()
        let files = try secretFiles(in: scratch)
        let settings = try settings(environment: [
            Self.secretFilesVariable: " \(files[0]) ,\(files[1]),",
            "PAGERDUTY_PUBLISHER_ACKNOWLEDGED_ACTION": "silence",
            "PAGERDUTY_PUBLISHER_ACK_SILENCE_DURATION": "15m",
            "PAGERDUTY_PUBLISHER_MANUAL_RESOLVE_ACTION": "retrigger-after:10m",
            "PAGERDUTY_PUBLISHER_REOPEN_ACTION": "resolve-then-trigger",
        ])
        #expect(settings.routeDefaults.feedbackPolicy == FeedbackPolicy(
            acknowledged: .silence, manualResolve: .retriggerAfter(.seconds(600)), reopen: .resolveThenTrigger))
        #expect(settings.alertmanagerSync.acknowledgedSilenceDuration == .seconds(900))
        #expect(settings.pagerDutyWebhookSecretFiles == files, "comma-separated, blanks around and empty entries dropped")
        let secrets = try #require(settings.pagerDutyWebhookSecrets)
        #expect(secrets.isSame(as: try WebhookSigningSecrets(["first-secret-0001", "second-secret-0002"])))
    }

    @Test(arguments: [
        ("silence:2h", ManualResolveAction.silence(.seconds(7200))),
        ("Retrigger-After:90s", .retriggerAfter(.seconds(90))),
        ("nothing", .nothing),
    ])
    func everyFormOfTheManualResolveActionIsRead(text: String, expected: ManualResolveAction) throws {
        let settings = try settings(environment: ["PAGERDUTY_PUBLISHER_MANUAL_RESOLVE_ACTION": text])
        #expect(settings.routeDefaults.feedbackPolicy.manualResolve == expected)
    }

    @Test func aFlagBeatsTheVariable() throws {
        let scratch = try ScratchDirectory()
        let files = try secretFiles(in: scratch)
        let settings = try settings(
            [
                "--pagerduty-webhook-secret-file", files[1], "--acknowledged-action", "nothing",
                "--ack-silence-duration", "30m", "--manual-resolve-action", "silence:5m", "--reopen-action", "nothing",
            ],
            environment: [
                Self.secretFilesVariable: files[0],
                "PAGERDUTY_PUBLISHER_ACKNOWLEDGED_ACTION": "silence",
                "PAGERDUTY_PUBLISHER_ACK_SILENCE_DURATION": "15m",
                "PAGERDUTY_PUBLISHER_MANUAL_RESOLVE_ACTION": "retrigger-after:10m",
                "PAGERDUTY_PUBLISHER_REOPEN_ACTION": "resolve-then-trigger",
            ])
        #expect(settings.routeDefaults.feedbackPolicy == FeedbackPolicy(
            acknowledged: .nothing, manualResolve: .silence(.seconds(300)), reopen: .nothing))
        #expect(settings.alertmanagerSync.acknowledgedSilenceDuration == .seconds(1800))
        #expect(settings.pagerDutyWebhookSecretFiles == [files[1]])
        #expect(try #require(settings.pagerDutyWebhookSecrets).isSame(as: try WebhookSigningSecrets(["second-secret-0002"])))

        // With the flag given, the variable is not read at all: a bad value there is no error.
        #expect(refusal(["--reopen-action", "nothing", "--pagerduty-webhook-secret-file", files[0]], environment: [
            "PAGERDUTY_PUBLISHER_REOPEN_ACTION": "sometimes", Self.secretFilesVariable: "/nonexistent/\(UUID())",
        ]) == nil)
    }

    @Test(arguments: [
        ("PAGERDUTY_PUBLISHER_ACKNOWLEDGED_ACTION", "snooze", "--acknowledged-action \"snooze\" is not one of silence, nothing"),
        ("PAGERDUTY_PUBLISHER_ACK_SILENCE_DURATION", "soon", "--ack-silence-duration \"soon\" is not a usable duration"),
        ("PAGERDUTY_PUBLISHER_ACK_SILENCE_DURATION", "-1h", "--ack-silence-duration \"-1h\" is not a usable duration"),
        ("PAGERDUTY_PUBLISHER_MANUAL_RESOLVE_ACTION", "page-again", "--manual-resolve-action \"page-again\" is not one of"),
        ("PAGERDUTY_PUBLISHER_MANUAL_RESOLVE_ACTION", "retrigger-after:0s", "--manual-resolve-action \"retrigger-after:0s\""),
        ("PAGERDUTY_PUBLISHER_MANUAL_RESOLVE_ACTION", "silence:", "--manual-resolve-action \"silence:\""),
        ("PAGERDUTY_PUBLISHER_REOPEN_ACTION", "sometimes", "--reopen-action \"sometimes\" is not one of resolve-then-trigger, nothing"),
    ])
    func aBadValueIsRefusedInOneSentenceNamingTheVariable(variable: String, value: String, sentence: String) throws {
        let message = try #require(refusal(environment: [variable: value]))
        #expect(message.contains(sentence), "\(message)")
        #expect(message.contains(variable), "\(message)")
        #expect(!message.contains("\n"))
    }

    /// A secret file that cannot be used, or a silence too short to extend, named by the flag and the variable.
    @Test func aBadSecretFileOrTooShortASilenceFromTheVariableIsRefused() throws {
        let scratch = try ScratchDirectory()
        let empty = scratch.url.appendingPathComponent("empty-secret").path
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let missing = scratch.url.appendingPathComponent("missing-secret").path
        let cases: [(variable: String, value: String, sentence: String)] = [
            (Self.secretFilesVariable, missing, "the PagerDuty webhook secret file \(missing) cannot be read"),
            (Self.secretFilesVariable, "\(empty)", "the PagerDuty webhook secret file \(empty)"),
            ("PAGERDUTY_PUBLISHER_ACK_SILENCE_DURATION", "10s", "--ack-silence-duration must be at least 1m"),
        ]
        for (variable, value, sentence) in cases {
            let message = try #require(refusal(environment: [variable: value]), "\(variable)=\(value)")
            #expect(message.contains(sentence), "\(message)")
            #expect(!message.contains("\n"))
            #expect(message.contains(variable), "\(message)")
        }
    }

    /// The binary reads the variables from its environment: a bad value stops `serve` with exit code 78.
    @Test(arguments: [
        ("PAGERDUTY_PUBLISHER_ACKNOWLEDGED_ACTION", "snooze"),
        ("PAGERDUTY_PUBLISHER_ACK_SILENCE_DURATION", "soon"),
        ("PAGERDUTY_PUBLISHER_MANUAL_RESOLVE_ACTION", "page-again"),
        ("PAGERDUTY_PUBLISHER_REOPEN_ACTION", "sometimes"),
    ])
    func aBadVariableStopsTheDaemonWithExitCode78(variable: String, value: String) async throws {
        let exit = try await DaemonProcess.runToExit(["serve", "--dry-run"], environment: [variable: value])
        #expect(exit.status == 78)
        #expect(exit.errorOutput.contains(variable), "\(exit.errorOutput)")
    }

    @Test func anUnreadableSecretFileFromTheVariableStopsTheDaemon() async throws {
        let scratch = try ScratchDirectory()
        let missing = scratch.url.appendingPathComponent("missing-secret").path
        let exit = try await DaemonProcess.runToExit(["serve", "--dry-run"], environment: [Self.secretFilesVariable: missing])
        #expect(exit.status == 78)
        #expect(exit.errorOutput.contains(missing), "\(exit.errorOutput)")
    }
}
