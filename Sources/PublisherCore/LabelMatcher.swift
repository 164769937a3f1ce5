/// A label matcher like Alertmanager's: `name = value`, `name != value`, `name =~ regex`, `name !~ regex`.
/// Regular expressions are anchored (they must match the whole value). A missing label has the value "".
///
/// Label values come from whoever can post a webhook, so a regular expression is only run on values of at most
/// ``maximumRegexValueBytes`` bytes (UTF-8): a longer value is taken by neither `=~` nor `!~`, so the alert goes
/// on to the next route (or the default). `=` and `!=` compare values of any length.
public struct LabelMatcher: Sendable, CustomStringConvertible {
    public enum Operation: String, Sendable, CaseIterable {
        case equal = "="
        case notEqual = "!="
        case matchesRegex = "=~"
        case doesNotMatchRegex = "!~"
    }

    /// The longest label value a regular expression runs on: 1,024 bytes of UTF-8, far above real label values
    /// (DNS names end at 253) while keeping the work per alert small.
    public static let maximumRegexValueBytes = 1024

    public let name: String
    public let operation: Operation
    public let value: String
    // Compiled once; matching never mutates it, so sharing it across threads is safe.
    nonisolated(unsafe) private let regex: Regex<AnyRegexOutput>?

    /// Why a matcher could not be parsed.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(name: String, operation: Operation, value: String) throws(ParseError) {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw ParseError(description: "\"\(name)\" is not a label name")
        }
        self.name = name
        self.operation = operation
        self.value = value
        switch operation {
        case .equal, .notEqual:
            regex = nil
        case .matchesRegex, .doesNotMatchRegex:
            do {
                regex = try Regex(value)
            } catch {
                throw ParseError(description: "\"\(value)\" is not a valid regular expression")
            }
        }
    }

    /// Parses `name=value`, `name != "value"`, `name=~regex` or `name !~ "regex"` (quotes optional).
    public init(parsing text: String) throws(ParseError) {
        let candidates: [Operation] = [.notEqual, .matchesRegex, .doesNotMatchRegex, .equal]
        var found: (Operation, Range<String.Index>)?
        for operation in candidates {
            if let range = text.range(of: operation.rawValue), found.map({ range.lowerBound < $0.1.lowerBound }) ?? true {
                found = (operation, range)
            }
        }
        guard let (operation, range) = found else {
            throw ParseError(description: "\"\(text)\" is not a matcher like name=value, name!=value, name=~regex or name!~regex")
        }
        let name = text[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
        var value = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
            value = String(value.dropFirst().dropLast())
        }
        try self.init(name: name, operation: operation, value: value)
    }

    /// Whether `labels` satisfy the matcher.
    public func matches(_ labels: [String: String]) -> Bool {
        let actual = labels[name] ?? ""
        switch operation {
        case .equal: return actual == value
        case .notEqual: return actual != value
        case .matchesRegex:
            guard actual.utf8.count <= Self.maximumRegexValueBytes else { return false }
            return (try? regex?.wholeMatch(in: actual)) != nil
        case .doesNotMatchRegex:
            guard actual.utf8.count <= Self.maximumRegexValueBytes else { return false }
            return (try? regex?.wholeMatch(in: actual)) == nil
        }
    }

    public var description: String { "\(name)\(operation.rawValue)\"\(value)\"" }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop(while: set.contains).reversed().drop(while: set.contains).reversed())
    }
}

extension Set where Element == Character {
    fileprivate static let whitespaces: Set<Character> = [" ", "\t"]
}
