import Logging
import PagerDutyWebhooks

/// The files of `--pagerduty-webhook-secret-file`, re-read when they change (checked with the configuration,
/// and on SIGHUP), so that a secret rotated in place (a Kubernetes Secret updated, a file rewritten) is in force
/// without a restart.
///
/// The files are read whole again each time: when every one holds a usable secret and any differs, the new set
/// replaces the old one for the next request. PagerDuty signs with every secret of a subscription during a
/// rotation, so no overlap is kept. A file that has become unreadable, empty or malformed keeps the secrets in
/// force and logs an error naming the file, never its content: fail closed, never "no signature".
final class WebhookSecretFiles: Sendable {
    let files: [String]
    let inForce: SigningSecretsInForce

    init(files: [String], initial: WebhookSigningSecrets) {
        self.files = files
        self.inForce = SigningSecretsInForce(initial)
    }

    /// Reads the files again and puts the secrets in force when they changed.
    /// - Returns: whether new secrets were put in force.
    @discardableResult
    func reload(reason: String, logger: Logger) -> Bool {
        let loaded: WebhookSigningSecrets
        do {
            loaded = try WebhookSigningSecrets.load(files: files)
        } catch {
            logger.error(
                "PagerDuty webhook signing secrets not reloaded; keeping those in force",
                metadata: ["reason": "\(reason)", "problem": "\(error.reason)"]
            )
            return false
        }
        guard !loaded.isSame(as: inForce.current) else { return false }
        inForce.replace(with: loaded)
        logger.notice(
            "PagerDuty webhook signing secrets reloaded",
            metadata: ["reason": "\(reason)", "secrets": "\(loaded.count)"]
        )
        return true
    }
}
