import Foundation
import NIOSSL
import Yams

extension WebConfig: CustomStringConvertible {
    /// What the file sets, with user names but never a hash.
    public var description: String {
        "WebConfig(tls: \(tls.map { "\($0.certFile), client auth \($0.clientAuth.rawValue)" } ?? "off"), "
            + "users: [\(users.keys.sorted().joined(separator: ", "))], headers: [\(headers.map(\.name).joined(separator: ", "))])"
    }
}

/// Everything wrong with a web configuration file, each problem a sentence naming the key. Never a secret (no
/// password, hash or key material): the file's own lines are never quoted.
public struct WebConfigProblems: Error, CustomStringConvertible, Sendable {
    /// Each problem, a sentence naming the key.
    public var problems: [String]

    public init(problems: [String]) {
        self.problems = problems
    }

    /// The problems, one a line.
    public var description: String { problems.joined(separator: "\n") }
}

/// exporter-toolkit's web configuration file (`--web.config.file`), as Prometheus, Alertmanager and the exporters
/// read it: `tls_server_config`, `http_server_config` and `basic_auth_users`.
///
/// Parsing checks the form only (see ``parse(yaml:directory:)``); ``WebConfigLoader`` also reads the certificate,
/// key and CA files it names. Relative paths are resolved against the file's directory, as exporter-toolkit does.
public struct WebConfig: Sendable, Equatable {
    /// TLS on the receiver; `nil` serves plain HTTP.
    public var tls: TLSServerSettings?
    /// User name → bcrypt hash. Empty: no basic auth from this file.
    public var users: [String: String]
    /// Response headers added to every answer, in the file's order of names (sorted).
    public var headers: [ResponseHeader]
    /// `http_server_config.http2`: accepted for compatibility; the receiver speaks HTTP/1.1 only.
    public var http2: Bool

    public init(tls: TLSServerSettings? = nil, users: [String: String] = [:], headers: [ResponseHeader] = [], http2: Bool = true) {
        self.tls = tls
        self.users = users
        self.headers = headers
        self.http2 = http2
    }

    static let topLevelKeys: Set<String> = ["tls_server_config", "http_server_config", "basic_auth_users"]
    static let tlsKeys: Set<String> = [
        "cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version", "cipher_suites",
        "prefer_server_cipher_suites",
    ]
    /// exporter-toolkit keys this receiver does not implement: refused rather than silently ignored.
    static let unsupportedTLSKeys: [String: String] = [
        "cert": "give the certificate as a file with cert_file",
        "key": "give the key as a file with key_file",
        "client_ca": "give the client CAs as a file with client_ca_file",
        "curve_preferences": "the curves are BoringSSL's defaults",
        "client_allowed_sans": "client certificates are checked against client_ca_file only",
    ]
    static let httpKeys: Set<String> = ["headers", "http2"]

    /// Parses `yaml`, the text of a web configuration file in `directory`.
    /// - Throws: ``WebConfigProblems`` with every problem found, each naming its key.
    public static func parse(yaml: String, directory: String) throws(WebConfigProblems) -> WebConfig {
        var problems: [String] = []
        let document: Any?
        do {
            document = try Yams.load(yaml: yaml)
        } catch {
            throw WebConfigProblems(problems: ["not valid YAML: \(syntaxProblem(error))."])
        }
        guard let document else { return WebConfig() }  // An empty file: plain HTTP, no users, no headers.
        guard let top = document as? [String: Any] else {
            throw WebConfigProblems(problems: ["the file must be a mapping (tls_server_config, http_server_config, basic_auth_users)."])
        }
        for key in top.keys.sorted() where !topLevelKeys.contains(key) {
            problems.append("unknown key '\(key)' (known: \(topLevelKeys.sorted().joined(separator: ", "))).")
        }
        var config = WebConfig()
        if let tls = top["tls_server_config"] {
            config.tls = parseTLS(tls, directory: directory, problems: &problems)
        }
        if let http = top["http_server_config"] {
            parseHTTP(http, into: &config, problems: &problems)
        }
        if let users = top["basic_auth_users"] {
            config.users = parseUsers(users, problems: &problems)
        }
        guard problems.isEmpty else { throw WebConfigProblems(problems: problems) }
        return config
    }

