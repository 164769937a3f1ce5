import Foundation
import PagerDutyWebhooks
import PublisherTestSupport
import Testing

@Suite("PagerDuty webhook signatures", .timeLimit(.minutes(2)))
struct SignatureTests {
    private let body = SignedPagerDutyWebhook.incidentEventBody(
        .incidentAcknowledged,
        eventID: "01DEKPBSX4XQ6V2ZQ5RYT3HQ3B",
        occurredAt: Date(timeIntervalSince1970: 1_800_000_000),
        incident: IncidentSnapshot(id: "PGR0VU2", incidentKey: "d3640fbd41094207a1c11e58e46b1662")
    )

    private func verifier(_ secrets: String...) throws -> WebhookSignatureVerifier {
        WebhookSignatureVerifier(secrets: try WebhookSigningSecrets(secrets))
    }

    private func signature(_ secret: String, _ body: [UInt8]? = nil) -> String {
        SignedPagerDutyWebhook.signatureHeader(for: body ?? self.body, secrets: [secret])
    }

    // MARK: Matching

    @Test func theRightSecretIsValid() throws {
        #expect(try verifier("s3cret").check(body: body, headerValues: [signature("s3cret")]) == .valid)
    }

    @Test func aWrongSecretDoesNotMatch() throws {
        #expect(try verifier("s3cret").check(body: body, headerValues: [signature("another")]) == .noMatch)
        #expect(try verifier("s3cret").check(body: body, headerValues: [signature("s3cret ")]) == .noMatch)
    }

    @Test(arguments: [0, 1, 200, -1])
    func aBodyTamperedByOneByteDoesNotMatch(position: Int) throws {
        let header = signature("s3cret")
        var tampered = body
        let index = position < 0 ? tampered.count + position : position
        tampered[index] ^= 0x01
        #expect(try verifier("s3cret").check(body: tampered, headerValues: [header]) == .noMatch)
        #expect(try verifier("s3cret").check(body: body + [0x20], headerValues: [header]) == .noMatch)
        #expect(try verifier("s3cret").check(body: body.dropLast(), headerValues: [header]) == .noMatch)
    }

    @Test func duringARotationEitherSecretMatches() throws {
        let both = SignedPagerDutyWebhook.signatureHeader(for: body, secrets: ["old-secret", "new-secret"])
        #expect(both.split(separator: ",").count == 2)
        #expect(try verifier("new-secret").check(body: body, headerValues: [both]) == .valid)
        #expect(try verifier("old-secret").check(body: body, headerValues: [both]) == .valid)
        #expect(try verifier("other").check(body: body, headerValues: [both]) == .noMatch)
        // The daemon configured with both secrets, PagerDuty already signing with the new one only.
        let verifier = try verifier("old-secret", "new-secret")
        #expect(verifier.check(body: body, headerValues: [signature("new-secret")]) == .valid)
        #expect(verifier.check(body: body, headerValues: [signature("old-secret")]) == .valid)
        #expect(verifier.check(body: body, headerValues: [signature("third")]) == .noMatch)
    }

    @Test func aRepeatedHeaderCountsEveryValue() throws {
        let verifier = try verifier("s3cret")
        #expect(verifier.check(body: body, headerValues: [signature("wrong"), signature("s3cret")]) == .valid)
        #expect(verifier.check(body: body, headerValues: [signature("s3cret"), signature("wrong")]) == .valid)
        #expect(verifier.check(body: body, headerValues: [signature("wrong"), signature("wrong2")]) == .noMatch)
    }

    @Test func upperCaseHexAndAnUpperCaseVersionMatch() throws {
        let header = signature("s3cret")
        let hex = header.dropFirst(3)
        #expect(hex.contains(where: { "abcdef".contains($0) }), "the test needs letters among the digits")
        let verifier = try verifier("s3cret")
        #expect(verifier.check(body: body, headerValues: ["v1=" + hex.uppercased()]) == .valid)
        #expect(verifier.check(body: body, headerValues: ["V1=" + hex]) == .valid)
    }

    @Test func otherVersionsAreIgnoredAndWhitespaceAroundEntriesTolerated() throws {
        let verifier = try verifier("s3cret")
        let right = signature("s3cret")
        #expect(verifier.check(body: body, headerValues: ["v0=not-hex-at-all," + right]) == .valid)
        #expect(verifier.check(body: body, headerValues: ["v2=\(String(repeating: "ab", count: 64)),\(right)"]) == .valid)
        #expect(verifier.check(body: body, headerValues: ["  \(right) , v1=\(String(repeating: "0", count: 64))\t"]) == .valid)
        #expect(verifier.check(body: body, headerValues: [",\(right),,"]) == .valid)
    }

