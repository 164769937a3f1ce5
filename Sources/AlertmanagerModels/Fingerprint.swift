/// The fingerprint Prometheus and Alertmanager compute for a label set: 64-bit FNV-1a over the labels sorted
/// by name, each name and value followed by the byte 0xFF, written as 16 lower-case hex digits.
///
/// Used when a sender gives no fingerprint, so the same labels always yield the same key.
public enum LabelSetFingerprint {
    private static let offsetBasis: UInt64 = 14_695_981_039_346_656_037
    private static let prime: UInt64 = 1_099_511_628_211
    private static let separator: UInt8 = 0xFF

    /// The fingerprint of `labels` as 16 lower-case hex digits.
    public static func of(_ labels: [String: String]) -> String {
        var hash = offsetBasis
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* prime
        }
        for name in labels.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            for byte in name.utf8 { mix(byte) }
            mix(separator)
            for byte in labels[name]!.utf8 { mix(byte) }
            mix(separator)
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
