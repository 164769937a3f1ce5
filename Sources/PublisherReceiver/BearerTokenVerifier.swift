/// Checks an `Authorization` header against the configured bearer token in constant time.
///
/// The comparison always walks the whole presented token and never stops at the first difference, so its
/// duration reveals nothing about how much of the token a caller guessed right.
struct BearerTokenVerifier: Sendable {
    private let expected: [UInt8]

    init(token: String) {
        self.expected = Array(token.utf8)
    }

    /// Whether `authorization` is `Bearer <token>` (scheme case-insensitive) with the configured token.
    func isAuthorized(_ authorization: String?) -> Bool {
        guard let presented = Self.bearerCredentials(authorization) else { return false }
        return Self.constantTimeEquals(Array(presented.utf8), expected)
    }

    /// The credentials of a `Bearer` authorization header, without surrounding spaces.
    private static func bearerCredentials(_ authorization: String?) -> Substring? {
        guard let authorization else { return nil }
        let trimmed = authorization.drop(while: { $0 == " " || $0 == "\t" })
        guard let space = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        guard trimmed[..<space].lowercased() == "bearer" else { return nil }
        var credentials = trimmed[space...].drop(while: { $0 == " " || $0 == "\t" })
        while let last = credentials.last, last == " " || last == "\t" {
            credentials = credentials.dropLast()
        }
        return credentials.isEmpty ? nil : credentials
    }

    /// Compares every byte of `presented` (and the lengths) without an early exit.
    @inline(never)
    static func constantTimeEquals(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference: UInt8 = presented.count == expected.count ? 0 : 1
        let expectedCount = expected.count
        for index in 0..<presented.count {
            let other = expectedCount == 0 ? 0 : expected[index % expectedCount]
            difference |= presented[index] ^ other
        }
        return difference == 0
    }
}
