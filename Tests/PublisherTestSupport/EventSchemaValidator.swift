import Foundation
import PagerDutyEvents

/// PagerDuty's official Events API v2 OpenAPI file could not be found.
public struct OpenAPIFileNotFound: Error, CustomStringConvertible {
    /// Every place looked at, in order.
    public var searchedLocations: [String]

    /// What was looked for, where, and how to fix it.
    public var description: String {
        "PagerDuty's Events API OpenAPI file (events-v2.openapi.json) was not found. Looked at: "
            + searchedLocations.joined(separator: "; ")
            + ". Set \(EventSchemaValidator.environmentVariable) to its path."
    }
}

/// The OpenAPI file was found but is not what the validator expects.
public struct OpenAPIFileUnusable: Error, CustomStringConvertible {
    /// What is wrong, and with which file.
    public var reason: String
    /// The reason.
    public var description: String { reason }
}

/// Validates request bodies against the request schemas of PagerDuty's official Events API v2 OpenAPI file.
///
/// Supports the subset of JSON Schema the file uses: `type`, `properties`, `required`, `enum`, `items`, `$ref` to
/// `#/components/schemas/…`, and `format` `date-time` / `url` (checked loosely). Unknown properties are allowed,
/// as in the file.
public struct EventSchemaValidator: Sendable {
    /// The environment variable naming the OpenAPI file; when unset the file is looked for beside the package.
    public static let environmentVariable = "PAGERDUTY_EVENTS_OPENAPI"
    /// The file's path relative to a `shared` folder.
    public static let sharedRelativePath = "shared/pagerduty/events-v2.openapi.json"

    /// The file the schemas were loaded from.
    public let path: String
    private let document: JSONValue
    private let requestSchemas: [EventsEndpoint: JSONValue]

    /// Loads the official file: from `$PAGERDUTY_EVENTS_OPENAPI` when set (a wrong path is an error), else `<package root>/../shared/pagerduty/
    /// events-v2.openapi.json`, else the same `shared/…` path below each further ancestor of the package root (so a
    /// git worktree nested one level deeper finds it too).
    /// - Throws: ``OpenAPIFileNotFound`` listing where it looked, or ``OpenAPIFileUnusable``.
    public static func official() throws -> EventSchemaValidator {
        try EventSchemaValidator(openAPIFile: locateOfficialFile())
    }

    /// The path of the official OpenAPI file, searched as ``official()`` describes.
    public static func locateOfficialFile() throws -> String {
        var searched: [String] = []
        let fileManager = FileManager.default
        if let configured = ProcessInfo.processInfo.environment[environmentVariable], !configured.isEmpty {
            if fileManager.fileExists(atPath: configured) { return configured }
            // An explicit setting that is wrong is an error, not a reason to look elsewhere.
            throw OpenAPIFileNotFound(searchedLocations: ["\(environmentVariable)=\(configured) (no such file)"])
        } else {
            searched.append("\(environmentVariable) (unset)")
        }
        // This file is <package root>/Tests/PublisherTestSupport/EventSchemaValidator.swift.
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        while directory.path != "/" {
            directory = directory.deletingLastPathComponent()
            let candidate = directory.appendingPathComponent(sharedRelativePath).path
            if fileManager.fileExists(atPath: candidate) { return candidate }
            searched.append(candidate)
        }
        throw OpenAPIFileNotFound(searchedLocations: searched)
    }

