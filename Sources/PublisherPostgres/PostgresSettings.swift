import Foundation
import PostgresNIO

/// How the connection to PostgreSQL is protected: the URL's `sslmode`.
///
/// Only modes that either encrypt for sure or say plainly that they do not are supported. libpq's default,
/// `prefer`, falls back to plain text without a word when the server offers no TLS, and `allow` even more so;
/// both are refused. Without `sslmode` the connection is in clear text only to a loopback host (a sidecar, a
/// test cluster); any other host needs an explicit mode.
public enum PostgresSSLMode: String, Sendable, Hashable, CaseIterable {
    /// No TLS: the password and every alert cross the network in clear text.
    case disable
    /// TLS without verifying the server's certificate: encrypted, but open to an active man in the middle.
    case require
    /// TLS, with the server's certificate verified against the CA file (or the system's trust roots) and its
    /// name checked against the host.
    case verifyFull = "verify-full"
}

/// Why a PostgreSQL URL or its files cannot be used. The reason never contains the password.
public struct PostgresSettingsError: Error, Sendable, CustomStringConvertible {
    /// A sentence saying what is wrong and how to fix it.
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// Where and how to connect to PostgreSQL, from a `postgres://` URL (`--database`), an optional password file
/// (`--database-password-file`) and an optional CA file (`--database-ca-file`).
///
/// The URL is `postgres://USER[:PASSWORD]@HOST[:PORT][/DATABASE][?sslmode=MODE&application_name=NAME]`
/// (`postgresql://` too). User, password and database are percent-decoded; an IPv6 host is written in brackets.
/// The port defaults to 5432 and the database to the user's name. See ``PostgresSSLMode`` for `sslmode` and its
/// default. Any other query parameter is an error, so a typo never silently weakens the connection.
public struct PostgresSettings: Sendable {
    /// The PostgreSQL user.
    public var user: String
    /// The host name or address (IPv6 without brackets).
    public var host: String
    /// The TCP port.
    public var port: Int
    /// The database; `nil` connects to the database named like the user.
    public var database: String?
    /// How the connection is protected.
    public var sslMode: PostgresSSLMode
    /// The `application_name` the server shows in `pg_stat_activity`.
    public var applicationName: String
    /// The CA file whose certificates verify the server (`verify-full` only); `nil` uses the system's roots.
    public var caFile: String?

    /// The password; never printed (see ``redacted``).
    private var password: String?
    /// The certificates read from ``caFile``.
    private var trustedCertificates: [NIOSSLCertificate]
    /// The URL's query as given, for ``redacted``.
    private var query: String?
    private var scheme: String
    private var hasPasswordInURL: Bool

    /// The `application_name` used when the URL gives none.
    public static let defaultApplicationName = "pagerduty-publisher"

    /// Whether `text` is meant as a PostgreSQL URL (`postgres://` or `postgresql://`, any case) rather than a
    /// SQLite path.
    public static func isPostgresURL(_ text: String) -> Bool {
        let lowered = text.trimmingCharacters(in: .whitespaces).lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    /// Parses `url`; reads the password from the first line of `passwordFile` (which wins over a password in the
    /// URL) and the trust roots of `verify-full` from the PEM file `caFile`.
    public init(url: String, passwordFile: String? = nil, caFile: String? = nil) throws(PostgresSettingsError) {
        let text = url.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Self.isPostgresURL(text), let schemeEnd = text.range(of: "://") else {
            throw PostgresSettingsError(reason: "The database URL must start with postgres:// or postgresql://.")
        }
        scheme = text[..<schemeEnd.lowerBound].lowercased()
        var rest = Substring(text[schemeEnd.upperBound...])
        if rest.contains("#") {
            throw PostgresSettingsError(
                reason: "The database URL contains '#'; percent-encode it (%23) in the password, or give the password with --database-password-file.")
        }

        // Authority: up to the first '/' or '?'.
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        rest = rest[authorityEnd...]
        let atSigns = authority.filter { $0 == "@" }.count
        guard atSigns <= 1 else {
            throw PostgresSettingsError(
                reason: "The database URL has more than one '@' before its host; percent-encode '@' (%40) in the user or password, or give the password with --database-password-file.")
        }
        var hostPort = authority
        var urlUser: String?
        var urlPassword: String?
        if let at = authority.firstIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                urlUser = try Self.decoded(userInfo[..<colon], what: "user")
                urlPassword = try Self.decoded(userInfo[userInfo.index(after: colon)...], what: "password")
            } else {
                urlUser = try Self.decoded(userInfo, what: "user")
            }
        }
        guard let givenUser = urlUser, !givenUser.isEmpty else {
            throw PostgresSettingsError(reason: "The database URL names no user; write postgres://USER@HOST/DATABASE.")
        }
        user = givenUser
        hasPasswordInURL = urlPassword != nil
        (host, port) = try Self.hostAndPort(hostPort)

