/// One step of a path into a JSON document: an object member's name or an array position.
public enum JSONPathComponent: Sendable, Hashable {
    /// The member of an object with this name.
    case member(String)
    /// The element of an array at this position (from 0).
    case index(Int)
}

extension Array where Element == JSONPathComponent {
    /// The path as a person reads it: `alerts[2].labels.severity`, `alerts[0].labels["équipe"]`; `$` when empty
    /// (the whole document).
    public var jsonPathText: String {
        var text = ""
        for component in self {
            switch component {
            case .index(let index):
                text += "[\(index)]"
            case .member(let name) where Self.isPlainName(name):
                text += text.isEmpty ? name : "." + name
            case .member(let name):
                text += "[\"" + Self.escapingQuotesAndBackslashes(name) + "\"]"
            }
        }
        return text.isEmpty ? "$" : text
    }

    /// ASCII letters, digits and `_`, not starting with a digit.
    private static func isPlainName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            return false
        }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }

    private static func escapingQuotesAndBackslashes(_ name: String) -> String {
        var output = ""
        for character in name {
            switch character {
            case "\\": output += "\\\\"
            case "\"": output += "\\\""
            default: output.append(character)
            }
        }
        return output
    }
}

/// Why a webhook body was refused by ``WebhookMessage/init(json:)-(UnsafeRawBufferPointer)``: what is wrong, in
/// words, and where.
///
/// The reason never quotes more of the body than the offending scalar value.
public struct WebhookDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong: `wrong type: expected a string`, `the body is not valid JSON: …`.
    public var reason: String
    /// Where: the path of the value concerned; empty for the whole body (syntax errors included).
    public var path: [JSONPathComponent]

    /// Creates an error from its reason and path.
    public init(reason: String, path: [JSONPathComponent]) {
        self.reason = reason
        self.path = path
    }

    /// `path: reason`, with the path as ``Swift/Array/jsonPathText``.
    public var description: String {
        path.jsonPathText + ": " + reason
    }
}
