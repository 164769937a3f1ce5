// What one HTTP request over the transport gives back: an answer, or why there was none.

/// What an HTTP server answered.
public struct HTTPResponse: Sendable, Hashable {
    public var status: Int
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Why a request got no HTTP answer.
public struct TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The connect or total timeout passed.
        case timeout
        /// DNS, connection refused or reset, TLS handshake or certificate failure, proxy failure.
        case network
    }

    public var kind: Kind
    /// A human-readable reason that never contains a secret.
    public var reason: String

    public init(kind: Kind, reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "\(kind.rawValue): \(reason)" }
}
