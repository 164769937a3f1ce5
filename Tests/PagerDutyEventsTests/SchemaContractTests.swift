import Foundation
import PagerDutyEvents
import PublisherTestSupport
import Testing

/// The body the client puts on the wire for `event`.
private func sentBody(_ event: AlertEvent) async throws -> [UInt8] {
    let transport = ScriptedTransport(status: 202, body: #"{"status":"success"}"#)
    let client = try EventsAPIClient(baseURL: "https://events.pagerduty.com", transport: transport)
    _ = await client.send(event)
    return try #require(transport.calls.first).body
}

/// The body the client puts on the wire for `event`.
private func sentBody(_ event: ChangeEvent) async throws -> [UInt8] {
    let transport = ScriptedTransport(status: 202, body: #"{"status":"success"}"#)
    let client = try EventsAPIClient(baseURL: "https://events.pagerduty.com", transport: transport)
    _ = await client.send(event)
    return try #require(transport.calls.first).body
}

/// A valid trigger as JSON, to be broken one member at a time.
private let validTrigger: JSONValue = [
    "routing_key": .string(testRoutingKey),
    "event_action": "trigger",
    "dedup_key": "disk-host-1",
    "payload": ["summary": "Disk almost full on host-1", "source": "host-1", "severity": "critical"],
]

/// An alert event that breaks a rule in almost every member, for the schemas to name each one.
private let invalidEvent: JSONValue = [
    "routing_key": .number(42),
    "event_action": "explode",
    "client_url": "not a url",
    "payload": [
        "source": "host-1",
        "severity": "fatal",
        "timestamp": "yesterday",
    ],
    "images": .array([["alt": "no source"]]),
]

/// Where both schemas must find a violation in ``invalidEvent``.
private let invalidEventLocations = [
    "$.routing_key", "$.event_action", "$.client_url", "$.payload.severity", "$.payload.timestamp",
    "$.payload: required property \"summary\"", "$.images[0]: required property \"src\"",
]

/// `json` with the member at `path` (object keys) replaced by `value`, or removed when `value` is nil.
private func replacing(_ path: [String], in json: JSONValue, with value: JSONValue?) -> JSONValue {
    guard let name = path.first, case .object(var members) = json else { return value ?? json }
    if path.count == 1 {
        members[name] = value
    } else {
        members[name] = replacing(Array(path.dropFirst()), in: members[name] ?? [:], with: value)
    }
    return .object(members)
}

/// Bodies both schemas must accept: what the client builds, and hand-written ones using every documented member.
private func validBodies() async throws -> [(EventsEndpoint, JSONValue)] {
    var bodies: [(EventsEndpoint, JSONValue)] = []
    for action in EventAction.allCases {
        var event = sampleTrigger()
        event.eventAction = action
        bodies.append((.enqueue, try decodeJSON(try await sentBody(event))))
    }
    bodies.append((.enqueue, try decodeJSON(try await sentBody(AlertEvent(routingKey: testRoutingKey, eventAction: .resolve, dedupKey: "k")))))
    bodies.append((.change, try decodeJSON(try await sentBody(sampleChange()))))
    for severity in Severity.allCases {
        bodies.append((.enqueue, replacing(["payload", "severity"], in: validTrigger, with: .string(severity.rawValue))))
    }
    bodies.append((.enqueue, replacing(["dedup_key"], in: validTrigger, with: nil)))
    bodies.append((.enqueue, replacing(["payload", "summary"], in: validTrigger, with: .string(String(repeating: "s", count: 1024)))))
    bodies.append((.enqueue, replacing(["dedup_key"], in: validTrigger, with: .string(String(repeating: "d", count: 255)))))
    bodies.append((.change, [
        "routing_key": .string(testRoutingKey),
        "payload": ["summary": "Merged #42"],
        "images": .array([["src": "https://ci.example.com/badge.png"]]),
    ]))
    return bodies
}

/// What the client puts on the wire satisfies the ``EventContract``: the project's schema
/// (`Tests/PublisherTestSupport/Resources/events-v2.schema.json`) always, and PagerDuty's OpenAPI file too when
/// `PAGERDUTY_EVENTS_OPENAPI` names it. Bodies that break the schema give violations naming their location.
@Suite("Contract with the project's Events API schema", .timeLimit(.minutes(1)))
struct SchemaContractTests {
    @Test(arguments: EventAction.allCases)
    func alertEventsBuiltByTheClientAreValid(action: EventAction) async throws {
        var event = sampleTrigger()
        event.eventAction = action
        let violations = try EventContract.current().validate(try await sentBody(event), for: .enqueue)
        #expect(violations == [])
    }

    @Test func aMinimalResolveIsValid() async throws {
        let event = AlertEvent(routingKey: testRoutingKey, eventAction: .resolve, dedupKey: "alert-fingerprint-1")
        #expect(try EventContract.current().validate(try await sentBody(event), for: .enqueue) == [])
    }

    @Test func changeEventsBuiltByTheClientAreValid() async throws {
        #expect(try EventContract.current().validate(try await sentBody(sampleChange()), for: .change) == [])
    }

    @Test func theClientFitsOversizedFieldsWithinTheLimits() async throws {
        var event = sampleTrigger(dedupKey: String(repeating: "k", count: 300))
        event.payload?.summary = String(repeating: "é", count: 2000)
        event.images = [Image(src: "http://grafana.example.com/panel.png")]
        var change = sampleChange()
        change.payload.summary = String(repeating: "s", count: 5000)
        let contract = try EventContract.current()
        #expect(contract.validate(try await sentBody(event), for: .enqueue) == [])
        #expect(contract.validate(try await sentBody(change), for: .change) == [])
    }

    @Test func anInvalidEventYieldsViolations() throws {
        let validator = try EventSchemaValidator.project()
        let invalid = replacing(["dedupKey"], in: invalidEvent, with: "misspelt")
        let violations = validator.validate(invalid, for: .enqueue)
        let expectedLocations = invalidEventLocations + ["$.dedupKey: property \"dedupKey\" is not allowed"]
        for location in expectedLocations {
            #expect(violations.contains { $0.hasPrefix(location) }, "no violation at \(location) in \(violations)")
        }
        #expect(validator.validate([UInt8]("not json".utf8), for: .change).count == 1)
        #expect(validator.validate(["payload": ["summary": "x"]], for: .change) == ["$: required property \"routing_key\" is missing"])
    }

    /// PagerDuty's documented limits, each broken once, with the violation it must give.
    static let brokenLimits: [(path: [String], value: JSONValue?, violation: String)] = [
        (["routing_key"], .string(String(repeating: "r", count: 33)), "$.routing_key: 33 characters, more than the 32 allowed"),
        (["routing_key"], .string(String(repeating: "r", count: 31)), "$.routing_key: 31 characters, fewer than the 32 required"),
        (["dedup_key"], .string(String(repeating: "d", count: 256)), "$.dedup_key: 256 characters, more than the 255 allowed"),
        (["payload", "summary"], .string(String(repeating: "s", count: 1025)), "$.payload.summary: 1025 characters, more than the 1024 allowed"),
        (["images"], .array([["src": "http://grafana.example.com/panel.png"]]), #"$.images[0].src: "http://grafana.example.com/panel.png" does not match ^https://"#),
        (["payload"], nil, #"$: required property "payload" is missing"#),
        (["payload", "source"], nil, #"$.payload: required property "source" is missing"#),
        (["payload", "severity"], .string("fatal"), #"$.payload.severity: "fatal" is not one of "critical", "error", "warning", "info""#),
        (["links"], .array([["text": "no href"]]), #"$.links[0]: required property "href" is missing"#),
    ]

    @Test(arguments: brokenLimits.indices)
    func aBrokenLimitGivesAViolationNamingItsLocation(index: Int) throws {
        let (path, value, violation) = Self.brokenLimits[index]
        let body = replacing(path, in: validTrigger, with: value)
        #expect(try EventSchemaValidator.project().validate(body, for: .enqueue) == [violation])
        #expect(try EventContract.current().validate(body, for: .enqueue).first == violation)
    }

    @Test(arguments: [EventAction.acknowledge, .resolve])
    func anAcknowledgeOrResolveNeedsADedupKey(action: EventAction) throws {
        let body: JSONValue = ["routing_key": .string(testRoutingKey), "event_action": .string(action.rawValue)]
        #expect(try EventSchemaValidator.project().validate(body, for: .enqueue) == [#"$: required property "dedup_key" is missing"#])
    }

    @Test func lengthsAreCountedInUnicodeScalarsAsJSONSchemaCountsCharacters() throws {
        let validator = try EventSchemaValidator.project()
        // 512 thumbs with a skin tone: 1,024 scalars, 512 grapheme clusters, 4,096 bytes of UTF-8.
        let thumbs = String(repeating: "👍🏽", count: 512)
        #expect(validator.validate(replacing(["payload", "summary"], in: validTrigger, with: .string(thumbs)), for: .enqueue) == [])
        // One more scalar is one too many, although there are only 513 grapheme clusters.
        let over = replacing(["payload", "summary"], in: validTrigger, with: .string(thumbs + "e"))
        #expect(validator.validate(over, for: .enqueue) == ["$.payload.summary: 1025 characters, more than the 1024 allowed"])
    }

    @Test func aChangeEventNeedsARoutingKeyAndASummaryWithinTheLimit() throws {
        let validator = try EventSchemaValidator.project()
        let tooLong: JSONValue = [
            "routing_key": .string(testRoutingKey),
            "payload": ["summary": .string(String(repeating: "s", count: 1025)), "severity": "info"],
        ]
        #expect(validator.validate(tooLong, for: .change) == [
            "$.payload.severity: property \"severity\" is not allowed here",
            "$.payload.summary: 1025 characters, more than the 1024 allowed",
        ])
        #expect(validator.validate(["routing_key": .string(testRoutingKey), "payload": [:]], for: .change)
            == [#"$.payload: required property "summary" is missing"#])
    }

    @Test func aSchemaUsingAKeywordTheValidatorDoesNotImplementIsRefused() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let schema = #"{"$defs": {"enqueue": {"type": "object", "properties": {"links": {"type": "array", "maxItems": 5}}}, "changeEnqueue": {}}}"#
        try Data(schema.utf8).write(to: file)
        let error = #expect(throws: SchemaFileUnusable.self) { try EventSchemaValidator(jsonSchemaFile: file.path) }
        #expect(error?.reason.contains(#"the keyword "maxItems" at #/$defs/enqueue/properties/links"#) == true)
    }
}

/// How the contract finds PagerDuty's official file: only through `PAGERDUTY_EVENTS_OPENAPI`.
@Suite("Event contract configuration", .timeLimit(.minutes(1)))
struct EventContractConfigurationTests {
    @Test func withoutTheVariableOnlyTheProjectSchemaIsUsed() throws {
        let contract = try EventContract.load(environment: [:])
        #expect(contract.official == nil)
        #expect(contract.project.name == "the project's schema")
        #expect(EventContract.officialFileTestsRun(environment: [:]) == false)
    }

    @Test func aVariableNamingAMissingFileIsAnError() throws {
        let missing = "/nonexistent/events-v2.openapi.json"
        let error = #expect(throws: OfficialSchemaUnavailable.self) {
            try EventContract.load(environment: [EventContract.officialFileVariable: missing])
        }
        #expect(error?.reason == .noSuchFile(missing))
        #expect(error?.description.contains("PAGERDUTY_EVENTS_OPENAPI names \(missing), which does not exist") == true)
    }

    @Test func underCIAnUnsetVariableRunsTheOfficialFileTestsSoThatTheyFail() {
        #expect(EventContract.officialFileTestsRun(environment: ["CI": "true"]))
        #expect(EventContract.officialFileTestsRun(environment: [EventContract.officialFileVariable: "/some/file.json"]))
        #expect(OfficialSchemaUnavailable(reason: .notConfigured).description.contains("set PAGERDUTY_EVENTS_OPENAPI to the path"))
    }
}

/// The same contract against PagerDuty's official OpenAPI file. These run when `PAGERDUTY_EVENTS_OPENAPI` is set,
/// and under `CI=true` always: there an unset variable fails them with a sentence saying to set it.
@Suite(
    "Contract with PagerDuty's official OpenAPI file",
    .enabled(if: EventContract.officialFileTestsRun(), Comment(rawValue: EventContract.officialFileSkipReason)),
    .timeLimit(.minutes(1))
)
struct OfficialSchemaContractTests {
    @Test func everyValidBodyIsAcceptedByBothSchemas() async throws {
        let official = try EventContract.officialValidator()
        let project = try EventSchemaValidator.project()
        for (endpoint, body) in try await validBodies() {
            #expect(project.validate(body, for: endpoint) == [], "\(body)")
            #expect(official.validate(body, for: endpoint) == [], "\(body)")
        }
    }

    @Test func whatTheOfficialFileRefusesTheProjectSchemaRefusesToo() throws {
        let official = try EventContract.officialValidator()
        let project = try EventSchemaValidator.project()
        let refused: [(EventsEndpoint, JSONValue)] = [
            (.enqueue, replacing(["routing_key"], in: validTrigger, with: nil)),
            (.enqueue, replacing(["event_action"], in: validTrigger, with: "explode")),
            (.enqueue, replacing(["payload", "severity"], in: validTrigger, with: "fatal")),
            (.enqueue, replacing(["payload", "summary"], in: validTrigger, with: nil)),
            (.enqueue, replacing(["payload", "timestamp"], in: validTrigger, with: "yesterday")),
            (.enqueue, replacing(["client_url"], in: validTrigger, with: "not a url")),
            (.enqueue, replacing(["images"], in: validTrigger, with: .array([["alt": "no source"]]))),
            (.enqueue, replacing(["links"], in: validTrigger, with: .array([["text": "no href"]]))),
            (.change, ["payload": ["summary": "x"]]),
            (.change, ["routing_key": .string(testRoutingKey), "payload": ["source": "ci"]]),
        ]
        for (endpoint, body) in refused {
            #expect(official.validate(body, for: endpoint) != [], "the official file should refuse \(body)")
            #expect(project.validate(body, for: endpoint) != [], "the project's schema should refuse \(body)")
        }
        // The project's schema is stricter where PagerDuty documents a limit that its OpenAPI file leaves out:
        // the routing key's 32 characters, dedup_key's 255 and summary's 1,024, https image sources, a payload
        // on every trigger, a dedup_key on acknowledge and resolve, and no undocumented members. The official
        // file accepts these bodies; PagerDuty's API refuses or ignores them.
        for (path, value, _) in SchemaContractTests.brokenLimits where [["routing_key"], ["dedup_key"], ["payload", "summary"], ["images"], ["payload"]].contains(path) {
            let body = replacing(path, in: validTrigger, with: value)
            #expect(official.validate(body, for: .enqueue) == [], "the official file states no such limit: \(body)")
            #expect(project.validate(body, for: .enqueue) != [])
        }
    }

    @Test func anInvalidEventYieldsViolations() throws {
        let validator = try EventContract.officialValidator()
        let invalid = invalidEvent
        let violations = validator.validate(invalid, for: .enqueue)
        let expectedLocations = invalidEventLocations
        for location in expectedLocations {
            #expect(violations.contains { $0.hasPrefix(location) }, "no violation at \(location) in \(violations)")
        }
        #expect(validator.validate(["payload": ["summary": "x"]], for: .change) == ["$: required property \"routing_key\" is missing"])
    }

    @Test func theContractAddsTheOfficialFilesViolationsNamingIt() throws {
        _ = try EventContract.officialValidator()
        let violations = try EventContract.current().validate(replacing(["event_action"], in: validTrigger, with: "explode"), for: .enqueue)
        #expect(violations.contains(#"$.event_action: "explode" is not one of "trigger", "acknowledge", "resolve""#))
        #expect(violations.contains(#"$.event_action: "explode" is not one of "trigger", "acknowledge", "resolve" (PagerDuty's OpenAPI file)"#))
    }
}
