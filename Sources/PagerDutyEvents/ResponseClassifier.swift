import CurlHTTP
import Foundation

/// Turns an HTTP answer or a transport failure into a ``DeliveryOutcome``, with every text taken from the answer
/// scrubbed of the routing key and kept short.
struct ResponseClassifier {
    /// The most characters of response text kept in a reason.
    static let maxReasonCharacters = 512

    let scrubber: SecretScrubber

    func classify(_ response: HTTPResponse) -> DeliveryOutcome {
        let status = response.status
        switch status {
        case 200..<300:
            return .accepted(dedupKey: decodedAnswer(response.body)?.dedupKey)
        case 400, 413, 422:
            return .rejected(reason: reason(from: response))
        case 429:
            return .rateLimited(retryAfter: Self.retryAfter(response.headers["retry-after"]))
        case 500..<600:
            return .serverError(status: status, reason: reason(from: response))
        default:
            return .unexpectedStatus(status: status, reason: reason(from: response))
        }
    }

    func classify(_ error: TransportError) -> DeliveryOutcome {
        let reason = scrubber.scrub(error.reason)
        switch error.kind {
        case .timeout: return .timeout(reason: reason)
        case .network: return .network(reason: reason)
        }
    }

    /// PagerDuty's `message` and `errors`, or the raw body text, or the bare status when the body is empty.
    private func reason(from response: HTTPResponse) -> String {
        var text: String
        if let answer = decodedAnswer(response.body), answer.message != nil || !(answer.errors ?? []).isEmpty {
            text = [answer.message, answer.errors.map { $0.joined(separator: "; ") }]
                .compactMap { $0 }
                .filter { !$0.isEmpty }
                .joined(separator: ": ")
        } else {
            text = String(decoding: response.body, as: UTF8.self)
        }
        text = Self.singleLine(scrubber.scrub(text))
        if text.isEmpty { return "HTTP \(response.status) with an empty body" }
        return "HTTP \(response.status): " + text.truncated(toCharacters: Self.maxReasonCharacters)
    }

    private func decodedAnswer(_ body: [UInt8]) -> EventsAnswer? {
        try? JSONDecoder().decode(EventsAnswer.self, from: Data(body))
    }

    /// Collapses whitespace runs (newlines included) into single spaces.
    private static func singleLine(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace || $0.isNewline }).joined(separator: " ")
    }

    /// `Retry-After` in seconds; HTTP dates and nonsense give nil.
    static func retryAfter(_ header: String?) -> Duration? {
        guard let text = header?.trimmingWhitespace(), let seconds = Double(text), seconds.isFinite, seconds >= 0 else {
            return nil
        }
        return .milliseconds(Int64((min(seconds, 86_400) * 1000).rounded()))
    }
}

/// The body of an Events API answer: `{"status", "message", "dedup_key", "errors"}`.
struct EventsAnswer: Decodable {
    var status: String?
    var message: String?
    var dedupKey: String?
    var errors: [String]?

    enum CodingKeys: String, CodingKey {
        case status, message, errors
        case dedupKey = "dedup_key"
    }
}

/// Replaces a secret by `[REDACTED]` in text that may be logged or stored.
struct SecretScrubber: Sendable {
    static let replacement = "[REDACTED]"
    let secrets: [String]

    init(secrets: [String]) {
        self.secrets = secrets.filter { !$0.isEmpty }
    }

    func scrub(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: Self.replacement) }
    }
}
