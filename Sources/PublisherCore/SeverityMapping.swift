import Foundation
import PagerDutyEvents

/// Maps the value of an alert's `severity` label to one of PagerDuty's four severities.
///
/// Matching ignores case and surrounding spaces. Values not in the table, and alerts without the label, get
/// ``defaultSeverity`` (`error` unless configured, as Alertmanager's own integration does), so an invalid
/// severity is never sent.
public struct SeverityMapping: Sendable, Hashable {
    /// The built-in aliases, by the severity they map to.
    public static let builtInAliases: [Severity: [String]] = [
        .critical: ["critical", "crit", "fatal", "emergency", "emerg", "alert", "page", "pager", "disaster", "p1", "sev1", "sev-1"],
        .error: ["error", "err", "high", "major", "p2", "sev2", "sev-2"],
        .warning: ["warning", "warn", "medium", "minor", "average", "p3", "sev3", "sev-3"],
        .info: ["info", "informational", "information", "notice", "low", "none", "noise", "debug", "ok", "p4", "p5", "sev4", "sev-4", "sev5", "sev-5"],
    ]

    /// The label whose value is mapped.
    public var label: String
    /// What unknown or missing values map to.
    public var defaultSeverity: Severity
    private var table: [String: Severity]

    /// A mapping with the built-in aliases plus `extraAliases` (which win over the built-in ones).
    public init(label: String = "severity", defaultSeverity: Severity = .error, extraAliases: [String: Severity] = [:]) {
        self.label = label
        self.defaultSeverity = defaultSeverity
        var table: [String: Severity] = [:]
        for (severity, aliases) in Self.builtInAliases {
            for alias in aliases { table[alias] = severity }
        }
        for (alias, severity) in extraAliases {
            table[Self.normalize(alias)] = severity
        }
        self.table = table
    }

    /// The severity for an alert with these labels.
    public func severity(for labels: [String: String]) -> Severity {
        guard let value = labels[label] else { return defaultSeverity }
        return severity(forValue: value)
    }

    /// The severity for one label value.
    public func severity(forValue value: String) -> Severity {
        table[Self.normalize(value)] ?? defaultSeverity
    }

    private static func normalize(_ value: String) -> String {
        value.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }
}
