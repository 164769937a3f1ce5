import Foundation
import PagerDutyEvents

/// PagerDuty's official OpenAPI file was needed but cannot be used as configured.
public struct OfficialSchemaUnavailable: Error, CustomStringConvertible {
    /// Why it is unavailable.
    public enum Reason: Sendable, Equatable {
        /// `PAGERDUTY_EVENTS_OPENAPI` is unset (or empty).
        case notConfigured
        /// `PAGERDUTY_EVENTS_OPENAPI` names a file that does not exist.
        case noSuchFile(String)
    }

    /// Why it is unavailable.
    public var reason: Reason

    /// An error for `reason`.
    public init(reason: Reason) {
        self.reason = reason
    }

    /// One sentence saying what to set.
    public var description: String {
        let variable = EventContract.officialFileVariable
        switch reason {
        case .notConfigured:
            return "PagerDuty's official Events API v2 OpenAPI file is not configured: set \(variable) to the path of "
                + "events-v2.openapi.json (scripts/test and .ci/run set it when the file is beside the repository)."
        case .noSuchFile(let path):
            return "\(variable) names \(path), which does not exist: set it to the path of PagerDuty's "
                + "events-v2.openapi.json, or unset it to check against the project's schema alone."
        }
    }
}

/// The contract every Events API v2 request body in the tests must satisfy: the project's own JSON Schema
/// (`Resources/events-v2.schema.json`), always, and PagerDuty's official OpenAPI file as well when the environment
/// variable `PAGERDUTY_EVENTS_OPENAPI` names it.
///
/// The fake PagerDuty and the contract tests use this one entry point. Nothing here looks for the official file
/// anywhere else: the scripts (`scripts/test`, `.ci/run`, `scripts/lib/harness.py`) set the variable when they find
/// it.
public struct EventContract: EventBodyValidating {
    /// The environment variable naming PagerDuty's official OpenAPI file.
    public static let officialFileVariable = "PAGERDUTY_EVENTS_OPENAPI"

    /// The project's schema.
    public let project: EventSchemaValidator
    /// PagerDuty's OpenAPI file, when configured.
    public let official: EventSchemaValidator?

    /// A contract of the given validators.
    public init(project: EventSchemaValidator, official: EventSchemaValidator?) {
        self.project = project
        self.official = official
    }

    /// The contract configured by `environment`: the project's schema, plus the official file when
    /// `PAGERDUTY_EVENTS_OPENAPI` is set.
    /// - Throws: ``OfficialSchemaUnavailable`` when the variable names a missing file (a wrong setting is an
    ///   error, never a reason to check less), or ``SchemaFileUnusable``.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> EventContract {
        let official = try officialFilePath(environment: environment).map(EventSchemaValidator.init(openAPIFile:))
        return EventContract(project: try EventSchemaValidator.project(), official: official)
    }

    /// The contract of this process's environment, loaded once.
    /// - Throws: what ``load(environment:)`` throws.
    public static func current() throws -> EventContract {
        try loadedOnce.get()
    }

    private static let loadedOnce: Result<EventContract, any Error> = Result { try load() }

    /// The official file's validator, for tests that are about that file.
    /// - Throws: ``OfficialSchemaUnavailable`` when the variable is unset or names a missing file, so that a
    ///   test that needs the file fails with a sentence saying what to set.
    public static func officialValidator() throws -> EventSchemaValidator {
        guard let official = try current().official else {
            throw OfficialSchemaUnavailable(reason: .notConfigured)
        }
        return official
    }

    /// The path `PAGERDUTY_EVENTS_OPENAPI` names, nil when it is unset or empty.
    /// - Throws: ``OfficialSchemaUnavailable`` when it names a missing file.
    public static func officialFilePath(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        guard let configured = environment[officialFileVariable], !configured.isEmpty else { return nil }
        guard FileManager.default.fileExists(atPath: configured) else {
            throw OfficialSchemaUnavailable(reason: .noSuchFile(configured))
        }
        return configured
    }

    /// Whether the tests against the official file run: when the variable is set, and always under `CI=true`,
    /// where an unset variable then fails them (``officialValidator()`` throws) instead of skipping them.
    public static func officialFileTestsRun(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        let configured = !(environment[officialFileVariable] ?? "").isEmpty
        return configured || environment["CI"] == "true"
    }

    /// Why the tests against the official file are skipped, for `.enabled(if:)`.
    public static let officialFileSkipReason =
        "\(officialFileVariable) is unset, so the tests against PagerDuty's official OpenAPI file are skipped; "
        + "the project's schema is checked regardless (set the variable to the file's path to run them)."

    /// The violations of a decoded body against the project's schema, then those against the official file,
    /// suffixed "(PagerDuty's OpenAPI file)"; empty when both accept it.
    public func validate(_ json: JSONValue, for endpoint: EventsEndpoint) -> [String] {
        let own = project.validate(json, for: endpoint)
        let theirs = official?.validate(json, for: endpoint).map { "\($0) (\(official!.name))" } ?? []
        return own + theirs
    }
}
