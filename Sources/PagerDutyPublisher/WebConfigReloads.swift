import Foundation
import Logging
import PublisherWebConfig

/// Reloads the web configuration file (`--web.config.file`) for ``ConfigReloader``: on SIGHUP, and when the file
/// or the certificate, key or CA file it names changes (cert-manager renews them in place). A file that fails
/// validation, or whose certificate and key cannot be loaded or do not match, is refused whole: the settings in
/// force stay, and the log says why.
struct WebConfigReloads: Sendable {
    let live: LiveWebConfig

    /// The files to watch: the web configuration file and the files named by the configuration in force.
    var files: [String] { live.current.files }

    /// Reads the file again and puts it in force when it is valid whole.
    @discardableResult
    func reload(reason: String, logger: Logger) -> Bool {
        do {
            try live.reload()
            let current = live.current
            logger.info(
                "Web configuration reloaded",
                metadata: [
                    "reason": "\(reason)", "file": "\(live.path)", "tls": "\(current.tls != nil)",
                    "basic_auth_users": "\(current.config.users.count)", "headers": "\(current.headers.count)",
                ])
            return true
        } catch {
            logger.error(
                "Web configuration reload failed; keeping the settings in force",
                metadata: ["reason": "\(reason)", "file": "\(live.path)", "problems": "\(error.problems.joined(separator: "; "))"])
            return false
        }
    }
}
