import Foundation

/// The credentials Alertmanager's `basic_auth` sends.
public struct BasicAuthCredentials: Sendable, Hashable, CustomStringConvertible {
    public var username: String
    /// Secret: never logged.
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public var description: String { "BasicAuthCredentials(username: \(username), password: set)" }
}

/// Checks an `Authorization` header against the configured bearer token and/or basic credentials, in constant
/// time: either configured scheme is accepted.
struct RequestAuthenticator: Sendable {
    private let bearer: BearerTokenVerifier?
    private let basic: [UInt8]?

    /// `nil` when neither a token nor basic credentials are configured (every request is accepted).
    init?(token: String?, basic credentials: BasicAuthCredentials?) {
        guard token != nil || credentials != nil else { return nil }
        bearer = token.map(BearerTokenVerifier.init(token:))
        basic = credentials.map { Array(Data("\($0.username):\($0.password)".utf8).base64EncodedString().utf8) }
    }

    /// Whether `authorization` carries a configured token or the configured basic credentials.
    func isAuthorized(_ authorization: String?) -> Bool {
        if let bearer, bearer.isAuthorized(authorization) { return true }
        guard let basic, let authorization else { return false }
        let trimmed = authorization.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " "), trimmed[..<space].lowercased() == "basic" else { return false }
        let presented = trimmed[space...].trimmingCharacters(in: .whitespaces)
        return BearerTokenVerifier.constantTimeEquals(Array(presented.utf8), basic)
    }
}
