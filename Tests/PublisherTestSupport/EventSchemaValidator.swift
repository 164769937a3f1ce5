import Foundation
import PagerDutyEvents

/// A schema file could not be used: unreadable, not JSON, without the request schemas, or using a keyword the
/// validator does not implement.
public struct SchemaFileUnusable: Error, CustomStringConvertible {
    /// What is wrong, and with which file.
    public var reason: String
    /// The reason.
    public var description: String { reason }
}

/// Validates Events API v2 request bodies against a JSON Schema: the project's own
/// (`Resources/events-v2.schema.json`, ``project()``) or the request schemas of PagerDuty's official OpenAPI file
/// (``init(openAPIFile:)``).
///
/// Supports the keywords those files use: `type` (a name or a list), `enum`, `const`, `properties`, `required`,
/// `additionalProperties`, `items`, `allOf`, `if`/`then`/`else`, `minLength`/`maxLength` (counted in Unicode
/// scalars, as JSON Schema counts characters), `pattern` (searched, not anchored), `format` (`date-time`, `uri`
/// and the OpenAPI file's `url`, checked loosely) and `$ref` to a local JSON pointer (`#/$defs/…`,
/// `#/components/schemas/…`). Unknown members of a body are allowed unless `additionalProperties` says otherwise.
/// The project's file is refused when it uses any other keyword, so it cannot silently mean less than it says.
public struct EventSchemaValidator: EventBodyValidating {
    /// The name of the project's schema in `Resources/`.
    public static let projectSchemaResource = "events-v2.schema"

    /// Which file this is, for messages: "the project's schema" or "PagerDuty's OpenAPI file".
    public let name: String
    /// The file the schemas were loaded from.
    public let path: String
    private let document: JSONValue
    private let requestSchemas: [EventsEndpoint: JSONValue]
    private let patterns: [String: CompiledPattern]

    /// The project's own schema, `Tests/PublisherTestSupport/Resources/events-v2.schema.json` (bundled).
    /// - Throws: ``SchemaFileUnusable`` when it is missing from the bundle or malformed.
    public static func project() throws -> EventSchemaValidator {
        guard let url = Bundle.module.url(forResource: projectSchemaResource, withExtension: "json", subdirectory: "Resources") else {
            throw SchemaFileUnusable(reason: "the project's schema \(projectSchemaResource).json is missing from the PublisherTestSupport bundle")
        }
        return try EventSchemaValidator(jsonSchemaFile: url.path)
    }

    /// Loads a JSON Schema file holding one schema per endpoint: `$defs/enqueue` and `$defs/changeEnqueue`.
    /// - Throws: ``SchemaFileUnusable``.
    public init(jsonSchemaFile path: String) throws {
        let document = try Self.readJSON(path)
        var schemas: [EventsEndpoint: JSONValue] = [:]
        for endpoint in EventsEndpoint.allCases {
            let name = Self.definitionName(of: endpoint)
            guard let schema = document["$defs"]?[name] else {
                throw SchemaFileUnusable(reason: "\(path) has no schema $defs/\(name) for POST \(endpoint.path)")
            }
            schemas[endpoint] = schema
        }
        if let unsupported = Self.unsupportedKeyword(in: document, at: "#") {
            throw SchemaFileUnusable(reason: "\(path) uses \(unsupported), which the validator does not implement")
        }
        try self.init(name: "the project's schema", path: path, document: document, requestSchemas: schemas)
    }

    /// Loads the request schemas of PagerDuty's official OpenAPI file.
    /// - Throws: ``SchemaFileUnusable``.
    public init(openAPIFile path: String) throws {
        let document = try Self.readJSON(path)
        var schemas: [EventsEndpoint: JSONValue] = [:]
        for endpoint in EventsEndpoint.allCases {
            let operationPath = Self.operationPath(of: endpoint)
            guard let schema = document["paths"]?[operationPath]?["post"]?["requestBody"]?["content"]?["application/json"]?["schema"] else {
                throw SchemaFileUnusable(reason: "\(path) has no JSON request schema for POST \(operationPath)")
            }
            schemas[endpoint] = schema
        }
        try self.init(name: "PagerDuty's OpenAPI file", path: path, document: document, requestSchemas: schemas)
    }

