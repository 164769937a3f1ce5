import Foundation

/// A silence to create (or replace) through Alertmanager's API v2 (`POST /api/v2/silences`).
///
/// The daemon only ever builds silences that match one alert exactly: one equality matcher per label.
public struct SilenceRequest: Sendable, Hashable {
    /// One label matcher of a silence.
    public struct Matcher: Sendable, Hashable {
        public var name: String
        public var value: String
        /// `false`: the value is matched literally.
        public var isRegex: Bool
        /// `true`: the label must equal the value (`false` would mean "must differ").
        public var isEqual: Bool

        public init(name: String, value: String, isRegex: Bool = false, isEqual: Bool = true) {
            self.name = name
            self.value = value
            self.isRegex = isRegex
            self.isEqual = isEqual
        }
    }

    /// The silence to replace, or `nil` to create a new one.
    public var id: String?
    public var matchers: [Matcher]
    public var startsAt: Date
    public var endsAt: Date
    /// Who created it, as Alertmanager shows it.
    public var createdBy: String
    /// Why, as Alertmanager shows it.
    public var comment: String

    public init(id: String? = nil, matchers: [Matcher], startsAt: Date, endsAt: Date, createdBy: String, comment: String) {
        self.id = id
        self.matchers = matchers
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.createdBy = createdBy
        self.comment = comment
    }

    /// Equality matchers for every label of `labels`, sorted by name: a silence that matches exactly the alert
    /// with this label set (Alertmanager matches label sets, so no other alert can have all of them equal).
    public static func matchers(exactly labels: [String: String]) -> [Matcher] {
        labels.sorted { $0.key < $1.key }.map { Matcher(name: $0.key, value: $0.value) }
    }
}
