import Synchronization

/// The signing secrets in force, replaced whole when their files are reloaded: each request is checked against
/// the secrets in force when it arrives.
public final class SigningSecretsInForce: Sendable {
    private let secrets: Mutex<WebhookSigningSecrets>

    /// Puts `initial` in force.
    public init(_ initial: WebhookSigningSecrets) {
        secrets = Mutex(initial)
    }

    /// The secrets in force now.
    public var current: WebhookSigningSecrets { secrets.withLock { $0 } }

    /// Puts `replacement` in force for the requests that arrive from now on.
    public func replace(with replacement: WebhookSigningSecrets) {
        secrets.withLock { $0 = replacement }
    }
}