    @Test func aBodyWithoutContiguousStorageIsCheckedAlike() throws {
        let verifier = try verifier("s3cret")
        #expect(verifier.check(body: body.lazy.map { $0 }, headerValues: [signature("s3cret")]) == .valid)
        #expect(verifier.check(body: Data(body), headerValues: [signature("s3cret")]) == .valid)
        #expect(verifier.check(body: body.lazy.map { $0 ^ 1 }, headerValues: [signature("s3cret")]) == .noMatch)
    }

    @Test func anEmptyBodyIsCheckedLikeAnyOther() throws {
        let empty: [UInt8] = []
        let verifier = try verifier("s3cret")
        #expect(verifier.check(body: empty, headerValues: [signature("s3cret", empty)]) == .valid)
        #expect(verifier.check(body: empty, headerValues: [signature("s3cret")]) == .noMatch)
    }

    // MARK: Known vectors (expected values computed outside this project)

    /// RFC 4231, test case 2 (key "Jefe"), and the HMAC-SHA256 example of Wikipedia's HMAC article; both
    /// expected values were also checked with Python's `hmac` module.
    @Test(arguments: [
        ("Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ("key", "The quick brown fox jumps over the lazy dog", "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"),
    ])
    func publishedHMACSHA256Vectors(key: String, message: String, expectedHex: String) throws {
        let body = Array(message.utf8)
        #expect(try verifier(key).check(body: body, headerValues: ["v1=" + expectedHex]) == .valid)
        #expect(try verifier(key + "x").check(body: body, headerValues: ["v1=" + expectedHex]) == .noMatch)
        #expect(SignedPagerDutyWebhook.signatureHeader(for: body, secrets: [key]) == "v1=" + expectedHex)
    }

    // MARK: Missing and malformed headers

    @Test func noHeaderOrAnEmptyOneIsMissing() throws {
        let verifier = try verifier("s3cret")
        #expect(verifier.check(body: body, headerValues: []) == .missing)
        #expect(verifier.check(body: body, headerValues: [""]) == .missing)
        #expect(verifier.check(body: body, headerValues: ["  ", ""]) == .missing)
    }

    @Test(arguments: [
        ("v1=", "a v1 signature is not 64 hex digits"),
        ("v1=" + String(repeating: "g", count: 64), "a v1 signature is not 64 hex digits"),
        ("v1=" + String(repeating: "a", count: 63), "a v1 signature is not 64 hex digits"),
        ("v1=" + String(repeating: "a", count: 66), "a v1 signature is not 64 hex digits"),
        ("v1=" + String(repeating: "a", count: 62) + " a", "a v1 signature is not 64 hex digits"),
        ("sha256=" + String(repeating: "a", count: 64), "the header has no v1 signature"),
        ("v0=abc, v2=def", "the header has no v1 signature"),
        (",, ,", "the header has no v1 signature"),
        ("f03de6f61df6e454f3620c4d6aca17ad072d3f8bbb2760eac3b2ad391b5e8073", "an entry of the header is not version=signature"),
        (String(repeating: "v0=1,", count: 11), "the header has more than 10 signatures"),
        ("v0=" + String(repeating: "a", count: 3000), "the header is longer than 2048 bytes"),
    ])
    func aMalformedHeaderSaysWhyWithoutQuotingIt(header: String, reason: String) throws {
        let result = try verifier("s3cret").check(body: body, headerValues: [header])
        #expect(result == .malformed(reason: reason))
    }

    @Test func aMalformedEntryBesideTheRightSignatureIsStillMalformed() throws {
        let verifier = try verifier("s3cret")
        let right = signature("s3cret")
        #expect(verifier.check(body: body, headerValues: [right + ",v1=zz"]) == .malformed(reason: "a v1 signature is not 64 hex digits"))
        #expect(verifier.check(body: body, headerValues: [right, "junk"]) == .malformed(reason: "an entry of the header is not version=signature"))
    }

    @Test func moreThanTenSignaturesAreRefusedEvenWithTheRightOne() throws {
        let verifier = try verifier("s3cret")
        let right = signature("s3cret")
        let ten = Array(repeating: signature("wrong"), count: 9) + [right]
        #expect(verifier.check(body: body, headerValues: [ten.joined(separator: ",")]) == .valid)
        let eleven = Array(repeating: signature("wrong"), count: 10) + [right]
        #expect(verifier.check(body: body, headerValues: [eleven.joined(separator: ",")]) == .malformed(reason: "the header has more than 10 signatures"))
        // Counted over repeated headers too.
        #expect(verifier.check(body: body, headerValues: eleven) == .malformed(reason: "the header has more than 10 signatures"))
    }

    @Test func neitherTheSecretsNorTheVerifierShowASecret() throws {
        let secrets = try WebhookSigningSecrets(["hunter2-very-secret", "second-secret-value"])
        for text in [String(describing: secrets), String(reflecting: secrets),
                     String(describing: WebhookSignatureVerifier(secrets: secrets))] {
            #expect(!text.contains("hunter2"))
            #expect(!text.contains("second-secret"))
        }
        #expect(secrets.description == "2 PagerDuty webhook signing secret(s)")
    }
}