        // Database: the path, without further '/'.
        var pathPart = rest
        query = nil
        if let questionMark = rest.firstIndex(of: "?") {
            pathPart = rest[..<questionMark]
            query = String(rest[rest.index(after: questionMark)...])
        }
        if pathPart.hasPrefix("/") { pathPart = pathPart.dropFirst() }
        if pathPart.contains("/") {
            throw PostgresSettingsError(reason: "The database URL's path must be one database name, as in postgres://USER@HOST/DATABASE.")
        }
        let databaseName = try Self.decoded(pathPart, what: "database name")
        database = databaseName.isEmpty ? nil : databaseName

        // Query parameters.
        var parameters: [String: String] = [:]
        var unknown: [String] = []
        for pair in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decoded(parts[0], what: "query parameter name")
            let value = try Self.decoded(parts.count > 1 ? parts[1] : "", what: "value of \(name)")
            guard name == "sslmode" || name == "application_name" else {
                unknown.append(name)
                continue
            }
            guard parameters[name] == nil else {
                throw PostgresSettingsError(reason: "The database URL gives \(name) twice.")
            }
            parameters[name] = value
        }
        if !unknown.isEmpty {
            throw PostgresSettingsError(
                reason: "The database URL has unsupported query parameters: \(unknown.joined(separator: ", ")); only sslmode and application_name are understood.")
        }
        applicationName = parameters["application_name"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultApplicationName
        sslMode = try Self.sslMode(parameters["sslmode"], host: host)

        // Password: the file wins.
        password = urlPassword
        if let passwordFile {
            password = try Self.readPassword(from: passwordFile)
        }

        // Trust roots.
        self.caFile = caFile
        trustedCertificates = []
        if let caFile {
            guard sslMode == .verifyFull else {
                throw PostgresSettingsError(
                    reason: "A CA file (\(caFile)) is given but sslmode is \(sslMode.rawValue); the CA file is used only with sslmode=verify-full, so set that to have the server verified.")
            }
            trustedCertificates = try Self.readCertificates(from: caFile)
        }
    }

    /// The URL with the password replaced by `***`: safe for logs and errors.
    public var redacted: String {
        var text = "\(scheme)://\(Self.encoded(user))"
        if hasPasswordInURL { text += ":***" }
        text += "@"
        text += host.contains(":") ? "[\(host)]" : host
        text += ":\(port)"
        if let database { text += "/\(Self.encoded(database))" }
        if let query, !query.isEmpty { text += "?\(query)" }
        return text
    }

