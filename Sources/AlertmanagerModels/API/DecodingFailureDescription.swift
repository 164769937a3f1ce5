import Foundation

/// Says in words where and why decoding an API answer failed: `at [3].status.state: required field "state" is
/// missing`. The path uses the JSON shape: `[index]` for array elements, `.name` for members.
enum DecodingFailureDescription {
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, let context):
            return "at \(path(context.codingPath)): wrong type, expected \(jsonKind(of: type))"
        case .valueNotFound(let type, let context):
            return "at \(path(context.codingPath)): must be \(jsonKind(of: type)), not null"
        case .keyNotFound(let key, let context):
            return "at \(path(context.codingPath + [key])): required field \"\(key.stringValue)\" is missing"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "the answer is not valid JSON" }
            return "at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "the answer is not an Alertmanager alert list"
        }
    }

    /// `$` for the whole document, else e.g. `[2].labels["team name"]`.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue {
                text += "[\(index)]"
            } else if key.stringValue.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }),
                !key.stringValue.isEmpty
            {
                text += "." + key.stringValue
            } else {
                let escaped = key.stringValue.replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "\"", with: "\\\"")
                text += "[\"" + escaped + "\"]"
            }
        }
        if text.hasPrefix(".") { text.removeFirst() }
        return text.isEmpty ? "$" : text
    }

    private static func jsonKind(of type: Any.Type) -> String {
        if type == String.self { return "a string" }
        if type == Bool.self { return "a boolean" }
        if type == Int.self || type == Double.self { return "a number" }
        let name = String(describing: type)
        if name.hasPrefix("Dictionary") || name.hasPrefix("[") && name.contains(":") { return "an object" }
        if name.hasPrefix("Array") || name.hasPrefix("[") { return "an array" }
        return "an object"
    }
}
