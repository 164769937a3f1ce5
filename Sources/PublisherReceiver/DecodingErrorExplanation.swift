import Foundation

/// Turns a `DecodingError` from the webhook decoder into a ``ReceiverRejection`` (400) whose reason says
/// what is wrong in words and whose field is the JSON path of the value concerned.
enum DecodingErrorExplanation {
    static func rejection(for error: DecodingError) -> ReceiverRejection {
        switch error {
        case .typeMismatch(let type, let context):
            let field = JSONFieldPath.render(context.codingPath)
            return .badRequest("wrong type: expected \(jsonKind(of: type))", field: field)

        case .valueNotFound(let type, let context):
            let field = JSONFieldPath.render(context.codingPath)
            return .badRequest("must be \(jsonKind(of: type)), not null", field: field)

        case .keyNotFound(let key, let context):
            let field = JSONFieldPath.render(context.codingPath + [key])
            return .badRequest("required field \"\(key.stringValue)\" is missing", field: field)

        case .dataCorrupted(let context):
            let field = JSONFieldPath.render(context.codingPath)
            if context.codingPath.isEmpty {
                return .badRequest(invalidJSONReason(context), field: field)
            }
            if context.codingPath.last?.stringValue == "status" {
                return .badRequest("must be \"firing\" or \"resolved\"", field: field)
            }
            return .badRequest(context.debugDescription, field: field)

        @unknown default:
            return .badRequest("the body is not a valid Alertmanager webhook", field: JSONFieldPath.root)
        }
    }

    /// "the body is not valid JSON", with the parser's position hint when it gives one.
    private static func invalidJSONReason(_ context: DecodingError.Context) -> String {
        let base = "the body is not valid JSON"
        guard let underlying = context.underlyingError as NSError?,
            let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String, !detail.isEmpty
        else { return base }
        return base + ": " + detail
    }

    /// The JSON words for a Swift type the decoder expected: "a string", "an object", …
    private static func jsonKind(of type: Any.Type) -> String {
        if type == String.self || type == Substring.self { return "a string" }
        if type == Bool.self { return "a boolean" }
        if type == Int.self || type == Int64.self || type == Int32.self || type == UInt.self { return "an integer" }
        if type == Double.self || type == Float.self { return "a number" }
        let name = String(describing: type)
        if name.hasPrefix("Dictionary") || name.hasPrefix("[") && name.contains(":") { return "an object" }
        if name.hasPrefix("Array") || name.hasPrefix("[") { return "an array" }
        return "a value of another kind"
    }
}