    /// The configuration of a `PostgresClient` for these settings.
    ///
    /// Every connection starts with `synchronous_commit=on` (a startup parameter, which no database or role
    /// default overrides): a commit returns only once its WAL is flushed, so the receiver's 202 means the rows
    /// survive a crash of PostgreSQL. Connecting gives up after 5 s.
    public var clientConfiguration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case .disable:
            tls = .disable
        case .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            tls = .require(configuration)
        case .verifyFull:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .fullVerification
            if !trustedCertificates.isEmpty {
                configuration.trustRoots = .certificates(trustedCertificates)
            }
            tls = .require(configuration)
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = [
            ("synchronous_commit", "on"),
            ("application_name", applicationName),
        ]
        return configuration
    }

    // MARK: - Parsing

    private static func decoded(_ text: Substring, what: String) throws(PostgresSettingsError) -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw PostgresSettingsError(reason: "The database URL's \(what) has an invalid percent-encoding.")
        }
        return decoded
    }

    private static func encoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    private static func hostAndPort(_ text: Substring) throws(PostgresSettingsError) -> (String, Int) {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw PostgresSettingsError(reason: "The database URL's IPv6 host has no closing ']'.")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    throw PostgresSettingsError(reason: "The database URL has text after its IPv6 host that is not a port.")
                }
                portText = after.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            host = text
        }
        guard !host.isEmpty else {
            throw PostgresSettingsError(
                reason: "The database URL names no host; write postgres://USER@HOST/DATABASE (Unix sockets are not supported).")
        }
        if host.contains(",") {
            throw PostgresSettingsError(reason: "The database URL names several hosts; give one (a load balancer or the primary's service name).")
        }
        var port = 5432
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw PostgresSettingsError(reason: "The database URL's port \"\(portText)\" is not a number from 1 to 65535.")
            }
            port = value
        }
        guard let decodedHost = String(host).removingPercentEncoding else {
            throw PostgresSettingsError(reason: "The database URL's host has an invalid percent-encoding.")
        }
        return (decodedHost, port)
    }

    private static func sslMode(_ value: String?, host: String) throws(PostgresSettingsError) -> PostgresSSLMode {
        guard let value else {
            guard isLoopback(host) else {
                throw PostgresSettingsError(
                    reason: "The database URL gives no sslmode for the host \(host); add ?sslmode=verify-full (with --database-ca-file, or the system's trust roots) or ?sslmode=require, or ?sslmode=disable to send the password and alerts in clear text. Without sslmode only a loopback host is reached in clear text.")
            }
            return .disable
        }
        if let mode = PostgresSSLMode(rawValue: value) { return mode }
        switch value {
        case "prefer", "allow":
            throw PostgresSettingsError(
                reason: "sslmode=\(value) is not supported: it falls back to clear text without telling; use sslmode=require or verify-full, or disable on purpose.")
        case "verify-ca":
            throw PostgresSettingsError(
                reason: "sslmode=verify-ca is not supported; use sslmode=verify-full, which also checks the server's name.")
        default:
            throw PostgresSettingsError(reason: "sslmode=\(value) is unknown; use disable, require or verify-full.")
        }
    }

    /// True for `localhost`, an IPv4 address in 127.0.0.0/8 and the IPv6 loopback address.
    static func isLoopback(_ host: String) -> Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1" { return true }
        let octets = lowered.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { UInt8($0) != nil }
    }

    private static func readPassword(from path: String) throws(PostgresSettingsError) -> String {
        let contents: String
        do {
            contents = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PostgresSettingsError(reason: "Cannot read the database password file \(path): \(error.localizedDescription)")
        }
        let firstLine = contents.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let password = firstLine.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !password.isEmpty else {
            throw PostgresSettingsError(reason: "The database password file \(path) is blank; put the password on its first line.")
        }
        return password
    }

    private static func readCertificates(from path: String) throws(PostgresSettingsError) -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw PostgresSettingsError(
                reason: "Cannot read CA certificates from \(path): it must be a readable PEM file (\(type(of: error))).")
        }
        guard !certificates.isEmpty else {
            throw PostgresSettingsError(reason: "The CA file \(path) holds no PEM certificate.")
        }
        return certificates
    }
}
