import Foundation

/// Parses durations written as `1500ms`, `30s`, `5m`, `4h`, `1h30m` or a plain number of seconds.
///
/// A duration is never negative, never infinite or NaN, and at most ``maximum`` (ten years): longer values are
/// almost certainly typos, and anything longer than `Int64` milliseconds would crash the conversion.
public enum DurationText {
    /// The longest duration accepted: 3650 days.
    public static let maximum = Duration.seconds(3650 * 86_400)
    private static let maximumSeconds = 3650.0 * 86_400

    /// Why a text is not a duration, as the end of a sentence ("… is not a duration: <reason>").
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }

        public static let malformed = Problem(reason: "write e.g. 30s, 5m or 4h")
        public static let negative = Problem(reason: "a duration cannot be negative")
        public static let notFinite = Problem(reason: "a duration must be a finite number")
        public static let tooLong = Problem(reason: "the longest duration accepted is 3650d (ten years)")
    }

    /// The duration `text` names, or `nil` when it names none (see ``duration(_:)`` for why).
    public static func parse(_ text: String) -> Duration? {
        try? duration(text)
    }

    /// The duration `text` names; throws a ``Problem`` saying why it is not one.
    public static func duration(_ text: String) throws(Problem) -> Duration {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw .malformed }
        if trimmed.hasPrefix("-") { throw .negative }
        if let seconds = Double(trimmed) {
            return try milliseconds(seconds)
        }
        var totalSeconds = 0.0
        var number = ""
        var unit = ""
        func flush() throws(Problem) {
            guard let value = Double(number) else { throw .malformed }
            let scale: Double
            switch unit {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86_400
            default: throw .malformed
            }
            totalSeconds += value * scale
            number = ""
            unit = ""
        }
        for character in trimmed {
            if character.isASCII && (character.isNumber || character == ".") {
                if !unit.isEmpty { try flush() }
                number.append(character)
            } else if character.isASCII && character.isLetter {
                guard !number.isEmpty else { throw .malformed }
                unit.append(character)
            } else {
                throw .malformed
            }
        }
        try flush()
        return try milliseconds(totalSeconds)
    }

    /// `seconds` as a duration in whole milliseconds, once it is known to be finite, positive and in range.
    private static func milliseconds(_ seconds: Double) throws(Problem) -> Duration {
        guard seconds.isFinite else { throw .notFinite }
        guard seconds >= 0 else { throw .negative }
        guard seconds <= maximumSeconds else { throw .tooLong }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}