    /// Loads the request schemas from an OpenAPI file.
    public init(openAPIFile path: String) throws {
        self.path = path
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
            document = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw OpenAPIFileUnusable(reason: "cannot read \(path) as JSON: \(error)")
        }
        var schemas: [EventsEndpoint: JSONValue] = [:]
        for endpoint in EventsEndpoint.allCases {
            let operationPath = Self.operationPath(of: endpoint)
            guard let schema = document["paths"]?[operationPath]?["post"]?["requestBody"]?["content"]?["application/json"]?["schema"] else {
                throw OpenAPIFileUnusable(reason: "\(path) has no JSON request schema for POST \(operationPath)")
            }
            schemas[endpoint] = schema
        }
        requestSchemas = schemas
    }

    /// The path of `endpoint` in the OpenAPI file, whose server URL already ends in `/v2`.
    static func operationPath(of endpoint: EventsEndpoint) -> String {
        endpoint.path.hasPrefix("/v2/") ? String(endpoint.path.dropFirst(3)) : endpoint.path
    }

    /// The violations of a raw JSON body; empty when it is valid.
    public func validate(_ body: [UInt8], for endpoint: EventsEndpoint) -> [String] {
        do {
            return validate(try JSONDecoder().decode(JSONValue.self, from: Data(body)), for: endpoint)
        } catch {
            return ["$: the body is not JSON (\(error))"]
        }
    }

    /// The violations of a decoded body; empty when it is valid.
    public func validate(_ json: JSONValue, for endpoint: EventsEndpoint) -> [String] {
        var violations: [String] = []
        check(json, against: requestSchemas[endpoint]!, at: "$", into: &violations, depth: 0)
        return violations
    }

    private func check(_ value: JSONValue, against schema: JSONValue, at location: String, into violations: inout [String], depth: Int) {
        guard depth < 64 else {
            violations.append("\(location): schema nesting too deep (a $ref cycle?)")
            return
        }
        if case .string(let reference)? = schema["$ref"] {
            guard let target = resolve(reference) else {
                violations.append("\(location): the schema's $ref \(reference) cannot be resolved")
                return
            }
            check(value, against: target, at: location, into: &violations, depth: depth + 1)
            return
        }
        if case .string(let type)? = schema["type"], !Self.value(value, hasType: type) {
            violations.append("\(location): expected \(type), found \(Self.typeName(of: value))")
            return
        }
        if case .array(let allowed)? = schema["enum"], !allowed.contains(value) {
            let names = allowed.map(Self.shortText).joined(separator: ", ")
            violations.append("\(location): \(Self.shortText(value)) is not one of \(names)")
        }
        if case .string(let format)? = schema["format"], case .string(let text) = value, !Self.text(text, matchesFormat: format) {
            violations.append("\(location): \(Self.shortText(value)) is not a valid \(format)")
        }
        if case .object(let members) = value {
            if case .array(let required)? = schema["required"] {
                for case .string(let name) in required where members[name] == nil || members[name] == .null {
                    violations.append("\(location): required property \"\(name)\" is missing")
                }
            }
            if case .object(let properties)? = schema["properties"] {
                for name in members.keys.sorted() {
                    guard let propertySchema = properties[name], let member = members[name] else { continue }
                    check(member, against: propertySchema, at: "\(location).\(name)", into: &violations, depth: depth + 1)
                }
            }
        }
        if case .array(let elements) = value, let itemSchema = schema["items"] {
            for (index, element) in elements.enumerated() {
                check(element, against: itemSchema, at: "\(location)[\(index)]", into: &violations, depth: depth + 1)
            }
        }
    }

    /// Resolves a local JSON pointer such as `#/components/schemas/Payload`.
    private func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var node: JSONValue? = document
        for token in reference.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let name = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            node = node?[name]
        }
        return node
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

    /// Loose format checks: `date-time` must start `YYYY-MM-DDThh:mm`; `url` must be `scheme://something`.
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
        case "url":
            guard let separator = text.range(of: "://") else { return false }
            let scheme = text[..<separator.lowerBound]
            let rest = text[separator.upperBound...]
            return !scheme.isEmpty && scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
                && !rest.isEmpty && !rest.contains(where: \.isWhitespace)
        default:
            return true
        }
    }
}

extension JSONValue {
    /// The member `name` of an object; nil for a missing member or a non-object.
    fileprivate subscript(name: String) -> JSONValue? {
        if case .object(let members) = self { return members[name] }
        return nil
    }
}
