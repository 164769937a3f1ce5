import CurlHTTP
import Foundation

/// A transport that sends nothing: it shows each request to an observer (which typically logs it) and answers
/// like PagerDuty accepting it, `202 {"status":"success","message":"Event processed","dedup_key":…}`.
///
/// Its answers are marked as not sent (``sendsRequests``): ``DeliveryReport/wasSent`` is false and the report's
/// status label is `dry_run`, so no metric claims that PagerDuty answered.
///
/// The answer echoes the request's `dedup_key`; without one it makes one up from the SHA-256 of the body (the same
/// body always gets the same key). The body handed to the observer contains the routing key: redact it before logging.
public struct DryRunTransport: HTTPTransport {
    private let observer: @Sendable (_ url: String, _ body: [UInt8]) -> Void

    /// Creates a dry-run transport calling `observer` with each request's URL and body.
    public init(observer: @escaping @Sendable (_ url: String, _ body: [UInt8]) -> Void) {
        self.observer = observer
    }

    /// False: nothing is sent, so reports of this transport count as `dry_run`, never as a status PagerDuty gave.
    public var sendsRequests: Bool { false }

    /// Calls the observer and answers 202.
    public func post(url: String, headers: [(String, String)], body: [UInt8]) async throws(TransportError) -> HTTPResponse {
        observer(url, body)
        let requested = (try? JSONDecoder().decode(DedupKeyOnly.self, from: Data(body)))?.dedupKey
        let dedupKey = requested ?? String(SHA256.hexDigest(body).prefix(32))
        let answer = DryRunAnswer(status: "success", message: "Event processed", dedupKey: dedupKey)
        let answerBody = (try? EventEncoding.encode(answer)) ?? []
        return HTTPResponse(status: 202, headers: ["content-type": "application/json"], body: answerBody)
    }

    private struct DedupKeyOnly: Decodable {
        var dedupKey: String?
        enum CodingKeys: String, CodingKey { case dedupKey = "dedup_key" }
    }

    private struct DryRunAnswer: Encodable {
        var status: String
        var message: String
        var dedupKey: String
        enum CodingKeys: String, CodingKey {
            case status, message
            case dedupKey = "dedup_key"
        }
    }
}
