import Foundation
import TimeText

/// Parses and formats RFC 3339 times (shared with PagerDuty's webhooks, in `TimeText`).
public typealias RFC3339 = TimeText.RFC3339

extension KeyedDecodingContainer {
    /// The RFC 3339 time at `key`: `nil` when it is absent, empty or Go's zero time (Alertmanager's "unset").
    /// - Throws: `DecodingError.dataCorrupted` naming the key when the text is not an RFC 3339 time.
    func decodeRFC3339TimeIfPresent(forKey key: Key) throws -> Date? {
        guard let text = try decodeIfPresent(String.self, forKey: key), !text.isEmpty else { return nil }
        guard let date = RFC3339.parse(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key,
                in: self,
                debugDescription: "\"\(text)\" is not an RFC 3339 time"
            )
        }
        return date == RFC3339.goZeroTime ? nil : date
    }
}
