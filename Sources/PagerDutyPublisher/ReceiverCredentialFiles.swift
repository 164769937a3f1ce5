import Foundation
import Logging
import PublisherReceiver
import StructuredLogging
import Synchronization

/// A secret kept in a file: the whole file, without surrounding white space.
enum SecretFile {
    /// The secret in `path`; throws a sentence (never the content) when the file cannot be read or is blank.
    static func read(_ path: String, what: String) throws(SettingsError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingsError(description: "The \(what) file \(path) cannot be read.")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else {
            throw SettingsError(description: "The \(what) file \(path) is empty or blank.")
        }
        return text
    }
}

/// The files the receiver's bearer token and basic auth password were read from, re-read when they change
/// (checked with the configuration, and on SIGHUP).
///
/// A changed, valid file puts the new secret in force at once; the old one stays accepted for
/// ``ReceiverCredentials/overlap`` (60 s) so that Alertmanager can pick up the new file meanwhile. A file that
/// has become unreadable or blank keeps the secret in force and logs an error: fail closed, never "no auth".
final class ReceiverCredentialFiles: Sendable {
    let tokenFile: String?
    let basicUsername: String?
    let basicPasswordFile: String?
    let credentials: ReceiverCredentials
    let redactor: SecretRedactor
    private let inForce: Mutex<(token: String?, password: String?)>

    /// `nil` when neither secret comes from a file (nothing to watch).
    init?(settings: ServeSettings, credentials: ReceiverCredentials?, redactor: SecretRedactor) {
        let tokenFile = settings.authToken == nil ? nil : settings.authTokenFile
        let passwordFile = settings.basicAuth == nil ? nil : settings.basicAuthPasswordFile
        guard let credentials, tokenFile != nil || passwordFile != nil else { return nil }
        self.tokenFile = tokenFile
        self.basicUsername = settings.basicAuth?.username
        self.basicPasswordFile = passwordFile
        self.credentials = credentials
        self.redactor = redactor
        inForce = Mutex((settings.authToken, settings.basicAuth?.password))
    }

    /// The files to watch.
    var files: [String] { [tokenFile, basicPasswordFile].compactMap { $0 } }

    /// Reads the files again and puts what changed in force.
    /// - Returns: whether a new secret was put in force.
    @discardableResult
    func reload(reason: String, logger: Logger) -> Bool {
        let (token, password) = inForce.withLock { $0 }
        var newToken = token
        var newPassword = password
        var problems: [String] = []
        if let tokenFile {
            do throws(SettingsError) {
                newToken = try SecretFile.read(tokenFile, what: "auth token")
            } catch {
                problems.append(error.description)
            }
        }
        if let basicPasswordFile {
            do throws(SettingsError) {
                newPassword = try SecretFile.read(basicPasswordFile, what: "basic auth password")
            } catch {
                problems.append(error.description)
            }
        }
        if !problems.isEmpty {
            logger.error(
                "Receiver credentials not reloaded; keeping the secret in force",
                metadata: ["reason": "\(reason)", "problems": "\(problems.joined(separator: " "))"]
            )
        }
        guard newToken != token || newPassword != password else { return false }
        // Registered before anything can log them.
        for secret in [newToken, newPassword].compactMap({ $0 }) { redactor.register(secret) }
        let basic = both(basicUsername, newPassword).map { BasicAuthCredentials(username: $0, password: $1) }
        guard credentials.replace(token: newToken, basic: basic) else { return false }
        inForce.withLock { $0 = (newToken, newPassword) }
        logger.notice(
            "Receiver credentials reloaded; the previous ones stay valid for the overlap",
            metadata: [
                "reason": "\(reason)", "token_changed": "\(newToken != token)", "password_changed": "\(newPassword != password)",
                "overlap": "\(credentials.overlap)",
            ]
        )
        return true
    }
}

/// Both values, when both are present.
private func both<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
