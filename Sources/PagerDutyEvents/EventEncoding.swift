import Foundation

/// The one JSON encoding used for events: the bytes measured against ``EventLimits/eventMaxBytes`` are the bytes
/// sent.
///
/// Keys are sorted (stable output, stable sizes) and slashes are not escaped (URLs stay readable and short).
public enum EventEncoding {
    /// Encodes `value` as compact JSON with sorted keys and unescaped slashes.
    /// - Throws: `EncodingError` when a value cannot be represented in JSON (a NaN or infinite number).
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        // The two event types have a dedicated writer (same output rules, no reflection): they are encoded once
        // per alert on the webhook path.
        if let event = value as? AlertEvent { return try EventJSONWriter.encode(event) }
        if let event = value as? ChangeEvent { return try EventJSONWriter.encode(event) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// The encoded size of `value` in bytes, or `nil` when it cannot be encoded.
    static func encodedSize<T: Encodable>(_ value: T) -> Int? {
        (try? encode(value))?.count
    }
}
