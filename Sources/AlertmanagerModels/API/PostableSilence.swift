import Foundation

/// The JSON body of `POST /api/v2/silences`: Alertmanager's `PostableSilence`.
struct PostableSilence: Encodable {
    struct Matcher: Encodable {
        var name: String
        var value: String
        var isRegex: Bool
        var isEqual: Bool
    }

    /// Omitted (not `null`) when creating a new silence.
    var id: String?
    var matchers: [Matcher]
    /// RFC 3339 in UTC with milliseconds, e.g. `2024-05-01T12:00:00.000Z`.
    var startsAt: String
    var endsAt: String
    var createdBy: String
    var comment: String

    init(_ silence: SilenceRequest) {
        id = silence.id
        matchers = silence.matchers.map {
            Matcher(name: $0.name, value: $0.value, isRegex: $0.isRegex, isEqual: $0.isEqual)
        }
        startsAt = RFC3339.format(silence.startsAt)
        endsAt = RFC3339.format(silence.endsAt)
        createdBy = silence.createdBy
        comment = silence.comment
    }

    /// The JSON bytes of `silence`, keys sorted.
    static func encode(_ silence: SilenceRequest) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(PostableSilence(silence)))
    }
}

/// The answer to `POST /api/v2/silences`: `{"silenceID": "..."}`.
struct PostedSilence: Decodable {
    var silenceID: String
}
