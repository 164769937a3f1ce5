import AlertmanagerModels

/// A summary written with placeholders: `{{ labels.NAME }}`, `{{ annotations.NAME }}` and `{{ status }}`.
/// A placeholder whose label or annotation is missing renders as nothing; there is no other logic.
public struct SummaryTemplate: Sendable, Hashable {
    private enum Part: Sendable, Hashable {
        case text(String)
        case label(String)
        case annotation(String)
        case status
    }

    /// Why a template could not be parsed.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    private let parts: [Part]

    public init(_ template: String) throws(ParseError) {
        var parts: [Part] = []
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw ParseError(description: "a '{{' has no closing '}}'")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if name == "status" {
                parts.append(.status)
            } else if name.hasPrefix("labels."), name.count > 7 {
                parts.append(.label(String(name.dropFirst(7))))
            } else if name.hasPrefix("annotations."), name.count > 12 {
                parts.append(.annotation(String(name.dropFirst(12))))
            } else {
                throw ParseError(description: "'{{ \(name) }}' is not one of {{ labels.NAME }}, {{ annotations.NAME }}, {{ status }}")
            }
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
    }

    /// The template filled in from `alert`.
    public func render(_ alert: Alert) -> String {
        parts.map { part in
            switch part {
            case .text(let text): text
            case .label(let name): alert.labels[name] ?? ""
            case .annotation(let name): alert.annotations[name] ?? ""
            case .status: alert.status.rawValue
            }
        }.joined()
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop(while: set.contains).reversed().drop(while: set.contains).reversed())
    }
}

extension Set where Element == Character {
    fileprivate static let whitespaces: Set<Character> = [" ", "\t"]
}
