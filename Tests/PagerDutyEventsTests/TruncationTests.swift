import PagerDutyEvents
import Testing

@Suite("String truncation by Unicode scalars", .timeLimit(.minutes(2)))
struct TruncationTests {
    @Test func textAtTheLimitIsKeptWhole() {
        let text = String(repeating: "a", count: EventLimits.summaryMaxCharacters)
        #expect(text.truncated(toCharacters: EventLimits.summaryMaxCharacters) == text)
    }

    @Test func oneCharacterOverTheLimitIsCutWithAnEllipsisWithinTheLimit() {
        let text = String(repeating: "a", count: 1000) + String(repeating: "b", count: 25)
        let result = text.truncated(toCharacters: 1024)
        #expect(result.unicodeScalars.count == 1024)
        #expect(result.hasSuffix("…"))
        #expect(result.dropLast() == text.prefix(1023))
    }

    @Test func shortTextIsUnchangedAndHasNoEllipsis() {
        #expect("short summary".truncated(toCharacters: 1024) == "short summary")
        #expect("".truncated(toCharacters: 10) == "")
    }

    @Test func multiByteScalarsAreCountedAsOneCharacterEach() {
        // "é" (U+00E9, 2 UTF-8 bytes), "€" (3 bytes), "𝄞" (4 bytes).
        let text = String(repeating: "é€𝄞", count: 500)
        let result = text.truncated(toCharacters: 1024)
        #expect(result.unicodeScalars.count == 1024)
        #expect(result.utf8.count > 1024)
        #expect(text.hasPrefix(String(result.dropLast())))
    }

    @Test func combiningSequencesAreNeverSplit() {
        let accented = "e\u{301}"  // two scalars, one character
        let text = String(repeating: accented, count: 600)
        let result = text.truncated(toCharacters: 1024)
        #expect(result.unicodeScalars.count == 1023)  // 511 whole pairs + the ellipsis
        #expect(result.dropLast().allSatisfy { $0 == Character(accented) })
        #expect(result.last == "…")
    }

    @Test func emojiClustersAreNeverSplit() {
        let family = "👨‍👩‍👧‍👦"  // seven scalars joined by ZWJ
        let flag = "🇫🇷"
        let text = String(repeating: family + flag, count: 200)
        let result = text.truncated(toCharacters: 96)
        // 95 scalars fit before the ellipsis: 10 (family + flag) pairs take 90, and the next family needs 7 more,
        // so the cut backs off to the end of the 10th pair instead of splitting the family.
        #expect(result.dropLast().allSatisfy { $0 == Character(family) || $0 == Character(flag) })
        #expect(result.hasSuffix("…"))
        #expect(result.dropLast().count == 20)
        #expect(result.unicodeScalars.count == 91)
    }

    @Test func tinyLimits() {
        #expect("abc".truncated(toCharacters: 0) == "")
        #expect("abc".truncated(toCharacters: 1) == "…")
        #expect("abc".truncated(toCharacters: 2) == "a…")
    }
}

@Suite("Routing key shape", .timeLimit(.minutes(2)))
struct RoutingKeyShapeTests {
    @Test(arguments: [
        (String(repeating: "a", count: 32), true), ("R0ut1ngKeyS3cretR0ut1ngKeyS3cre7", true),
        (String(repeating: "a", count: 31), false), (String(repeating: "a", count: 33), false),
        (String(repeating: "a", count: 31) + "-", false), (String(repeating: "é", count: 32), false), ("", false),
    ])
    func shape(key: String, wellFormed: Bool) {
        #expect(EventLimits.isWellFormedRoutingKey(key) == wellFormed)
    }
}

@Suite("Fitting and encoding in one pass", .timeLimit(.minutes(2)))
struct FittedAndEncodedTests {
    func event(detailBytes: Int) -> AlertEvent {
        AlertEvent(
            routingKey: "", eventAction: .trigger, dedupKey: String(repeating: "k", count: 300),
            payload: AlertPayload(
                summary: String(repeating: "s", count: 2000), source: "host", severity: .critical,
                customDetails: ["blob": .string(String(repeating: "x", count: detailBytes))]),
            images: [Image(src: "http://insecure.example/a.png")]
        )
    }

    @Test(arguments: [10, 700 * 1024])
    func givesTheFittedEventAndItsExactBytes(detailBytes: Int) throws {
        let original = event(detailBytes: detailBytes)
        let (fitted, body) = try original.fittedAndEncoded()
        #expect(fitted == original.fittedToLimits())
        #expect(body == (try EventEncoding.encode(fitted)))
        #expect(body.count <= EventLimits.eventMaxBytes)
    }
}
