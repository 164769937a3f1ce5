import AlertmanagerModels
import Foundation
import PublisherTestSupport
import Testing

/// The receiver's byte-level webhook decoder, `WebhookMessage(json:)`, checked against the `Decodable`
/// conformance decoded by Foundation's `JSONDecoder` (the reference): same documents accepted, same values built.
@Suite("Webhook decoding from bytes", .timeLimit(.minutes(2)))
struct WebhookJSONDecodingTests {
    static func reference(_ bytes: [UInt8]) -> WebhookMessage? {
        try? JSONDecoder().decode(WebhookMessage.self, from: Data(bytes))
    }

    static func fast(_ bytes: [UInt8]) -> Result<WebhookMessage, WebhookDecodingError> {
        Result { () throws(WebhookDecodingError) in try WebhookMessage(json: bytes) }
    }

    /// What the byte-level decoder must do with a body the reference decoded to `expected` (`nil`: refused).
    ///
    /// Both accept it and build the same value, or both refuse it, with one allowed difference: the reference is
    /// lenient about some malformed JSON (trailing commas, unescaped control characters, bad escapes, leading
    /// zeros, invalid UTF-8 in members it skips), which the byte-level decoder refuses as invalid JSON, as
    /// RFC 8259 asks, and it takes the first of two members with the same name, which the byte-level decoder
    /// refuses as ambiguous. Such a refusal must then be one of those two.
    static func expectAgreement(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = reference(bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        switch fast(bytes) {
        case .success(let message):
            #expect(message == expected, "accepted \(text)", sourceLocation: sourceLocation)
        case .failure(let error) where expected != nil:
            let isSyntaxError = error.path.isEmpty && error.reason.hasPrefix("the body is not valid JSON")
            #expect(
                isSyntaxError || error.reason == "this member appears more than once in its object",
                "refused \(text) with \(error), which the reference accepts", sourceLocation: sourceLocation
            )
        case .failure:
            break
        }
    }

    @Test(
        "every recorded webhook decodes to the reference's value",
        arguments: [
            "webhook-firing.json", "webhook-mixed.json", "webhook-resolved.json", "webhook-missing-fingerprint.json",
            "webhook-truncated-extra-fields.json",
        ]
    )
    func recordedWebhooks(_ fixture: String) throws {
        let bytes = Array(try Fixtures.data(fixture))
        let message = try WebhookMessage(json: bytes)
        #expect(message == Self.reference(bytes))
        #expect(!message.alerts.isEmpty)
    }

    @Test("generated webhooks with escapes, unicode, nulls, unknown members and odd spacing decode as the reference")
    func generatedWebhooks() throws {
        var generator = WebhookTextGenerator(seed: 0x5EED_CAFE)
        for _ in 0..<300 {
            let text = generator.webhook()
            let bytes = Array(text.utf8)
            let message = try #require(Self.reference(bytes), "the generator wrote a webhook the reference refuses: \(text)")
            #expect(try WebhookMessage(json: bytes) == message, "\(text)")
        }
    }

    @Test("every truncation and single-byte change of a webhook is accepted or refused as the reference does")
    func mutatedWebhooks() throws {
        let body = Array(
            #"{"version":"4","status":"firing","truncatedAlerts":0,"groupLabels":{"a":"b"},"x":[1,-2.5e3,true,null,{"y":"\u00e9\n"}],"alerts":[{"status":"resolved","labels":{"alertname":"Disk","équipe":"é\"\\"},"annotations":{"summary":"s"},"startsAt":"2026-01-01T10:00:00.5+02:00","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://p/g?a=1&b=2","fingerprint":"0123456789abcdef"}]}"#
                .utf8
        )
        #expect(Self.reference(body) != nil)
        for length in 0..<body.count {
            let prefix = Array(body[..<length])
            #expect(throws: WebhookDecodingError.self) { try WebhookMessage(json: prefix) }
        }
        let replacements: [UInt8] = [
            0x22, 0x7D, 0x5D, 0x2C, 0x3A, 0x5C, 0x20, 0x00, 0x0A, 0xFF, 0xC3, 0x31, 0x2D, 0x2E, 0x65, 0x6E, 0x7B, 0x5B,
        ]
        for position in body.indices {
            for replacement in replacements where body[position] != replacement {
                var mutated = body
                mutated[position] = replacement
                Self.expectAgreement(mutated)
            }
            var shortened = body
            shortened.remove(at: position)
            Self.expectAgreement(shortened)
        }
    }

