import Foundation
import HummingbirdTLS
import NIOSSL
import Synchronization

/// A web configuration file read whole and checked: the file's settings, plus the TLS configuration built from
/// the certificate, key and CA files it names (already loaded, so a connection never reads a file).
public struct LoadedWebConfig: Sendable {
    /// The file's settings.
    public let config: WebConfig
    /// TLS for new connections; `nil` when the file does not turn TLS on.
    public let tls: TLSChannelConfiguration?
    /// `basic_auth_users`; `nil` when the file names none.
    public let users: BasicAuthUsers?
    /// The files this configuration was read from: the web configuration file and the files it names.
    public let files: [String]
    /// Counts the configurations put in force by one ``LiveWebConfig``; new connections use the TLS of the newest.
    public internal(set) var generation: Int = 0

    /// The response headers to add to every answer.
    public var headers: [ResponseHeader] { config.headers }
}

/// Reads and checks web configuration files: ``WebConfig/parse(yaml:directory:)``, then the TLS files.
public enum WebConfigLoader {
    /// Reads the file at `path` and every file it names; refuses it whole on any problem.
    /// - Throws: ``WebConfigProblems``, every problem a sentence naming its key (or file), never a secret.
    public static func load(path: String) throws(WebConfigProblems) -> LoadedWebConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WebConfigProblems(problems: ["\(path): cannot be read."])
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let config: WebConfig
        do {
            config = try WebConfig.parse(yaml: String(decoding: data, as: UTF8.self), directory: directory)
        } catch {
            throw WebConfigProblems(problems: error.problems.map { "\(path): \($0)" })
        }
        var tls: TLSChannelConfiguration?
        if let settings = config.tls {
            do {
                tls = try makeTLS(settings)
            } catch {
                throw WebConfigProblems(problems: error.problems.map { "\(path): \($0)" })
            }
        }
        return LoadedWebConfig(
            config: config, tls: tls, users: config.users.isEmpty ? nil : BasicAuthUsers(users: config.users),
            files: [path] + (config.tls?.files ?? []))
    }

    /// The TLS configuration of `settings`, with the certificate chain, key and client CAs read now. A context is
    /// made once to prove that the key matches the certificate and that BoringSSL accepts every setting.
    public static func makeTLS(_ settings: TLSServerSettings) throws(WebConfigProblems) -> TLSChannelConfiguration {
        var problems: [String] = []
        var chain: [NIOSSLCertificate] = []
        do {
            chain = try NIOSSLCertificate.fromPEMFile(settings.certFile)
            if chain.isEmpty { problems.append("tls_server_config.cert_file \(settings.certFile) holds no PEM certificate.") }
        } catch {
            problems.append("tls_server_config.cert_file \(settings.certFile) cannot be read as PEM certificates (\(fileProblem(settings.certFile))).")
        }
        var key: NIOSSLPrivateKey?
        do {
            key = try NIOSSLPrivateKey(file: settings.keyFile, format: .pem)
        } catch {
            // Never the key's contents: only whether the file is there.
            problems.append("tls_server_config.key_file \(settings.keyFile) cannot be read as a PEM private key (\(fileProblem(settings.keyFile))).")
        }
        var clientCAs: [NIOSSLCertificate] = []
        if let caFile = settings.clientCAFile {
            do {
                clientCAs = try NIOSSLCertificate.fromPEMFile(caFile)
                if clientCAs.isEmpty { problems.append("tls_server_config.client_ca_file \(caFile) holds no PEM certificate.") }
            } catch {
                problems.append("tls_server_config.client_ca_file \(caFile) cannot be read as PEM certificates (\(fileProblem(caFile))).")
            }
        }
        guard problems.isEmpty, let key else { throw WebConfigProblems(problems: problems) }

        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = settings.minVersion
        configuration.maximumTLSVersion = settings.maxVersion
        if !settings.cipherSuites.isEmpty { configuration.cipherSuiteValues = settings.cipherSuites }
        var acceptAnyCertificate = false
        switch settings.clientAuth {
        case .noClientCert:
            configuration.certificateVerification = .none
        case .requestClientCert:
            configuration.certificateVerification = .optionalVerification
            acceptAnyCertificate = true
        case .requireAnyClientCert:
            configuration.certificateVerification = .noHostnameVerification
            acceptAnyCertificate = true
        case .verifyClientCertIfGiven:
            configuration.certificateVerification = .optionalVerification
        case .requireAndVerifyClientCert:
            configuration.certificateVerification = .noHostnameVerification
        }
        if settings.clientAuth != .noClientCert {
            // Without CAs (Request/RequireAny), nothing is trusted, and the callback below accepts any certificate.
            configuration.trustRoots = .certificates(clientCAs)
            configuration.sendCANameList = !clientCAs.isEmpty
        }
        do {
            // Proves the key belongs to the certificate and that the versions and ciphers are usable.
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw WebConfigProblems(problems: [
                "tls_server_config: the certificate \(settings.certFile) and key \(settings.keyFile) cannot be used together (does the key match the certificate?), or the versions and cipher suites leave nothing to offer."
            ])
        }
        if acceptAnyCertificate {
            return TLSChannelConfiguration(tlsConfiguration: configuration) { _, promise in
                promise.succeed(.certificateVerified)
            }
        }
        return TLSChannelConfiguration(tlsConfiguration: configuration)
    }

    private static func fileProblem(_ path: String) -> String {
        FileManager.default.isReadableFile(atPath: path) ? "not in PEM form" : "missing or unreadable"
    }
}

/// The web configuration in force, replaced on reload; the receiver reads it for each new connection (TLS) and
/// each request (users, headers).
///
/// Whether TLS is on is fixed when the daemon starts: a reloaded file that would turn it on or off is refused
/// (the listener cannot change protocol without a restart). Everything else, certificate and key included, can
/// change: new connections get the new TLS settings, connections already open keep theirs.
public final class LiveWebConfig: Sendable {
    /// The web configuration file.
    public let path: String
    /// Whether the receiver speaks TLS; fixed at start.
    public let servesTLS: Bool
    private let state: Mutex<LoadedWebConfig>

    public init(path: String, initial: LoadedWebConfig) {
        self.path = path
        servesTLS = initial.tls != nil
        var first = initial
        first.generation = 1
        state = Mutex(first)
    }

    /// The configuration in force.
    public var current: LoadedWebConfig { state.withLock { $0 } }

    /// Puts `loaded` in force, unless it turns TLS on or off.
    public func replace(with loaded: LoadedWebConfig) throws(WebConfigProblems) {
        guard (loaded.tls != nil) == servesTLS else {
            throw WebConfigProblems(problems: [
                servesTLS
                    ? "\(path): tls_server_config was removed, but TLS cannot be turned off without a restart."
                    : "\(path): tls_server_config was added, but TLS cannot be turned on without a restart."
            ])
        }
        state.withLock { state in
            var next = loaded
            next.generation = state.generation + 1
            state = next
        }
    }

    /// Reads the file again and puts it in force when it is valid whole.
    public func reload() throws(WebConfigProblems) {
        try replace(with: try WebConfigLoader.load(path: path))
    }
}
