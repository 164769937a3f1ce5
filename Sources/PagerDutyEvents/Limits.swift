/// The limits PagerDuty's Events API v2 enforces on what it accepts.
public enum EventLimits {
    /// The most characters (Unicode scalars) `payload.summary` may hold.
    public static let summaryMaxCharacters = 1024
    /// The most characters (Unicode scalars) `dedup_key` may hold.
    public static let dedupKeyMaxCharacters = 255
    /// The largest encoded event, in bytes of JSON.
    public static let eventMaxBytes = 512 * 1024
    /// The length of a routing (integration) key.
    public static let routingKeyLength = 32

    /// Whether `key` has the shape of a routing key: ``routingKeyLength`` ASCII letters or digits.
    public static func isWellFormedRoutingKey(_ key: String) -> Bool {
        key.utf8.count == routingKeyLength && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }
}

extension String {
    /// This text cut to at most `limit` Unicode scalars, ending with "…" when something was cut.
    ///
    /// The cut is made on a grapheme-cluster boundary, so neither a UTF-8 sequence nor a user-perceived
    /// character (an emoji with modifiers, a letter with combining marks) is ever split: the text backs off to the
    /// previous whole character. The ellipsis counts within `limit`. Text that already fits is returned unchanged.
    /// - Parameter limit: the largest number of Unicode scalars allowed; must not be negative.
    public func truncated(toCharacters limit: Int) -> String {
        precondition(limit >= 0, "a character limit cannot be negative")
        if utf8.count <= limit || unicodeScalars.count <= limit { return self }
        guard limit > 0 else { return "" }
        return wholeCharacterPrefix(maxScalars: limit - 1) + "…"
    }

    /// The longest prefix made of whole characters (grapheme clusters) that holds at most `maxScalars` scalars.
    func wholeCharacterPrefix(maxScalars: Int) -> String {
        var usedScalars = 0
        var end = startIndex
        while end < endIndex {
            let next = index(after: end)
            let characterScalars = self[end..<next].unicodeScalars.count
            if usedScalars + characterScalars > maxScalars { break }
            usedScalars += characterScalars
            end = next
        }
        return String(self[..<end])
    }
}
