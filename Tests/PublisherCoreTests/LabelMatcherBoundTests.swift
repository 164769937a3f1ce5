import PublisherCore
import Testing

@Suite("Label matcher regular expressions on long values", .timeLimit(.minutes(2)))
struct LabelMatcherBoundTests {
    let limit = LabelMatcher.maximumRegexValueBytes

    @Test func theBoundIs1024Bytes() {
        #expect(limit == 1024)
    }

    @Test func aValueAtTheBoundIsMatchedAndOneByteMoreIsTakenByNoRegexMatcher() throws {
        let anything = try LabelMatcher(parsing: "summary =~ .*")
        let notX = try LabelMatcher(parsing: "summary !~ x")
        let atBound = String(repeating: "a", count: limit)
        let over = atBound + "a"
        #expect(anything.matches(["summary": atBound]))
        #expect(notX.matches(["summary": atBound]))
        #expect(!anything.matches(["summary": over]), "=~ does not take an over-long value")
        #expect(!notX.matches(["summary": over]), "!~ does not take it either")
    }

    @Test func theBoundCountsUTF8BytesNotCharacters() throws {
        let anything = try LabelMatcher(parsing: "summary =~ .*")
        let twoByteCharacters = String(repeating: "é", count: limit / 2)  // 1,024 bytes
        #expect(anything.matches(["summary": twoByteCharacters]))
        #expect(!anything.matches(["summary": twoByteCharacters + "é"]))
    }

    @Test func equalityMatchersCompareValuesOfAnyLength() throws {
        let long = String(repeating: "b", count: 10 * limit)
        #expect(try LabelMatcher(name: "summary", operation: .equal, value: long).matches(["summary": long]))
        #expect(try LabelMatcher(name: "summary", operation: .notEqual, value: "x").matches(["summary": long]))
    }

    @Test func anOverLongValueFallsThroughToTheNextRouteOrTheDefault() throws {
        let key = String(repeating: "k", count: 32)
        let routes = RouteTable(routes: [
            Route(name: "not-staging", routingKey: key, matchers: [try LabelMatcher(parsing: "env !~ staging.*")]),
            Route(name: "default", routingKey: key),
        ])
        #expect(routes.selectRoute(for: ["env": "production"])?.name == "not-staging")
        #expect(routes.selectRoute(for: ["env": String(repeating: "p", count: limit + 1)])?.name == "default")
    }
}
