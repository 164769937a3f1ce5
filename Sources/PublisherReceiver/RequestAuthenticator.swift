import Foundation
import PublisherCore
import Synchronization

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

/// The receiver's credentials in force: a bearer token and/or basic credentials, replaceable while the daemon
/// runs (a rotated token or password file).
///
/// After ``replace(token:basic:)`` the credentials replaced stay valid for ``overlap`` (60 s by default), so
/// that a sender that has not re-read the new secret yet (Alertmanager reads its `credentials_file` on every
/// notification, but the two files may not change at the same instant) is not refused meanwhile. Only the
/// credentials just replaced get this grace; a second replacement within the overlap ends the first one's.
/// Credentials can never be replaced by none or by a blank secret: authentication, once on, stays on.
public final class ReceiverCredentials: Sendable, CustomStringConvertible {
    /// How long replaced credentials are still accepted: 60 s.
    public static let defaultOverlap = Duration.seconds(60)

    private struct State {
        var current: CredentialCheck
        /// The credentials replaced last, and the uptime until which they are accepted.
        var previous: (check: CredentialCheck, until: Duration)?
    }

    /// How long replaced credentials are still accepted.
    public let overlap: Duration
    private let clock: any PublisherClock
    private let state: Mutex<State>

    /// `nil` when neither a token nor basic credentials are given. A blank token or password is never "no
    /// auth": it refuses every request.
    public init?(
        token: String?, basic: BasicAuthCredentials?, overlap: Duration = ReceiverCredentials.defaultOverlap,
        clock: any PublisherClock = SystemClock()
    ) {
        guard let check = CredentialCheck(token: token, basic: basic) else { return nil }
        self.overlap = overlap
        self.clock = clock
        state = Mutex(State(current: check, previous: nil))
    }

    /// Puts `token` and `basic` in force; the credentials they replace stay valid for ``overlap``.
    /// - Returns: `false`, changing nothing, when both are `nil` or one of them is blank.
    @discardableResult
    public func replace(token: String?, basic: BasicAuthCredentials?) -> Bool {
        guard let check = CredentialCheck(token: token, basic: basic), !check.hasBlankSecret else { return false }
        let until = clock.uptime + overlap
        state.withLock { state in
            state.previous = (state.current, until)
            state.current = check
        }
        return true
    }

    /// Whether `authorization` (an `Authorization` header) carries the credentials in force, or those replaced
    /// less than ``overlap`` ago. Each comparison takes constant time.
    public func isAuthorized(_ authorization: String?) -> Bool {
        let now = clock.uptime
        let (current, previous) = state.withLock { state in
            (state.current, state.previous.flatMap { now < $0.until ? $0.check : nil })
        }
        if current.isAuthorized(authorization) { return true }
        return previous?.isAuthorized(authorization) ?? false
    }

    /// Which schemes are configured, never a secret.
    public var description: String {
        state.withLock { "ReceiverCredentials(\($0.current.schemes))" }
    }
}

/// Checks an `Authorization` header against the receiver's credentials (see ``ReceiverCredentials``).
struct RequestAuthenticator: Sendable {
    private let credentials: ReceiverCredentials

    /// `nil` when neither a token nor basic credentials are configured (every request is accepted).
    init?(token: String?, basic: BasicAuthCredentials?) {
        guard let credentials = ReceiverCredentials(token: token, basic: basic) else { return nil }
        self.credentials = credentials
    }

    init(credentials: ReceiverCredentials) {
        self.credentials = credentials
    }

    /// The configuration's live ``ReceiverConfiguration/credentials`` when set, else its token and basic
    /// credentials; `nil` when there are none.
    init?(configuration: ReceiverConfiguration) {
        if let credentials = configuration.credentials {
            self.init(credentials: credentials)
        } else {
            self.init(token: configuration.authToken, basic: configuration.basicAuth)
        }
    }

    /// Whether `authorization` carries a configured token or the configured basic credentials.
    func isAuthorized(_ authorization: String?) -> Bool {
        credentials.isAuthorized(authorization)
    }
}

/// One set of credentials: a bearer token and/or basic credentials, either accepted, compared in constant time.
struct CredentialCheck: Sendable {
    private let bearer: BearerTokenVerifier?
    private let basic: [UInt8]?
    /// A blank token or password was given: every request is refused (fail closed, never "no auth").
    let hasBlankSecret: Bool

    /// `nil` when neither is given.
    init?(token: String?, basic credentials: BasicAuthCredentials?) {
        guard token != nil || credentials != nil else { return nil }
        hasBlankSecret =
            (token.map { $0.allSatisfy(\.isWhitespace) } ?? false)
            || (credentials.map { $0.password.allSatisfy(\.isWhitespace) } ?? false)
        bearer = token.map(BearerTokenVerifier.init(token:))
        basic = credentials.map { Array(Data("\($0.username):\($0.password)".utf8).base64EncodedString().utf8) }
    }

    /// `bearer`, `basic` or `bearer+basic`.
    var schemes: String {
        [bearer == nil ? nil : "bearer", basic == nil ? nil : "basic"].compactMap { $0 }.joined(separator: "+")
    }

    func isAuthorized(_ authorization: String?) -> Bool {
        guard !hasBlankSecret else { return false }
        if let bearer, bearer.isAuthorized(authorization) { return true }
        guard let basic, let authorization else { return false }
        let trimmed = authorization.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " "), trimmed[..<space].lowercased() == "basic" else { return false }
        let presented = trimmed[space...].trimmingCharacters(in: .whitespaces)
        return BearerTokenVerifier.constantTimeEquals(Array(presented.utf8), basic)
    }
}
