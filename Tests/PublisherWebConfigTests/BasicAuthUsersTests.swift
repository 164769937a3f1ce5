import Foundation
import HummingbirdBcrypt
import Testing

@testable import PublisherWebConfig

@Suite("basic_auth_users: bcrypt checks and their cache")
struct BasicAuthUsersTests {
    static func header(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    @Test func theRightPasswordPassesAndAWrongOneDoesNot() async {
        let users = BasicAuthUsers(users: ["alertmanager": Bcrypt.hash("s3cret", cost: 4)])
        #expect(await users.isAuthorized(Self.header("alertmanager", "s3cret")))
        #expect(await !users.isAuthorized(Self.header("alertmanager", "s3cret!")))
        #expect(await !users.isAuthorized(Self.header("someone", "s3cret")))
        #expect(await !users.isAuthorized("Bearer s3cret"))
        #expect(await !users.isAuthorized(nil))
    }

    @Test func htpasswdsDollar2yHashesAreAccepted() async {
        let made = Bcrypt.hash("pw", cost: 4)
        let htpasswd = "$2y$" + made.dropFirst(4)
        #expect(BcryptHash.isWellFormed(htpasswd))
        let users = BasicAuthUsers(users: ["u": htpasswd])
        #expect(await users.verify(user: "u", password: "pw"))
    }

    @Test func aSuccessIsCachedSoTheNextCheckCostsNoBcrypt() async {
        let users = BasicAuthUsers(users: ["u": Bcrypt.hash("pw", cost: 4)])
        #expect(await users.verify(user: "u", password: "pw"))
        let afterFirst = users.bcryptRuns
        #expect(afterFirst == 1)
        for _ in 0..<5 { #expect(await users.verify(user: "u", password: "pw")) }
        #expect(users.bcryptRuns == afterFirst)
        // Failures are never cached: each costs a bcrypt.
        #expect(await !users.verify(user: "u", password: "wrong"))
        #expect(await !users.verify(user: "u", password: "wrong"))
        #expect(users.bcryptRuns == afterFirst + 2)
    }

    @Test func anUnknownUserStillCostsABcrypt() async {
        let users = BasicAuthUsers(users: ["u": Bcrypt.hash("pw", cost: 4)])
        #expect(await !users.verify(user: "nobody", password: "pw"))
        #expect(users.bcryptRuns == 1)
    }

    @Test func theCacheKeyIsADigestThatChangesWithTheHash() {
        let one = BasicAuthUsers.cacheKey(user: "u", password: "pw", hash: "h1")
        let other = BasicAuthUsers.cacheKey(user: "u", password: "pw", hash: "h2")
        #expect(one.count == 32)
        #expect(one != other)
        #expect(!String(decoding: one, as: UTF8.self).contains("pw"))
        // The parts are length-prefixed: moving a character from the user to the password changes the key.
        #expect(BasicAuthUsers.cacheKey(user: "ab", password: "c", hash: "h") != BasicAuthUsers.cacheKey(user: "a", password: "bc", hash: "h"))
    }

    @Test func theDescriptionNamesUsersButNeverAHash() {
        let hash = Bcrypt.hash("pw", cost: 4)
        let users = BasicAuthUsers(users: ["alice": hash])
        #expect(users.description == "BasicAuthUsers(alice)")
        #expect(!users.description.contains(hash))
    }
}
