import Crypto
import Foundation

/// The outcome of checking a request's `X-PagerDuty-Signature` header.
public enum SignatureCheck: Sendable, Equatable {
    /// A `v1` signature matches the body under one of the secrets.
    case valid
    /// There is no header, or only empty ones. The endpoint answers 400.
    case missing
    /// The header cannot be a PagerDuty signature: no `v1=<64 hex digits>` entry at all, a `v1` entry that is
    /// not 64 hex digits, an entry without `=`, too many entries or too long a header. The endpoint answers 400.
    /// The reason never quotes the header.
    case malformed(reason: String)
    /// The header is well formed, but no `v1` signature matches the body under any secret. The endpoint
    /// answers 401 and must not log anything from the body.
    case noMatch
}

/// Checks PagerDuty's webhook signatures: `X-PagerDuty-Signature` holds comma-separated `version=hex` entries,
/// and a `v1` entry is the HMAC-SHA256 of the raw body under a subscription's signing secret, in hex.
///
/// The body's HMAC is computed once per secret and compared with each `v1` signature in constant time
/// (swift-crypto's comparison of authentication codes). The work is bounded: a header with more than
/// ``maximumEntries`` entries or more than ``maximumHeaderBytes`` bytes is malformed before any HMAC is computed.
public struct WebhookSignatureVerifier: Sendable {
    /// The name of the header.
    public static let headerName = "X-PagerDuty-Signature"
    /// The most `version=hex` entries considered, over all values of the header. PagerDuty sends one per secret
    /// of the subscription: one, or two during a rotation.
    public static let maximumEntries = 10
    /// The most bytes of all values of the header together.
    public static let maximumHeaderBytes = 2048

    private let secrets: WebhookSigningSecrets

    /// A verifier that accepts a signature made with any of `secrets`.
    public init(secrets: WebhookSigningSecrets) {
        self.secrets = secrets
    }

    /// Checks the signatures of `body`.
    /// - Parameters:
    ///   - body: The raw body, exactly as received (before any JSON decoding).
    ///   - headerValues: Every value of `X-PagerDuty-Signature` (a request may repeat the header). Each is a
    ///     comma-separated list of `version=hex`; whitespace around entries and empty entries are tolerated,
    ///     versions other than `v1` are ignored, hex digits may be upper or lower case.
    public func check(body: some Collection<UInt8>, headerValues: [String]) -> SignatureCheck {
        let signatures: [[UInt8]]
        switch Self.parse(headerValues) {
        case .missing:
            return .missing
        case .malformed(let reason):
            return .malformed(reason: reason)
        case .signatures(let parsed):
            signatures = parsed
        }
        let codes = authenticationCodes(of: body)
        var matched = false
        for code in codes {
            for signature in signatures where code == signature {
                matched = true
            }
        }
        return matched ? .valid : .noMatch
    }

    /// The HMAC-SHA256 of `body` under each secret.
    private func authenticationCodes(of body: some Collection<UInt8>) -> [HashedAuthenticationCode<SHA256>] {
        func codes(_ bytes: UnsafeRawBufferPointer) -> [HashedAuthenticationCode<SHA256>] {
            secrets.keys.map { HMAC<SHA256>.authenticationCode(for: bytes, using: $0) }
        }
        if let codes = body.withContiguousStorageIfAvailable({ codes(UnsafeRawBufferPointer($0)) }) {
            return codes
        }
        return Array(body).withUnsafeBytes { codes($0) }
    }

    private enum ParsedHeader {
        case missing
        case malformed(String)
        case signatures([[UInt8]])
    }

    /// The decoded `v1` signatures of the header's values.
    private static func parse(_ values: [String]) -> ParsedHeader {
        let values = values.filter { !$0.allSatisfy(\.isWhitespace) }
        if values.isEmpty {
            return .missing
        }
        if values.reduce(0, { $0 + $1.utf8.count }) > maximumHeaderBytes {
            return .malformed("the header is longer than \(maximumHeaderBytes) bytes")
        }
        var entries: [Substring] = []
        for value in values {
            for entry in value.split(separator: ",", omittingEmptySubsequences: false) {
                let entry = entry.trimmingWhitespace()
                if !entry.isEmpty {
                    entries.append(entry)
                }
            }
        }
        if entries.count > maximumEntries {
            return .malformed("the header has more than \(maximumEntries) signatures")
        }
        var signatures: [[UInt8]] = []
        for entry in entries {
            guard let equals = entry.firstIndex(of: "=") else {
                return .malformed("an entry of the header is not version=signature")
            }
            guard entry[..<equals].lowercased() == "v1" else { continue }
            guard let signature = decodeHex(entry[entry.index(after: equals)...], byteCount: SHA256.byteCount) else {
                return .malformed("a v1 signature is not \(SHA256.byteCount * 2) hex digits")
            }
            signatures.append(signature)
        }
        if signatures.isEmpty {
            return .malformed("the header has no v1 signature")
        }
        return .signatures(signatures)
    }

    /// The bytes of `hex` when it is exactly `byteCount` bytes in hex digits of either case, else `nil`.
    private static func decodeHex(_ hex: Substring, byteCount: Int) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == byteCount * 2 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Substring {
    /// Without the spaces and tabs at either end.
    fileprivate func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" {
            result = result.dropFirst()
        }
        while let last = result.last, last == " " || last == "\t" {
            result = result.dropLast()
        }
        return result
    }
}
