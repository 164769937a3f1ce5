import Crypto
import Foundation

/// The signing secrets of PagerDuty's webhook subscriptions: a request is authentic when it is signed with any
/// of them. There are several during a rotation (the old secret and the new one).
///
/// A secret is kept as a key only: its text never appears in an error or a description.
public struct WebhookSigningSecrets: Sendable, CustomStringConvertible, CustomReflectable {
    /// The most bytes a secret may have. PagerDuty's secrets are 64 characters; a longer text is a wrong file.
    public static let maximumSecretBytes = 1024

    let keys: [SymmetricKey]

    /// Secrets given as text. Whitespace and newlines around each secret are dropped (a file written by `echo`
    /// ends with a newline); the HMAC key is the UTF-8 of what remains.
    /// - Throws: ``WebhookSecretError`` when there is no secret, a secret is empty, longer than
    ///   ``maximumSecretBytes`` or has whitespace or a control character inside. The reason names the secret by
    ///   its position (1 for the first), never by its text.
    public init(_ secrets: [String]) throws(WebhookSecretError) {
        guard !secrets.isEmpty else {
            throw WebhookSecretError(reason: "no PagerDuty webhook signing secret was given")
        }
        var keys: [SymmetricKey] = []
        for (index, secret) in secrets.enumerated() {
            if let problem = Self.problem(with: secret) {
                throw WebhookSecretError(reason: "PagerDuty webhook signing secret \(index + 1) \(problem)")
            }
            keys.append(Self.key(secret))
        }
        self.keys = keys
    }

    /// Reads one secret from each file (see ``init(_:)`` for what a secret may be).
    /// - Throws: ``WebhookSecretError`` when there is no file, or a file cannot be read, is not UTF-8 text, is
    ///   empty or holds anything but one secret. The reason names the file, never its content.
    public static func load(files: [String]) throws(WebhookSecretError) -> WebhookSigningSecrets {
        guard !files.isEmpty else {
            throw WebhookSecretError(reason: "no PagerDuty webhook secret file was given")
        }
        var keys: [SymmetricKey] = []
        for path in files {
            let data: Data
            do {
                data = try Self.read(path)
            } catch {
                throw WebhookSecretError(reason: "the PagerDuty webhook secret file \(path) cannot be read: \(error.reason)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw WebhookSecretError(reason: "the PagerDuty webhook secret file \(path) is not UTF-8 text")
            }
            if let problem = Self.problem(with: text) {
                throw WebhookSecretError(reason: "the PagerDuty webhook secret file \(path) \(problem)")
            }
            keys.append(Self.key(text))
        }
        return WebhookSigningSecrets(keys: keys)
    }

    private init(keys: [SymmetricKey]) {
        self.keys = keys
    }

    /// How many secrets there are.
    public var count: Int { keys.count }

    /// Whether `other` holds the same secrets in the same order (compared as keys, in constant time per key).
    public func isSame(as other: WebhookSigningSecrets) -> Bool {
        guard keys.count == other.keys.count else { return false }
        return zip(keys, other.keys).allSatisfy { $0 == $1 }
    }

    /// Says how many secrets there are, never what they are.
    public var description: String { "\(count) PagerDuty webhook signing secret(s)" }

    /// Shows the count only (`dump` and the debugger never reach the keys).
    public var customMirror: Mirror { Mirror(self, children: ["count": count]) }

    /// What is wrong with `secret`, as the end of a sentence, or `nil` when it is a usable secret.
    private static func problem(with secret: String) -> String? {
        let trimmed = secret.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            return "is empty"
        }
        if trimmed.utf8.count > maximumSecretBytes {
            return "is longer than \(maximumSecretBytes) bytes"
        }
        if trimmed.unicodeScalars.contains(where: {
            CharacterSet.whitespacesAndNewlines.contains($0) || CharacterSet.controlCharacters.contains($0)
        }) {
            return "holds whitespace or a control character inside (one secret only, on one line)"
        }
        return nil
    }

    private static func key(_ secret: String) -> SymmetricKey {
        SymmetricKey(data: Array(secret.trimmingCharacters(in: .whitespacesAndNewlines).utf8))
    }

    /// The bytes of the file at `path`, at most a little more than a secret may have (so a wrong path such as a
    /// device or a large file is refused without being read whole).
    private static func read(_ path: String) throws(WebhookSecretError) -> Data {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw WebhookSecretError(reason: "it does not exist or is not readable")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maximumSecretBytes + 4096) ?? Data()
        } catch {
            throw WebhookSecretError(reason: "reading it failed")
        }
        if data.count > maximumSecretBytes + 4095 {
            throw WebhookSecretError(reason: "it is larger than a secret can be")
        }
        return data
    }
}

/// Why the webhook signing secrets cannot be used: a sentence that names the secret's file or position, never
/// the secret.
public struct WebhookSecretError: Error, CustomStringConvertible, Sendable {
    /// The reason, as a sentence.
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