    private static func parseTLS(_ value: Any, directory: String, problems: inout [String]) -> TLSServerSettings? {
        guard let fields = value as? [String: Any] else {
            if value is NSNull { return nil }
            problems.append("tls_server_config must be a mapping.")
            return nil
        }
        for key in fields.keys.sorted() where !tlsKeys.contains(key) {
            if let hint = unsupportedTLSKeys[key] {
                problems.append("tls_server_config.\(key) is not supported here: \(hint).")
            } else {
                problems.append("tls_server_config: unknown key '\(key)' (known: \(tlsKeys.sorted().joined(separator: ", "))).")
            }
        }
        func path(_ key: String) -> String? {
            guard let raw = fields[key] else { return nil }
            guard let text = raw as? String else {
                problems.append("tls_server_config.\(key) must be a file path.")
                return nil
            }
            if text.isEmpty { return nil }
            return resolve(text, against: directory)
        }
        let cert = path("cert_file")
        let key = path("key_file")
        let clientCA = path("client_ca_file")
        var clientAuth = ClientAuthType.noClientCert
        if let raw = fields["client_auth_type"] {
            if let text = raw as? String, text.isEmpty {
                clientAuth = .noClientCert
            } else if let text = raw as? String, let parsed = ClientAuthType(configValue: text) {
                clientAuth = parsed
            } else {
                problems.append("tls_server_config.client_auth_type must be one of \(ClientAuthType.names.joined(separator: ", ")).")
            }
        }
        let minVersion = version(fields["min_version"], key: "min_version", fallback: .tlsv12, problems: &problems)
        let maxVersion = version(fields["max_version"], key: "max_version", fallback: .tlsv13, problems: &problems)
        if minVersion > maxVersion {
            problems.append("tls_server_config.min_version must not be above max_version.")
        }
        var ciphers: [NIOTLSCipher] = []
        if let raw = fields["cipher_suites"] {
            if let list = raw as? [Any] {
                for (index, item) in list.enumerated() {
                    guard let name = item as? String, let cipher = GoCipherSuites.cipher(named: name) else {
                        problems.append("tls_server_config.cipher_suites[\(index)]: \(GoCipherSuites.problem(item))")
                        continue
                    }
                    ciphers.append(cipher)
                }
            } else {
                problems.append("tls_server_config.cipher_suites must be a list of cipher suite names.")
            }
        }
        if fields["prefer_server_cipher_suites"] != nil, !(fields["prefer_server_cipher_suites"] is Bool) {
            problems.append("tls_server_config.prefer_server_cipher_suites must be true or false.")
        }
        // exporter-toolkit's rules: TLS is on when any of these is set, and then both cert and key are needed.
        guard cert != nil || key != nil || clientCA != nil || fields["client_auth_type"] != nil else { return nil }
        if cert == nil { problems.append("tls_server_config.cert_file is missing: TLS needs a certificate.") }
        if key == nil { problems.append("tls_server_config.key_file is missing: TLS needs a private key.") }
        if clientCA != nil && clientAuth == .noClientCert {
            problems.append("tls_server_config.client_ca_file is set but client_auth_type is NoClientCert: name the client auth policy (e.g. RequireAndVerifyClientCert).")
        }
        if clientAuth.verifiesCertificates && clientCA == nil {
            problems.append("tls_server_config.client_auth_type \(clientAuth.rawValue) needs client_ca_file to verify client certificates against.")
        }
        guard let cert, let key else { return nil }
        return TLSServerSettings(
            certFile: cert, keyFile: key, clientCAFile: clientCA, clientAuth: clientAuth, minVersion: minVersion,
            maxVersion: maxVersion, cipherSuites: ciphers)
    }

