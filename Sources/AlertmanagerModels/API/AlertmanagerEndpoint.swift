import Foundation

/// The base URL of an Alertmanager, checked: `http` or `https`, a host, an optional port and path prefix, no
/// credentials, query or fragment.
///
/// `http://am:9093/` becomes `http://am:9093`; a path prefix is kept (`http://am:9093/alertmanager`, for an
/// Alertmanager run with `--web.route-prefix`). Errors never quote the URL, which might hold a password.
public struct AlertmanagerEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `scheme://host[:port][/path]`, without a trailing `/`; API paths are appended to it.
    public var baseURL: String
    /// `host:port[/path]` (the scheme's default port when none was given): for logs and as a metric label.
    public var displayName: String

    /// Checks and normalises `url`.
    /// - Throws: ``AlertmanagerAPIError`` naming what is wrong.
    public init(url: String) throws(AlertmanagerAPIError) {
        let parts = try AlertmanagerURLParts(parsing: url)
        let authority = parts.bracketedHost + (parts.explicitPort.map { ":\($0)" } ?? "")
        self.baseURL = parts.scheme + "://" + authority + parts.path
        self.displayName = parts.bracketedHost + ":\(parts.explicitPort ?? parts.defaultPort)" + parts.path
    }

    public var description: String { baseURL }
}

/// The pieces of an Alertmanager URL, split by hand so that every rule can be checked and named.
struct AlertmanagerURLParts {
    var scheme: String
    /// The host; an IPv6 address keeps its brackets.
    var bracketedHost: String
    var explicitPort: Int?
    /// Empty, or starting with `/` and not ending with one.
    var path: String

    var defaultPort: Int { scheme == "https" ? 443 : 80 }

    private static func failure(_ reason: String) -> AlertmanagerAPIError {
        AlertmanagerAPIError(reason: "invalid Alertmanager URL: " + reason)
    }

    init(parsing text: String) throws(AlertmanagerAPIError) {
        let url = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !url.isEmpty else { throw Self.failure("it is empty") }
        guard !url.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F })
        else { throw Self.failure("it contains spaces or control characters") }
        guard let schemeEnd = url.range(of: "://") else {
            throw Self.failure("it needs a scheme, as in http://alertmanager:9093")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw Self.failure("the scheme must be http or https, not \"\(scheme.prefix(16))\"")
        }
        let rest = url[schemeEnd.upperBound...]
        guard !rest.contains("?") else { throw Self.failure("it must not have a query (?...)") }
        guard !rest.contains("#") else { throw Self.failure("it must not have a fragment (#...)") }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard !authority.contains("@") else {
            throw Self.failure("it must not hold credentials (user:password@); use the Alertmanager auth options instead")
        }
        let (host, port) = try Self.splitHostAndPort(authority)
        var path = String(rest[authorityEnd...])
        while path.hasSuffix("/") { path.removeLast() }
        guard !path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) else {
            throw Self.failure("the path must not contain \".\" or \"..\" segments")
        }
        self.scheme = scheme
        self.bracketedHost = host
        self.explicitPort = port
        self.path = path
    }

    private static func splitHostAndPort(_ authority: Substring) throws(AlertmanagerAPIError) -> (String, Int?) {
        let host: Substring
        let portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw failure("the IPv6 host has no closing \"]\"") }
            host = authority[...close]
            let afterHost = authority[authority.index(after: close)...]
            if afterHost.isEmpty {
                portText = nil
            } else if afterHost.hasPrefix(":") {
                portText = afterHost.dropFirst()
            } else {
                throw failure("unexpected text after the IPv6 host")
            }
            guard host.count > 2 else { throw failure("the IPv6 host is empty") }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
            portText = nil
        }
        guard !host.isEmpty else { throw failure("it has no host") }
        guard let portText else { return (host.lowercased(), nil) }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCIIDigit), let port = Int(portText),
            (1...65_535).contains(port)
        else { throw failure("the port must be a number from 1 to 65535") }
        return (host.lowercased(), port)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
