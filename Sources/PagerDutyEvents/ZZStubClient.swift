// TEMPORARY stub until the events branch lands; removed at merge.
public struct EventsURLError: Error, Sendable { public var reason: String }
public enum DeliveryOutcome: Sendable, Hashable {
    case accepted(dedupKey: String?)
    case rejected(reason: String)
    case rateLimited(retryAfter: Duration?)
    case serverError(status: Int, reason: String)
    case unexpectedStatus(status: Int, reason: String)
    case timeout(reason: String)
    case network(reason: String)
    public var errorType: String? { nil }
    public var isRetryable: Bool { false }
}
public struct DeliveryReport: Sendable {
    public var endpoint: EventsEndpoint
    public var outcome: DeliveryOutcome
    public var httpStatus: Int?
    public var duration: Duration
    public var statusLabel: String { "" }
}
public struct EventsAPIClient: Sendable {
    public init(baseURL: String, transport: any HTTPTransport) throws(EventsURLError) {}
    public func send(_ event: AlertEvent) async -> DeliveryReport { fatalError() }
    public func send(_ event: ChangeEvent) async -> DeliveryReport { fatalError() }
}
public struct DryRunTransport: HTTPTransport {
    public init(observer: @escaping @Sendable (String, [UInt8]) -> Void) {}
    public func post(url: String, headers: [(String, String)], body: [UInt8]) async throws(TransportError) -> HTTPResponse { fatalError() }
}
extension AlertEvent { public func fittedToLimits() -> AlertEvent { self } }
extension String { public func truncated(toCharacters n: Int) -> String { self } }
public enum EventLimits { public static let summaryMaxCharacters = 1024; public static let eventMaxBytes = 524288; public static let routingKeyLength = 32 }
public enum EventEncoding { public static func encode<T: Encodable>(_ v: T) throws -> [UInt8] { [] } }