    private static func version(_ raw: Any?, key: String, fallback: TLSVersion, problems: inout [String]) -> TLSVersion {
        guard let raw else { return fallback }
        if let text = raw as? String, let version = TLSVersionName.versions[text] { return version }
        problems.append("tls_server_config.\(key) must be one of TLS10, TLS11, TLS12, TLS13.")
        return fallback
    }

    private static func parseHTTP(_ value: Any, into config: inout WebConfig, problems: inout [String]) {
        guard let fields = value as? [String: Any] else {
            if value is NSNull { return }
            problems.append("http_server_config must be a mapping.")
            return
        }
        for key in fields.keys.sorted() where !httpKeys.contains(key) {
            problems.append("http_server_config: unknown key '\(key)' (known: \(httpKeys.sorted().joined(separator: ", "))).")
        }
        if let http2 = fields["http2"] {
            if let flag = http2 as? Bool { config.http2 = flag } else { problems.append("http_server_config.http2 must be true or false.") }
        }
        if let raw = fields["headers"] {
            guard let headers = raw as? [String: Any] else {
                if !(raw is NSNull) { problems.append("http_server_config.headers must be a mapping of header names to values.") }
                return
            }
            for name in headers.keys.sorted() {
                guard let value = headers[name] as? String else {
                    problems.append("http_server_config.headers.\(name) must be a string.")
                    continue
                }
                switch ResponseHeader.validated(name: name, value: value) {
                case .success(let header): config.headers.append(header)
                case .failure(let problem): problems.append(problem.reason)
                }
            }
        }
    }

    private static func parseUsers(_ value: Any, problems: inout [String]) -> [String: String] {
        guard let fields = value as? [String: Any] else {
            if value is NSNull { return [:] }
            problems.append("basic_auth_users must be a mapping of user names to bcrypt hashes.")
            return [:]
        }
        var users: [String: String] = [:]
        for name in fields.keys.sorted() {
            guard let hash = fields[name] as? String, BcryptHash.isWellFormed(hash) else {
                // Never quote the value: it may be a password written by mistake.
                problems.append("basic_auth_users.\(name) must be a bcrypt hash ($2a$, $2b$ or $2y$, cost 4 to 31, 60 characters), e.g. from 'htpasswd -nBC 10 \"\" | tr -d :'.")
                continue
            }
            if name.contains(":") {
                problems.append("basic_auth_users: the user name '\(name)' must not contain ':' (HTTP basic auth cannot carry it).")
                continue
            }
            users[name] = hash
        }
        return users
    }

    /// `path` as an absolute path: relative ones are joined to `directory`.
    static func resolve(_ path: String, against directory: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: directory, isDirectory: true).appendingPathComponent(path).standardizedFileURL.path
    }

    /// Where and why the YAML parser stopped, without the source text (a line could hold a hash).
    static func syntaxProblem(_ error: any Error) -> String {
        guard let error = error as? YamlError else { return "the file cannot be parsed" }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
            let .composer(context, problem, mark, _):
            return "line \(mark.line), column \(mark.column): " + [context?.text, problem].compactMap { $0 }.joined(separator: ", ")
        case .duplicatedKeysInMapping(_, let context):
            return "line \(context.mark.line), column \(context.mark.column): a key is repeated in one mapping"
        case .dataCouldNotBeDecoded:
            return "the file is not UTF-8 text"
        default:
            return "the file cannot be parsed"
        }
    }
}

/// `tls_server_config`, paths resolved, names mapped to swift-nio-ssl's values.
public struct TLSServerSettings: Sendable, Equatable {
    public var certFile: String
    public var keyFile: String
    public var clientCAFile: String?
    public var clientAuth: ClientAuthType
    public var minVersion: TLSVersion
    public var maxVersion: TLSVersion
    /// Empty: BoringSSL's defaults. Applies to TLS 1.2 and below (TLS 1.3's suites are not configurable, as in Go).
    public var cipherSuites: [NIOTLSCipher]