    @Test(
        "refusals name the value's path and say what is wrong",
        arguments: [
            (#"[1]"#, "$", "wrong type: expected an object"),
            (#"null"#, "$", "must be an object, not null"),
            (#"{"version":"4"}"#, "alerts", #"required field "alerts" is missing"#),
            (#"{"alerts":null}"#, "alerts", "must be an array, not null"),
            (#"{"alerts":{}}"#, "alerts", "wrong type: expected an array"),
            (#"{"alerts":[{"labels":{"a":"b"}}]}"#, "alerts[0].status", #"required field "status" is missing"#),
            (#"{"alerts":[{"status":null}]}"#, "alerts[0].status", "must be a string, not null"),
            (#"{"alerts":[{"status":"burning"}]}"#, "alerts[0].status", #"must be "firing" or "resolved""#),
            (#"{"alerts":[{"status":"firing","labels":{"a":"b","é":7}}]}"#, #"alerts[0].labels["é"]"#, "wrong type: expected a string"),
            (#"{"alerts":[{"status":"firing","labels":{"a":null}}]}"#, "alerts[0].labels.a", "must be a string, not null"),
            (#"{"alerts":[{"status":"firing","startsAt":"yesterday"}]}"#, "alerts[0].startsAt", #""yesterday" is not an RFC 3339 time"#),
            (#"{"alerts":[],"truncatedAlerts":1.5}"#, "truncatedAlerts", "must be an integer"),
            (#"{"alerts":[],"truncatedAlerts":99999999999999999999}"#, "truncatedAlerts", "fits in 64 bits"),
            (#"{"alerts":[],"truncatedAlerts":"3"}"#, "truncatedAlerts", "wrong type: expected an integer"),
            (#"{"alerts":[]} x"#, "$", "not valid JSON: more content after the end of the document at line 1, column 15"),
            ("{\"alerts\":[],\n\"a\":\"\u{1}\"}", "$", "not valid JSON: a control character inside a string must be escaped at line 2, column 6"),
            (#"{"alerts":[],"a":"\x"}"#, "$", "not valid JSON: unknown escape sequence"),
            (#"{"alerts":[],"a":"\ud800"}"#, "$", "not valid JSON: a \\u escape of a high surrogate is not followed by a low one"),
            (#"{"alerts":[],"a":"\udc00"}"#, "$", "not valid JSON: a \\u escape is a lone low surrogate"),
            (#"{"alerts":[],"a":01}"#, "$", "not valid JSON: unexpected character '1'"),
            (#"{"alerts":[],}"#, "$", "not valid JSON: expected a member name in quotes"),
            (#"{"alerts":["#, "$", "not valid JSON: unexpected end of the body"),
        ]
    )
    func refusals(body: String, path: String, reason: String) {
        switch Self.fast(Array(body.utf8)) {
        case .success(let message):
            Issue.record("accepted \(body) as \(message)")
        case .failure(let error):
            #expect(error.path.jsonPathText == path)
            #expect(error.reason.contains(reason), "reason was: \(error.reason)")
        }
        if path != "$" || !reason.contains("not valid JSON") {
            #expect(Self.reference(Array(body.utf8)) == nil, "the reference refuses it too")
        }
    }

    @Test("invalid UTF-8 is refused, in kept and in skipped strings")
    func invalidUTF8() {
        for body in [
            Array(#"{"alerts":[{"status":"firing","labels":{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}}]}"#.utf8),
            Array(#"{"alerts":[],"skipped":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8),
        ] {
            guard case .failure(let error) = Self.fast(body) else {
                Issue.record("accepted invalid UTF-8")
                continue
            }
            #expect(error.reason.contains("not valid UTF-8"))
        }
    }

    @Test("nesting is limited without exhausting the stack")
    func nestingLimit() {
        func nested(_ depth: Int) -> [UInt8] {
            Array(#"{"alerts":[],"deep":"#.utf8) + Array(repeating: UInt8(ascii: "["), count: depth)
                + Array(repeating: UInt8(ascii: "]"), count: depth) + [UInt8(ascii: "}")]
        }
        #expect(throws: Never.self) { try WebhookMessage(json: nested(500)) }
        #expect(throws: WebhookDecodingError.self) { try WebhookMessage(json: nested(100_000)) }
        if case .failure(let error) = Self.fast(nested(600)) {
            #expect(error.reason.contains("nested deeper than 512 levels"))
        } else {
            Issue.record("600 levels were accepted")
        }
    }

    @Test("maxAlerts: up to the limit decodes as the reference; one more is refused at alerts, before it is decoded")
    func alertLimit() throws {
        let alert = #"{"status":"firing","labels":{"a":"b"}}"#
        func body(_ count: Int, last: String? = nil) -> [UInt8] {
            var alerts = Array(repeating: alert, count: count)
            if let last { alerts.append(last) }
            return Array((#"{"alerts":["# + alerts.joined(separator: ",") + "]}").utf8)
        }
        let atLimit = try WebhookMessage(json: body(3), maxAlerts: 3)
        #expect(atLimit == Self.reference(body(3)))
        // The fourth alert is malformed: refusing it for the count shows it was never decoded.
        let error = try #require(throws: WebhookDecodingError.self) {
            try WebhookMessage(json: body(3, last: #"{"status":"pending"}"#), maxAlerts: 3)
        }
        #expect(error.path == [.member("alerts")])
        #expect(error.reason == WebhookMessage.tooManyAlertsReason(maxAlerts: 3))
        #expect(throws: Never.self) { try WebhookMessage(json: body(3, last: alert)) }
    }
}

/// Writes random, valid Alertmanager webhooks as text, deterministically from a seed: members in random order,
/// random whitespace, optional members left out or `null`, unknown members of every JSON kind, and strings with
/// escapes, `\u` escapes (surrogate pairs included) and raw non-ASCII characters.
struct WebhookTextGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    private mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    private mutating func space() -> String { ["", "", " ", "\n  ", "\t", "\r\n"][below(6)] }

    private mutating func string() -> String {
        let pieces = [
            "a", "disk", "Z9", "é", "团队", "😀", #"\""#, #"\\"#, #"\/"#, #"\n"#, #"\t"#, #"\u00e9"#, #"\u0041"#,
            #"\ud83d\ude00"#, #"\u0000"#, " ", "-", "{}", "[1]",
        ]
        return "\"" + (0..<below(6)).map { _ in pieces[below(pieces.count)] }.joined() + "\""
    }

    private mutating func labelMap() -> String {
        let members = (0..<below(5)).map { index in "\"k\(index)\(["", "é", "_x"][below(3)])\":\(space())\(string())" }
        return "{" + space() + members.joined(separator: "," + space()) + space() + "}"
    }

    private mutating func unknownValue(depth: Int = 0) -> String {
        switch below(depth > 2 ? 5 : 7) {
        case 0: return string()
        case 1: return ["0", "-1", "3.25", "1e9", "-2.5E-3", "12345678901234567890"][below(6)]
        case 2: return ["true", "false"][below(2)]
        case 3: return "null"
        case 4: return "[]"
        case 5: return "[" + (0..<below(4)).map { _ in unknownValue(depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            return "{" + (0..<below(3)).map { index in "\"u\(index)\":" + unknownValue(depth: depth + 1) }
                .joined(separator: ",") + "}"
        }
    }

    private mutating func time() -> String {
        [
            "\"2026-11-23T12:00:00Z\"", "\"2026-11-23T12:00:00.123456789+02:00\"", "\"0001-01-01T00:00:00Z\"", "\"\"",
            "null",
        ][below(5)]
    }

    private mutating func object(_ members: [(String, String)]) -> String {
        var chosen = members.filter { _ in chance(85) }
        chosen += (0..<below(3)).map { index in ("extra\(index)", unknownValue()) }
        for index in chosen.indices.reversed() {
            chosen.swapAt(index, below(index + 1))
        }
        let rendered = chosen.map { name, value in "\"\(name)\"" + space() + ":" + space() + value }
        return "{" + space() + rendered.joined(separator: "," + space()) + space() + "}"
    }

    private mutating func alert() -> String {
        let members: [(String, String)] = [
            ("labels", chance(90) ? labelMap() : "null"),
            ("annotations", chance(90) ? labelMap() : "null"),
            ("startsAt", time()),
            ("endsAt", time()),
            ("generatorURL", chance(80) ? string() : "null"),
            ("fingerprint", chance(80) ? "\"\(String(next(), radix: 16))\"" : ["\"\"", "null"][below(2)]),
        ]
        let others = object(members)
        // `status` is required: it comes first, the other members after it.
        let status = ["\"firing\"", "\"resolved\""][below(2)]
        let rest = others.filter { !$0.isWhitespace } == "{}" ? "}" : "," + others.dropFirst()
        return "{" + space() + "\"status\":" + space() + status + rest
    }

    mutating func webhook() -> String {
        let alerts = "[" + space() + (0..<below(4)).map { _ in alert() }.joined(separator: "," + space()) + space() + "]"
        let others = object([
            ("version", ["\"4\"", "null"][below(2)]),
            ("groupKey", chance(80) ? string() : "null"),
            ("truncatedAlerts", ["0", "3", "null", "-1"][below(4)]),
            ("status", ["\"firing\"", "\"resolved\"", "null"][below(3)]),
            ("receiver", string()),
            ("groupLabels", chance(90) ? labelMap() : "null"),
            ("commonLabels", labelMap()),
            ("commonAnnotations", labelMap()),
            ("externalURL", string()),
        ])
        let rest = others.filter { !$0.isWhitespace } == "{}" ? "}" : "," + others.dropFirst()
        return space() + "{\"alerts\":" + space() + alerts + rest + space()
    }
}

@Suite("Webhook decoding edge cases", .timeLimit(.minutes(2)))
struct WebhookJSONEdgeCaseTests {
    @Test(
        "what the reference tolerates and the byte-level decoder accepts alike",
        arguments: [
            #"{"alerts":[],"truncatedAlerts":1e2}"#, #"{"alerts":[],"truncatedAlerts":1.0}"#,
            #"{"alerts":[],"truncatedAlerts":-0}"#, "\u{FEFF}{\"alerts\":[]}", #"{"alerts":[],"a":"\u0000"}"#,
            #"{"alerts":[{"status":"firing","labels":{"a":"\u0000","b":"\ud83d\ude00"}}]}"#,
        ]
    )
    func toleratedAlike(_ body: String) throws {
        let bytes = Array(body.utf8)
        let expected = try #require(WebhookJSONDecodingTests.reference(bytes))
        #expect(try WebhookMessage(json: bytes) == expected)
    }

    @Test(
        "a member that appears twice is refused as ambiguous, naming it",
        arguments: [
            (#"{"alerts":[],"version":"3","version":"4"}"#, "version"),
            (#"{"alerts":[],"alerts":[]}"#, "alerts"),
            (#"{"alerts":[{"status":"firing","status":"resolved"}]}"#, "alerts[0].status"),
            (#"{"alerts":[{"status":"firing","labels":{"a":"1","a":"2"}}]}"#, "alerts[0].labels.a"),
        ]
    )
    func duplicateMembers(body: String, path: String) {
        guard case .failure(let error) = WebhookJSONDecodingTests.fast(Array(body.utf8)) else {
            Issue.record("accepted \(body)")
            return
        }
        #expect(error.path.jsonPathText == path)
        #expect(error.reason == "this member appears more than once in its object")
    }

    @Test("unknown members may repeat: they are skipped")
    func unknownMembersRepeat() throws {
        let message = try WebhookMessage(json: Array(#"{"x":1,"x":[2],"alerts":[]}"#.utf8))
        #expect(message.alerts.isEmpty)
    }
}
