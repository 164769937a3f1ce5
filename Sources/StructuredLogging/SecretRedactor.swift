import Synchronization

/// Replaces every registered secret (routing key, bearer token, …) in a text with `[REDACTED]`.
///
/// Secrets may be registered at any time, from any thread; a text in which no secret occurs is returned
/// unchanged without copying.
public final class SecretRedactor: Sendable {
    /// What a secret is replaced with.
    public static let replacement = "[REDACTED]"

    /// Registered secrets as UTF-8 bytes, longest first so that a secret containing another is removed whole.
    private let secrets: Mutex<[[UInt8]]>

    /// Creates a redactor that already knows `secrets` (empty strings are ignored).
    public init(secrets: [String] = []) {
        self.secrets = Mutex([])
        for secret in secrets {
            register(secret)
        }
    }

    /// Adds `secret` to the texts to hide. Empty strings and secrets already known are ignored.
    public func register(_ secret: String) {
        let bytes = Array(secret.utf8)
        guard !bytes.isEmpty else { return }
        secrets.withLock { known in
            guard !known.contains(bytes) else { return }
            known.append(bytes)
            known.sort { $0.count > $1.count }
        }
    }

    /// Whether at least one secret is registered.
    public var isEmpty: Bool {
        secrets.withLock { $0.isEmpty }
    }

    /// `text` with every occurrence of every registered secret replaced by ``replacement``.
    public func redact(_ text: String) -> String {
        let known = secrets.withLock { $0 }
        guard !known.isEmpty, !text.isEmpty else { return text }
        var bytes = Array(text.utf8)
        var changed = false
        for secret in known where secret.count <= bytes.count {
            if let redacted = Self.replaceOccurrences(of: secret, in: bytes) {
                bytes = redacted
                changed = true
            }
        }
        guard changed else { return text }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `bytes` with every occurrence of `secret` replaced, or `nil` when `secret` does not occur.
    private static func replaceOccurrences(of secret: [UInt8], in bytes: [UInt8]) -> [UInt8]? {
        let replacement = Array(Self.replacement.utf8)
        let first = secret[0]
        let lastStart = bytes.count - secret.count
        var output: [UInt8] = []
        var copiedUpTo = 0
        var index = 0
        var found = false
        while index <= lastStart {
            if bytes[index] == first && bytes[index..<(index + secret.count)].elementsEqual(secret) {
                if !found {
                    output.reserveCapacity(bytes.count)
                    found = true
                }
                output.append(contentsOf: bytes[copiedUpTo..<index])
                output.append(contentsOf: replacement)
                index += secret.count
                copiedUpTo = index
            } else {
                index += 1
            }
        }
        guard found else { return nil }
        output.append(contentsOf: bytes[copiedUpTo...])
        return output
    }
}
