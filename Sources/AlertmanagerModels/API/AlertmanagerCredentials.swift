import Foundation

/// How the client authenticates to Alertmanager (usually to a proxy in front of it).
///
/// The description never shows a token or a password, only which kind of credential is set.
public enum AlertmanagerCredentials: Sendable, CustomStringConvertible {
    /// No `Authorization` header.
    case none
    /// `Authorization: Bearer <token>`.
    case bearer(token: String)
    /// `Authorization: Basic <base64(username:password)>`.
    case basic(username: String, password: String)

    public var description: String {
        switch self {
        case .none: "no credentials"
        case .bearer: "bearer token [REDACTED]"
        case .basic(let username, _): "basic auth as \"\(username)\" with password [REDACTED]"
        }
    }

    /// The `Authorization` header value, or nil for ``none``.
    var authorizationHeaderValue: String? {
        switch self {
        case .none:
            nil
        case .bearer(let token):
            "Bearer " + token
        case .basic(let username, let password):
            "Basic " + Data((username + ":" + password).utf8).base64EncodedString()
        }
    }

    /// The secret strings that must never appear in an error: the token, the password, and the encoded header.
    var secrets: [String] {
        switch self {
        case .none:
            []
        case .bearer(let token):
            [token]
        case .basic(let username, let password):
            [password, Data((username + ":" + password).utf8).base64EncodedString()]
        }
    }

    /// `text` with every secret replaced by `[REDACTED]`.
    func redacting(_ text: String) -> String {
        secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count }.reduce(text) { redacted, secret in
            redacted.replacingOccurrences(of: secret, with: "[REDACTED]")
        }
    }
}