    private init(name: String, path: String, document: JSONValue, requestSchemas: [EventsEndpoint: JSONValue]) throws {
        self.name = name
        self.path = path
        self.document = document
        self.requestSchemas = requestSchemas
        var patterns: [String: CompiledPattern] = [:]
        for pattern in Self.patterns(in: document) where patterns[pattern] == nil {
            do {
                patterns[pattern] = CompiledPattern(expression: try NSRegularExpression(pattern: pattern))
            } catch {
                throw SchemaFileUnusable(reason: "\(path) has the pattern \(pattern), which is not a valid regular expression")
            }
        }
        self.patterns = patterns
    }

    private static func readJSON(_ path: String) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw SchemaFileUnusable(reason: "cannot read \(path) as JSON: \(error)")
        }
    }

    /// The name of `endpoint`'s schema under `$defs` in the project's file.
    static func definitionName(of endpoint: EventsEndpoint) -> String {
        switch endpoint {
        case .enqueue: "enqueue"
        case .change: "changeEnqueue"
        }
    }

    /// The path of `endpoint` in the OpenAPI file, whose server URL already ends in `/v2`.
    static func operationPath(of endpoint: EventsEndpoint) -> String {
        endpoint.path.hasPrefix("/v2/") ? String(endpoint.path.dropFirst(3)) : endpoint.path
    }

    /// The violations of a decoded body, each starting with its location (`$.payload.summary: …`); empty when it
    /// is valid.
    public func validate(_ json: JSONValue, for endpoint: EventsEndpoint) -> [String] {
        var violations: [String] = []
        check(json, against: requestSchemas[endpoint]!, at: "$", into: &violations, depth: 0)
        return violations
    }

    // MARK: - Checking

    private func check(_ value: JSONValue, against schema: JSONValue, at location: String, into violations: inout [String], depth: Int) {
        guard depth < 64 else {
            violations.append("\(location): schema nesting too deep (a $ref cycle?)")
            return
        }
        if case .bool(let allowsAnything) = schema {
            if !allowsAnything { violations.append("\(location): no value is allowed here") }
            return
        }
        if case .string(let reference)? = schema["$ref"] {
            guard let target = resolve(reference) else {
                violations.append("\(location): the schema's $ref \(reference) cannot be resolved")
                return
            }
            check(value, against: target, at: location, into: &violations, depth: depth + 1)
        }
        if let types = Self.typeNames(schema["type"]), !types.contains(where: { Self.value(value, hasType: $0) }) {
            violations.append("\(location): expected \(types.joined(separator: " or ")), found \(Self.typeName(of: value))")
            return
        }
        if let expected = schema["const"], value != expected {
            violations.append("\(location): \(Self.shortText(value)) is not \(Self.shortText(expected))")
        }
        if case .array(let allowed)? = schema["enum"], !allowed.contains(value) {
            let names = allowed.map(Self.shortText).joined(separator: ", ")
            violations.append("\(location): \(Self.shortText(value)) is not one of \(names)")
        }
        if case .string(let text) = value {
            checkString(text, against: schema, at: location, into: &violations)
        }
        if case .object(let members) = value {
            checkObject(members, against: schema, at: location, into: &violations, depth: depth)
        }
        if case .array(let elements) = value, let itemSchema = schema["items"] {
            for (index, element) in elements.enumerated() {
                check(element, against: itemSchema, at: "\(location)[\(index)]", into: &violations, depth: depth + 1)
            }
        }
        if case .array(let parts)? = schema["allOf"] {
            for part in parts {
                check(value, against: part, at: location, into: &violations, depth: depth + 1)
            }
        }
        if let condition = schema["if"] {
            var failures: [String] = []
            check(value, against: condition, at: location, into: &failures, depth: depth + 1)
            if let branch = failures.isEmpty ? schema["then"] : schema["else"] {
                check(value, against: branch, at: location, into: &violations, depth: depth + 1)
            }
        }
    }

    private func checkString(_ text: String, against schema: JSONValue, at location: String, into violations: inout [String]) {
        // JSON Schema counts characters as code points: Unicode scalars, not grapheme clusters or UTF-8 bytes.
        let length = text.unicodeScalars.count
        if case .number(let minimum)? = schema["minLength"], Double(length) < minimum {
            violations.append("\(location): \(length) characters, fewer than the \(Int(minimum)) required")
        }
        if case .number(let maximum)? = schema["maxLength"], Double(length) > maximum {
            violations.append("\(location): \(length) characters, more than the \(Int(maximum)) allowed")
        }
        if case .string(let pattern)? = schema["pattern"], let compiled = patterns[pattern], !compiled.isFound(in: text) {
            violations.append("\(location): \(Self.shortText(.string(text))) does not match \(pattern)")
        }
        if case .string(let format)? = schema["format"], !Self.text(text, matchesFormat: format) {
            violations.append("\(location): \(Self.shortText(.string(text))) is not a valid \(format)")
        }
    }

    private func checkObject(
        _ members: [String: JSONValue], against schema: JSONValue, at location: String, into violations: inout [String], depth: Int
    ) {
        if case .array(let required)? = schema["required"] {
            for case .string(let name) in required where members[name] == nil || members[name] == .null {
                violations.append("\(location): required property \"\(name)\" is missing")
            }
        }
        let properties: [String: JSONValue]
        if case .object(let declared)? = schema["properties"] { properties = declared } else { properties = [:] }
        for name in members.keys.sorted() {
            guard let member = members[name] else { continue }
            if let propertySchema = properties[name] {
                check(member, against: propertySchema, at: "\(location).\(name)", into: &violations, depth: depth + 1)
            } else if case .bool(false)? = schema["additionalProperties"] {
                violations.append("\(location).\(name): property \"\(name)\" is not allowed here")
            } else if let extra = schema["additionalProperties"] {
                check(member, against: extra, at: "\(location).\(name)", into: &violations, depth: depth + 1)
            }
        }
    }

    /// Resolves a local JSON pointer such as `#/$defs/payload` or `#/components/schemas/Payload`.
    private func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var node: JSONValue? = document
        for token in reference.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let name = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            node = node?[name]
        }
        return node
    }

    // MARK: - Keywords

    /// The keywords ``check(_:against:at:into:depth:)`` applies.
    static let validationKeywords: Set<String> = [
        "$ref", "type", "const", "enum", "minLength", "maxLength", "pattern", "format", "required", "properties",
        "additionalProperties", "items", "allOf", "if", "then", "else",
    ]
    /// Keywords that only annotate or organise a schema.
    static let annotationKeywords: Set<String> = [
        "$schema", "$id", "$comment", "$defs", "title", "description", "examples", "default",
    ]

    /// The first keyword below `schema` that the validator neither applies nor may ignore, with its location.
    private static func unsupportedKeyword(in schema: JSONValue, at location: String) -> String? {
        guard case .object(let members) = schema else { return nil }
        for name in members.keys.sorted() {
            guard validationKeywords.contains(name) || annotationKeywords.contains(name) else {
                return "the keyword \"\(name)\" at \(location)"
            }
            let child = members[name]!
            switch name {
            case "$defs", "properties":
                guard case .object(let named) = child else { continue }
                for key in named.keys.sorted() {
                    if let found = unsupportedKeyword(in: named[key]!, at: "\(location)/\(name)/\(key)") { return found }
                }
            case "allOf":
                guard case .array(let parts) = child else { continue }
                for (index, part) in parts.enumerated() {
                    if let found = unsupportedKeyword(in: part, at: "\(location)/allOf/\(index)") { return found }
                }
            case "items", "if", "then", "else", "additionalProperties":
                if let found = unsupportedKeyword(in: child, at: "\(location)/\(name)") { return found }
            default:
                continue
            }
        }
        return nil
    }

    /// Every `pattern` string anywhere in `document`.
    private static func patterns(in document: JSONValue) -> [String] {
        switch document {
        case .object(let members):
            var found: [String] = []
            if case .string(let pattern)? = members["pattern"] { found.append(pattern) }
            for key in members.keys.sorted() where key != "pattern" {
                found += patterns(in: members[key]!)
            }
            return found
        case .array(let elements):
            return elements.flatMap(patterns(in:))
        default:
            return []
        }
    }

    private static func typeNames(_ type: JSONValue?) -> [String]? {
        switch type {
        case .string(let name)?:
            return [name]
        case .array(let names)?:
            return names.compactMap(\.stringValue)
        default:
            return nil
        }
    }

    private static func value(_ value: JSONValue, hasType type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null),
             ("number", .number):
            return true
        case ("integer", .number(let number)):
            return number.rounded() == number
        default:
            return false
        }
    }

    private static func typeName(of value: JSONValue) -> String {
        switch value {
        case .object: "object"
        case .array: "array"
        case .string: "string"
        case .number: "number"
        case .bool: "boolean"
        case .null: "null"
        }
    }

    private static func shortText(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): "\"" + text.truncated(toCharacters: 80) + "\""
        case .number(let number): String(number)
        case .bool(let flag): String(flag)
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Loose format checks: `date-time` must start `YYYY-MM-DDThh:mm`; `uri` must be `scheme:something` and `url`
    /// `scheme://something`, without white space. Other formats are annotations.
    private static func text(_ text: String, matchesFormat format: String) -> Bool {
        switch format {
        case "date-time":
            let pattern = Array("dddd-dd-ddTdd:dd")
            let characters = Array(text.prefix(pattern.count))
            guard characters.count == pattern.count else { return false }
            return zip(pattern, characters).allSatisfy { expected, actual in
                switch expected {
                case "d": actual.isASCII && actual.isNumber
                case "T": actual == "T" || actual == "t" || actual == " "
                default: actual == expected
                }
            }
        case "uri", "url":
            let separator = format == "url" ? "://" : ":"
            guard let range = text.range(of: separator) else { return false }
            let scheme = text[..<range.lowerBound]
            let rest = text[range.upperBound...]
            return scheme.first?.isLetter == true
                && scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
                && !rest.isEmpty && !rest.contains(where: \.isWhitespace)
        default:
            return true
        }
    }
}

