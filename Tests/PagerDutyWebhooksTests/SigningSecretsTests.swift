import Foundation
import PagerDutyWebhooks
import PublisherTestSupport
import Testing

@Suite("PagerDuty webhook signing secrets", .timeLimit(.minutes(2)))
struct SigningSecretsTests {
    /// A fresh directory for one test's files; removed by `removeDirectory`.
    private final class Directory {
        let url: URL

        init() throws {
            url = FileManager.default.temporaryDirectory
                .appendingPathComponent("pagerduty-webhooks-tests-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        }

        deinit {
            try? FileManager.default.removeItem(at: url)
        }

        /// Writes `content` to `name` and returns its path.
        func file(_ name: String, _ content: String) throws -> String {
            let path = url.appendingPathComponent(name).path
            try Data(content.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
    }

    private func loadError(_ files: [String]) -> String? {
        do {
            _ = try WebhookSigningSecrets.load(files: files)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test func severalFilesTrimmedOfWhitespaceAndNewlines() throws {
        let directory = try Directory()
        let old = try directory.file("old", "old-secret\n")
        let new = try directory.file("new", "  \tnew-secret \r\n\n")
        let secrets = try WebhookSigningSecrets.load(files: [old, new])
        #expect(secrets.count == 2)
        let verifier = WebhookSignatureVerifier(secrets: secrets)
        let body = SignedPagerDutyWebhook.pingBody()
        for secret in ["old-secret", "new-secret"] {
            let header = SignedPagerDutyWebhook.signatureHeader(for: body, secrets: [secret])
            #expect(verifier.check(body: body, headerValues: [header]) == .valid, "the key is the trimmed text")
        }
        let untrimmed = SignedPagerDutyWebhook.signatureHeader(for: body, secrets: ["old-secret\n"])
        #expect(verifier.check(body: body, headerValues: [untrimmed]) == .noMatch)
    }

    @Test(arguments: ["", "\n", "  \t\r\n  "])
    func anEmptyFileIsRefusedNamingTheFile(content: String) throws {
        let directory = try Directory()
        let good = try directory.file("good", "a-secret")
        let empty = try directory.file("empty-secret", content)
        #expect(loadError([good, empty]) == "the PagerDuty webhook secret file \(empty) is empty")
    }

    @Test func aFileWithMoreThanOneSecretIsRefusedWithoutShowingThem() throws {
        let directory = try Directory()
        let path = try directory.file("two-lines", "first-SENTINEL\nsecond-SENTINEL\n")
        let reason = try #require(loadError([path]))
        #expect(reason.contains(path))
        #expect(reason.contains("holds whitespace or a control character inside"))
        #expect(!reason.contains("SENTINEL"))
    }

    @Test func aMissingOrUnreadableFileIsNamed() throws {
        let directory = try Directory()
        let missing = directory.url.appendingPathComponent("absent").path
        #expect(loadError([missing]) == "the PagerDuty webhook secret file \(missing) cannot be read: it does not exist or is not readable")
        let folder = directory.url.path
        let reason = try #require(loadError([folder]))
        #expect(reason.hasPrefix("the PagerDuty webhook secret file \(folder) cannot be read"))
    }

    @Test func aFileTooLargeForASecretIsRefusedWithoutShowingIt() throws {
        let directory = try Directory()
        let path = try directory.file("large", String(repeating: "SENTINEL", count: 1000))
        let reason = try #require(loadError([path]))
        #expect(reason.contains(path))
        #expect(!reason.contains("SENTINEL"))
        let justTooLong = try directory.file("long", String(repeating: "s", count: WebhookSigningSecrets.maximumSecretBytes + 1))
        #expect(loadError([justTooLong]) == "the PagerDuty webhook secret file \(justTooLong) is longer than 1024 bytes")
    }

    @Test func textThatIsNotUTF8IsRefused() throws {
        let directory = try Directory()
        let path = directory.url.appendingPathComponent("binary").path
        try Data([0x73, 0xff, 0xfe, 0x73]).write(to: URL(fileURLWithPath: path))
        #expect(loadError([path]) == "the PagerDuty webhook secret file \(path) is not UTF-8 text")
    }

    @Test func noFileIsRefused() {
        #expect(loadError([]) == "no PagerDuty webhook secret file was given")
    }

    @Test func secretsGivenAsTextAreCheckedAlike() throws {
        #expect(try WebhookSigningSecrets(["one", " two\n"]).count == 2)
        #expect(throws: WebhookSecretError.self) { try WebhookSigningSecrets([]) }
        do {
            _ = try WebhookSigningSecrets(["fine", " \n"])
            Issue.record("an empty secret was accepted")
        } catch {
            #expect(error.reason == "PagerDuty webhook signing secret 2 is empty")
        }
        do {
            _ = try WebhookSigningSecrets(["SENTINEL one"])
            Issue.record("a secret with a space inside was accepted")
        } catch {
            #expect(error.reason.hasPrefix("PagerDuty webhook signing secret 1 holds whitespace"))
            #expect(!error.reason.contains("SENTINEL"))
        }
    }

    @Test func dumpingTheSecretsShowsOnlyTheirCount() throws {
        let secrets = try WebhookSigningSecrets(["hunter2-very-secret"])
        var dumped = ""
        dump(WebhookSignatureVerifier(secrets: secrets), to: &dumped)
        #expect(dumped.contains("count: 1"))
        #expect(!dumped.contains("hunter2"))
        #expect(!dumped.contains("SymmetricKey"), "the keys are not reached")
    }

    @Test func theSameSecretsInTheSameOrderAreTheSameSetAndNothingElseIs() throws {
        let secrets = try WebhookSigningSecrets(["first-secret", "second-secret"])
        #expect(secrets.isSame(as: try WebhookSigningSecrets([" first-secret\n", "second-secret"])), "compared as keys, trimmed")
        #expect(!secrets.isSame(as: try WebhookSigningSecrets(["second-secret", "first-secret"])))
        #expect(!secrets.isSame(as: try WebhookSigningSecrets(["first-secret"])))
        #expect(!secrets.isSame(as: try WebhookSigningSecrets(["first-secret", "third-secret"])))
    }

    @Test func secretsInForceAreReplacedWholeForTheNextCheck() throws {
        let inForce = SigningSecretsInForce(try WebhookSigningSecrets(["old-secret"]))
        let body = SignedPagerDutyWebhook.pingBody()
        let signedWithOld = SignedPagerDutyWebhook.signatureHeader(for: body, secrets: ["old-secret"])
        let signedWithNew = SignedPagerDutyWebhook.signatureHeader(for: body, secrets: ["new-secret"])
        #expect(WebhookSignatureVerifier(secrets: inForce.current).check(body: body, headerValues: [signedWithOld]) == .valid)
        inForce.replace(with: try WebhookSigningSecrets(["new-secret"]))
        let verifier = WebhookSignatureVerifier(secrets: inForce.current)
        #expect(verifier.check(body: body, headerValues: [signedWithNew]) == .valid)
        #expect(verifier.check(body: body, headerValues: [signedWithOld]) == .noMatch)
    }
}
