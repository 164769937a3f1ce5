import Foundation

/// The one JSON encoding used for events: the bytes measured against ``EventLimits/eventMaxBytes`` are the bytes
/// sent.
///
/// Keys are sorted (stable output, stable sizes) and slashes are not escaped (URLs stay readable and short).
public enum EventEncoding {
    /// Encodes `value` as compact JSON with sorted keys and unescaped slashes.
    /// - Throws: `EncodingError` when a value cannot be represented in JSON (a NaN or infinite number).
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// The encoded size of `value` in bytes, or `nil` when it cannot be encoded.
    static func encodedSize<T: Encodable>(_ value: T) -> Int? {
        (try? encode(value))?.count
    }
}
