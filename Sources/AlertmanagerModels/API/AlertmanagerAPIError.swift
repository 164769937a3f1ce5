/// A failed call to Alertmanager's API: unreachable, a non-2xx answer, or an answer that is not an alert list.
///
/// The reason never holds a credential: the client removes the bearer token and the basic-auth password from
/// anything it quotes (an answer's body, a transport's message).
public struct AlertmanagerAPIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, in words a person can act on.
    public var reason: String

    /// Creates an error with `reason`, which must not contain a secret.
    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
