/// One `http_server_config.headers` entry. exporter-toolkit allows only these names, and fixes the values of two
/// of them; the same rules apply here, so one file serves Prometheus, Alertmanager, the exporters and this daemon.
public struct ResponseHeader: Sendable, Equatable {
    public let name: String
    public let value: String

    /// The names exporter-toolkit lets a web configuration set, with the only values allowed (`nil`: any value).
    public static let allowed: [String: [String]?] = [
        "Strict-Transport-Security": nil,
        "X-Content-Type-Options": ["nosniff"],
        "X-Frame-Options": ["deny", "sameorigin"],
        "X-XSS-Protection": nil,
        "Content-Security-Policy": nil,
    ]

    /// Why a header was refused: a sentence naming it.
    public struct Problem: Error, Sendable, Equatable {
        public let reason: String
    }

    /// `name: value` when exporter-toolkit would accept it (names and values compared exactly, as it does).
    public static func validated(name: String, value: String) -> Result<ResponseHeader, Problem> {
        guard let values = allowed[name] else {
            let names = allowed.keys.sorted().joined(separator: ", ")
            return .failure(Problem(reason: "http_server_config.headers.\(name) cannot be configured (allowed: \(names))."))
        }
        if let values, !values.contains(value) {
            return .failure(Problem(reason: "http_server_config.headers.\(name) must be one of \(values.map { "\"\($0)\"" }.joined(separator: ", ")); it is \"\(value)\"."))
        }
        guard !value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
            return .failure(Problem(reason: "http_server_config.headers.\(name) must be one line."))
        }
        return .success(ResponseHeader(name: name, value: value))
    }
}