    /// The files this configuration reads: certificate, key and client CAs.
    public var files: [String] { [certFile, keyFile] + (clientCAFile.map { [$0] } ?? []) }
}

/// exporter-toolkit's `client_auth_type` values (Go's `tls.ClientAuthType`).
public enum ClientAuthType: String, Sendable, CaseIterable {
    case noClientCert = "NoClientCert"
    case requestClientCert = "RequestClientCert"
    case requireAnyClientCert = "RequireAnyClientCert"
    case verifyClientCertIfGiven = "VerifyClientCertIfGiven"
    case requireAndVerifyClientCert = "RequireAndVerifyClientCert"

    static var names: [String] { allCases.map(\.rawValue) }

    /// The value as written in the file; `RequireClientCert` is exporter-toolkit's old name of `RequireAnyClientCert`.
    init?(configValue: String) {
        if configValue == "RequireClientCert" { self = .requireAnyClientCert; return }
        self.init(rawValue: configValue)
    }

    /// Whether presented certificates are checked against the client CAs.
    public var verifiesCertificates: Bool { self == .verifyClientCertIfGiven || self == .requireAndVerifyClientCert }
}

enum TLSVersionName {
    static let versions: [String: TLSVersion] = ["TLS10": .tlsv1, "TLS11": .tlsv11, "TLS12": .tlsv12, "TLS13": .tlsv13]
}

extension TLSVersion: @retroactive Comparable {
    private var order: Int {
        switch self {
        case .tlsv1: 0
        case .tlsv11: 1
        case .tlsv12: 2
        case .tlsv13: 3
        }
    }

    public static func < (lhs: TLSVersion, rhs: TLSVersion) -> Bool { lhs.order < rhs.order }
}

/// Go's cipher suite names (those `crypto/tls` accepts in `cipher_suites`) mapped to swift-nio-ssl's ciphers.
enum GoCipherSuites {
    /// Go's configurable suites (TLS 1.0–1.2) that BoringSSL also offers.
    static let supported: [String: NIOTLSCipher] = [
        "TLS_RSA_WITH_AES_128_CBC_SHA": .TLS_RSA_WITH_AES_128_CBC_SHA,
        "TLS_RSA_WITH_AES_256_CBC_SHA": .TLS_RSA_WITH_AES_256_CBC_SHA,
        "TLS_RSA_WITH_AES_128_GCM_SHA256": .TLS_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_RSA_WITH_AES_256_GCM_SHA384": .TLS_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": .TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": .TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": .TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": .TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        // Go's older names of the two ChaCha20 suites.
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
    /// Names Go knows that this receiver refuses, with the reason.
    static let unsupported: [String: String] = [
        "TLS_AES_128_GCM_SHA256": "TLS 1.3 suites are not configurable (as in Go); remove it",
        "TLS_AES_256_GCM_SHA384": "TLS 1.3 suites are not configurable (as in Go); remove it",
        "TLS_CHACHA20_POLY1305_SHA256": "TLS 1.3 suites are not configurable (as in Go); remove it",
        "TLS_RSA_WITH_RC4_128_SHA": "RC4 is not offered by BoringSSL",
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA": "RC4 is not offered by BoringSSL",
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": "RC4 is not offered by BoringSSL",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "3DES is not offered by BoringSSL",
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": "3DES is not offered by BoringSSL",
        "TLS_RSA_WITH_AES_128_CBC_SHA256": "CBC-SHA256 suites are not offered by BoringSSL",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "CBC-SHA256 suites are not offered by BoringSSL",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "CBC-SHA256 suites are not offered by BoringSSL",
    ]

    static func cipher(named name: String) -> NIOTLSCipher? { supported[name] }

    static func problem(_ item: Any) -> String {
        guard let name = item as? String else { return "must be a cipher suite name." }
        if let reason = unsupported[name] { return "\(name) is not supported: \(reason)." }
        return "unknown cipher suite '\(name)' (use Go's names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)."
    }
}