/// A compiled `pattern`. `NSRegularExpression` is immutable once made, so sharing it between threads is safe.
private struct CompiledPattern: @unchecked Sendable {
    let expression: NSRegularExpression

    /// Whether the pattern matches somewhere in `text` (JSON Schema patterns are not anchored).
    func isFound(in text: String) -> Bool {
        expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

extension JSONValue {
    /// The member `name` of an object; nil for a missing member or a non-object.
    fileprivate subscript(name: String) -> JSONValue? {
        if case .object(let members) = self { return members[name] }
        return nil
    }
}

/// Something that checks Events API request bodies and names each violation by its location.
public protocol EventBodyValidating: Sendable {
    /// The violations of a decoded body, each starting with its location (`$.payload.summary: …`); empty when it
    /// is valid.
    func validate(_ json: JSONValue, for endpoint: EventsEndpoint) -> [String]
}

extension EventBodyValidating {
    /// The violations of a raw JSON body; a body that is not JSON is one violation at `$`.
    public func validate(_ body: [UInt8], for endpoint: EventsEndpoint) -> [String] {
        do {
            return validate(try JSONDecoder().decode(JSONValue.self, from: Data(body)), for: endpoint)
        } catch {
            return ["$: the body is not JSON (\(error))"]
        }
    }
}
