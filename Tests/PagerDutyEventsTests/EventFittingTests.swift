import PagerDutyEvents
import Testing

@Suite("Fitting events to PagerDuty's limits", .timeLimit(.minutes(2)))
struct EventFittingTests {
    @Test func anEventWithinLimitsIsUnchanged() {
        let event = sampleTrigger()
        #expect(event.fittedToLimits() == event)
        #expect(sampleChange().fittedToLimits() == sampleChange())
    }

    @Test func summaryIsTruncatedTo1024Characters() throws {
        var event = sampleTrigger()
        event.payload?.summary = String(repeating: "ü", count: 5000)
        let fitted = event.fittedToLimits()
        let summary = try #require(fitted.payload?.summary)
        #expect(summary.unicodeScalars.count == EventLimits.summaryMaxCharacters)
        #expect(summary.hasSuffix("…"))

        var change = sampleChange()
        change.payload.summary = String(repeating: "x", count: 2000)
        #expect(change.fittedToLimits().payload.summary.unicodeScalars.count == EventLimits.summaryMaxCharacters)
    }

    @Test func imagesWithoutAnHTTPSSourceAreDropped() {
        var event = sampleTrigger()
        event.images = [
            Image(src: "https://grafana.example.com/a.png"),
            Image(src: "http://grafana.example.com/b.png"),
            Image(src: "data:image/png;base64,AAAA"),
            Image(src: "HTTPS://grafana.example.com/c.png"),
        ]
        let sources = event.fittedToLimits().images?.map(\.src)
        #expect(sources == ["https://grafana.example.com/a.png", "HTTPS://grafana.example.com/c.png"])

        event.images = [Image(src: "http://insecure.example.com/only.png")]
        #expect(event.fittedToLimits().images == nil)
    }

    @Test func aLongDedupKeyIsShortenedStablyAndDistinctly() throws {
        let long = String(repeating: "fingerprint/", count: 30)  // 360 characters
        let fitted = try #require(sampleTrigger(dedupKey: long).fittedToLimits().dedupKey)
        #expect(fitted.unicodeScalars.count <= EventLimits.dedupKeyMaxCharacters)
        #expect(fitted.hasPrefix("fingerprint/fingerprint/"))
        #expect(sampleTrigger(dedupKey: long).fittedToLimits().dedupKey == fitted)

        let otherLong = String(long.dropLast()) + "X"
        #expect(sampleTrigger(dedupKey: otherLong).fittedToLimits().dedupKey != fitted)

        let exactlyAtLimit = String(repeating: "k", count: EventLimits.dedupKeyMaxCharacters)
        #expect(sampleTrigger(dedupKey: exactlyAtLimit).fittedToLimits().dedupKey == exactlyAtLimit)
    }

    @Test func hugeCustomDetailsAreShrunkUntilTheEventFits() throws {
        let details: JSONValue = [
            "log_excerpt": .string(String(repeating: "line of log output\n", count: 40_000)),  // ~760 KB
            "samples": .array((0..<20_000).map { JSONValue.number(Double($0)) }),  // ~110 KB
            "instance": "host-1:9100",
        ]
        let event = sampleTrigger(customDetails: details)
        #expect(try EventEncoding.encode(event).count > EventLimits.eventMaxBytes)

        let fitted = event.fittedToLimits()
        #expect(try EventEncoding.encode(fitted).count <= EventLimits.eventMaxBytes)
        #expect(fitted.payload?.summary == event.payload?.summary)
        #expect(fitted.payload?.severity == event.payload?.severity)
        #expect(fitted.payload?.source == event.payload?.source)

        let shrunk = try #require(fitted.payload?.customDetails)
        #expect(shrunk["instance"] == "host-1:9100")
        let note = try #require(shrunk["_truncated"]?.text)
        #expect(note.contains("log_excerpt"))
        #expect(fitted.fittedToLimits() == fitted)
        #expect(event.fittedToLimits() == fitted)  // deterministic
    }

    @Test func aLargeStringIsTrimmedRatherThanDroppedWhenThatIsEnough() throws {
        let details: JSONValue = ["description": .string(String(repeating: "d", count: 600 * 1024))]
        let fitted = sampleTrigger(customDetails: details).fittedToLimits()
        #expect(try EventEncoding.encode(fitted).count <= EventLimits.eventMaxBytes)
        let kept = try #require(fitted.payload?.customDetails?["description"]?.text)
        #expect(kept.count > 400 * 1024)
        #expect(kept.hasSuffix("…"))
        #expect(fitted.payload?.customDetails?["_truncated"]?.text?.contains("trimmed: description") == true)
    }

    @Test func manyMediumValuesAreRemovedLargestFirst() throws {
        var members: [String: JSONValue] = [:]
        for index in 0..<200 {
            // value sizes grow with the index: the largest ones must go first
            members[String(format: "key%03d", index)] = .array(Array(repeating: .number(1), count: 1000 + index * 10))
        }
        let fitted = sampleTrigger(customDetails: .object(members)).fittedToLimits()
        #expect(try EventEncoding.encode(fitted).count <= EventLimits.eventMaxBytes)
        let kept = try #require(fitted.payload?.customDetails)
        #expect(kept["key000"] != nil)
        #expect(kept["key199"] == nil)
        #expect(kept["_truncated"]?.text?.contains("removed: key199, key198") == true)
    }

    @Test func changeEventsAreShrunkToo() throws {
        var change = sampleChange()
        change.payload.customDetails = ["diff": .string(String(repeating: "+", count: 900 * 1024))]
        let fitted = change.fittedToLimits()
        #expect(try EventEncoding.encode(fitted).count <= EventLimits.eventMaxBytes)
        #expect(fitted.payload.summary == change.payload.summary)
        #expect(fitted.payload.customDetails?["_truncated"] != nil)
    }

    @Test func oversizedFieldsOutsideCustomDetailsStillEndUpFitting() throws {
        var event = sampleTrigger(customDetails: ["a": "b"])
        event.links = (0..<2000).map { Link(href: "https://example.com/\($0)/" + String(repeating: "p", count: 300)) }
        let fitted = event.fittedToLimits()
        #expect(try EventEncoding.encode(fitted).count <= EventLimits.eventMaxBytes)
        #expect(fitted.payload?.summary == event.payload?.summary)
        #expect(fitted.payload?.customDetails?["_truncated"]?.text?.contains("links and images removed") == true)
    }
}
