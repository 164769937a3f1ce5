import Foundation
import HummingbirdTesting
import PublisherCore
import PublisherReceiver
import Synchronization
import Testing

/// A clock whose uptime only moves when the test says so.
final class ManualUptimeClock: PublisherClock {
    private let current = Mutex(Duration.zero)
    var now: Date { Date(timeIntervalSince1970: 1_800_000_000) + Double(uptime.components.seconds) }
    var uptime: Duration { current.withLock { $0 } }
    func sleep(for duration: Duration) async throws { advance(by: duration) }
    func advance(by duration: Duration) { current.withLock { $0 += duration } }
}

@Suite("Rotating the receiver's credentials", .timeLimit(.minutes(2)))
struct CredentialRotationTests {
    static let oldToken = "old-T0ken-of-the-receiver-1f2e3d"
    static let newToken = "new-T0ken-of-the-receiver-9a8b7c"
    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    @Test func theReplacedTokenIsAcceptedForTheOverlapOnlyAndTheNewOneAtOnce() throws {
        let clock = ManualUptimeClock()
        let credentials = try #require(ReceiverCredentials(token: Self.oldToken, basic: nil, overlap: .seconds(60), clock: clock))
        #expect(credentials.isAuthorized("Bearer \(Self.oldToken)"))
        #expect(!credentials.isAuthorized("Bearer \(Self.newToken)"))

        #expect(credentials.replace(token: Self.newToken, basic: nil))
        #expect(credentials.isAuthorized("Bearer \(Self.newToken)"))
        clock.advance(by: .seconds(59))
        #expect(credentials.isAuthorized("Bearer \(Self.oldToken)"), "inside the overlap")
        clock.advance(by: .seconds(1))
        #expect(!credentials.isAuthorized("Bearer \(Self.oldToken)"), "the overlap is over")
        #expect(credentials.isAuthorized("Bearer \(Self.newToken)"))
        #expect(!credentials.isAuthorized(nil))
    }

    @Test func aSecondRotationEndsTheFirstOnesGrace() throws {
        let clock = ManualUptimeClock()
        let credentials = try #require(ReceiverCredentials(token: "first-token-aaaaaaaa", basic: nil, clock: clock))
        credentials.replace(token: "second-token-bbbbbbb", basic: nil)
        credentials.replace(token: "third-token-ccccccccc", basic: nil)
        #expect(!credentials.isAuthorized("Bearer first-token-aaaaaaaa"))
        #expect(credentials.isAuthorized("Bearer second-token-bbbbbbb"))
        #expect(credentials.isAuthorized("Bearer third-token-ccccccccc"))
    }

    @Test func aBasicPasswordRotatesTheSameWay() throws {
        let clock = ManualUptimeClock()
        let credentials = try #require(ReceiverCredentials(
            token: nil, basic: BasicAuthCredentials(username: "am", password: "old-pass"), clock: clock))
        credentials.replace(token: nil, basic: BasicAuthCredentials(username: "am", password: "new-pass"))
        #expect(credentials.isAuthorized(Self.basic("am", "new-pass")))
        #expect(credentials.isAuthorized(Self.basic("am", "old-pass")))
        clock.advance(by: ReceiverCredentials.defaultOverlap)
        #expect(!credentials.isAuthorized(Self.basic("am", "old-pass")))
        #expect(!credentials.isAuthorized(Self.basic("am", "")))
    }

    @Test("credentials are never replaced by none or by a blank secret", arguments: ["", "  ", "\n"])
    func blankOrNoneIsRefused(_ blank: String) throws {
        let credentials = try #require(ReceiverCredentials(token: Self.oldToken, basic: nil))
        #expect(!credentials.replace(token: nil, basic: nil))
        #expect(!credentials.replace(token: blank, basic: nil))
        #expect(!credentials.replace(token: nil, basic: BasicAuthCredentials(username: "am", password: blank)))
        #expect(credentials.isAuthorized("Bearer \(Self.oldToken)"))
        #expect(!credentials.isAuthorized(nil))
        #expect(!credentials.isAuthorized("Bearer \(blank)"))
        #expect(!credentials.description.contains(Self.oldToken))
    }

    @Test func theReceiverChecksTheLiveCredentials() async throws {
        let clock = ManualUptimeClock()
        let credentials = try #require(ReceiverCredentials(token: Self.oldToken, basic: nil, clock: clock))
        var harness = ReceiverHarness()
        harness.configuration.credentials = credentials
        try await harness.run { client in
            let status1 = try await client.postWebhook(realisticWebhook, authorization: "Bearer \(Self.oldToken)").status
            #expect(status1 == .accepted)
            credentials.replace(token: Self.newToken, basic: nil)
            let status2 = try await client.postWebhook(realisticWebhook, authorization: "Bearer \(Self.newToken)").status
            #expect(status2 == .accepted)
            let status3 = try await client.postWebhook(realisticWebhook, authorization: "Bearer \(Self.oldToken)").status
            #expect(status3 == .accepted)
            clock.advance(by: .seconds(61))
            let status4 = try await client.postWebhook(realisticWebhook, authorization: "Bearer \(Self.oldToken)").status
            #expect(status4 == .unauthorized)
            let status5 = try await client.postWebhook(realisticWebhook).status
            #expect(status5 == .unauthorized)
        }
        #expect(harness.ingestor.calls.count == 3)
    }
}
