#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an Events API base URL was refused.
public struct EventsURLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A human-readable reason naming the problem. Never contains credentials from the URL.
    public var reason: String

    /// Creates an error with a reason.
    public init(reason: String) {
        self.reason = reason
    }

    /// The reason.
    public var description: String { reason }
}

/// A validated Events API base URL: `https`, or plain `http` only for a loopback host.
public struct EventsBaseURL: Sendable, Hashable, CustomStringConvertible {
    /// PagerDuty's default (US) Events API base.
    public static let pagerDutyDefault = "https://events.pagerduty.com"
    /// PagerDuty's EU Events API base.
    public static let pagerDutyEU = "https://events.eu.pagerduty.com"

    /// The base without a trailing slash, e.g. `https://events.pagerduty.com`.
    public let text: String

    /// Validates `text`.
    /// - Throws: ``EventsURLError`` when it is not an absolute `https` URL, or an `http` URL whose host is not
    ///   loopback (127.0.0.0/8, ::1, localhost), or carries credentials, a query or a fragment.
    public init(_ text: String) throws(EventsURLError) {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw EventsURLError(reason: "the events URL is empty") }
        guard let schemeEnd = trimmed.range(of: "://") else {
            throw EventsURLError(reason: "the events URL \"\(trimmed)\" is not an absolute URL (expected https://host)")
        }
        let scheme = trimmed[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else {
            throw EventsURLError(reason: "the events URL uses the scheme \"\(scheme)\"; only https (or http to a loopback host) is allowed")
        }
        let rest = trimmed[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let pathAndMore = rest[authorityEnd...]
        if authority.contains("@") {
            throw EventsURLError(reason: "the events URL must not carry credentials (user:password@)")
        }
        if pathAndMore.contains("?") || pathAndMore.contains("#") {
            throw EventsURLError(reason: "the events URL \"\(trimmed)\" must not have a query or fragment")
        }
        if pathAndMore.contains(where: { $0 == " " || $0.isNewline }) {
            throw EventsURLError(reason: "the events URL \"\(trimmed)\" contains spaces")
        }
        guard let host = Self.host(of: String(authority)) else {
            throw EventsURLError(reason: "the events URL \"\(trimmed)\" has no valid host[:port]")
        }
        if scheme == "http" && !Self.isLoopback(host) {
            throw EventsURLError(
                reason: "the events URL \"\(trimmed)\" uses plain http to \(host), which is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost); use https"
            )
        }
        var normalised = scheme + "://" + authority + pathAndMore
        while normalised.hasSuffix("/") { normalised.removeLast() }
        self.text = normalised
    }

    /// The full URL of `endpoint` below this base.
    public func url(for endpoint: EventsEndpoint) -> String {
        text + endpoint.path
    }

    /// The base URL text.
    public var description: String { text }

    /// The host of `host[:port]` or `[ipv6][:port]`, without brackets; nil when empty or the port is not a number.
    private static func host(of authority: String) -> String? {
        var host: Substring
        var port: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                port = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        } else {
            host = Substring(authority)
        }
        if let port, port.isEmpty || !port.allSatisfy(\.isASCII) || !port.allSatisfy(\.isNumber) || Int(port).map({ $0 > 65535 }) ?? true {
            return nil
        }
        guard !host.isEmpty else { return nil }
        return String(host)
    }

    /// True for `localhost`, an IPv4 address in 127.0.0.0/8 and the IPv6 loopback address.
    static func isLoopback(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        var ipv4 = in_addr()
        if inet_pton(AF_INET, host, &ipv4) == 1 {
            return UInt32(bigEndian: ipv4.s_addr) >> 24 == 127
        }
        var ipv6 = in6_addr()
        if inet_pton(AF_INET6, host, &ipv6) == 1 {
            return withUnsafeBytes(of: &ipv6) { bytes in bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1 }
        }
        return false
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
