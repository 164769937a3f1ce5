// The public surface of the Events API client. Implementations live beside this file.

/// An Events API v2 endpoint.
public enum EventsEndpoint: String, Sendable, Hashable, CaseIterable {
    /// `POST /v2/enqueue`: trigger, acknowledge and resolve.
    case enqueue
    /// `POST /v2/change/enqueue`: change events.
    case change

    /// The path below the Events API base URL.
    public var path: String {
        switch self {
        case .enqueue: "/v2/enqueue"
        case .change: "/v2/change/enqueue"
        }
    }
}

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

/// Something that can POST a body and return the answer. Blocking work never runs on the caller's executor.
public protocol HTTPTransport: Sendable {
    /// POSTs `body` to `url` with `headers`, throwing ``TransportError`` when no HTTP answer came back.
    func post(url: String, headers: [(String, String)], body: [UInt8]) async throws(TransportError) -> HTTPResponse
    /// Whether requests really leave the process; false for ``DryRunTransport``, whose answers PagerDuty never gave.
    var sendsRequests: Bool { get }
}

extension HTTPTransport {
    /// A transport sends its requests unless it says otherwise.
    public var sendsRequests: Bool { true }
}
