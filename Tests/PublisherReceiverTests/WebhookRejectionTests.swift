import Foundation
import HummingbirdTesting
import PublisherCore
import PublisherReceiver
import StructuredLogging
import Testing

/// A request that must be refused, and how.
struct RejectionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var body: String?
    var contentType: String? = "application/json"
    var status: Int
    var field: String?
    /// A fragment the error message must contain.
    var reasonContains: String

    var testDescription: String { name }
}

@Suite("Refusing bad webhooks", .timeLimit(.minutes(2)))
struct WebhookRejectionTests {
    static let cases: [RejectionCase] = [
        .init(name: "malformed JSON", body: #"{"alerts": [ {"status": "firing", }"#, status: 400, field: "$",
              reasonContains: "not valid JSON"),
        .init(name: "empty body", body: "", status: 400, field: "$", reasonContains: "empty"),
        .init(name: "no body at all", body: nil, status: 400, field: "$", reasonContains: "empty"),
        .init(name: "not an object", body: "[1, 2]", status: 400, field: "$", reasonContains: "expected an object"),
        .init(name: "null body", body: "null", status: 400, field: "$", reasonContains: "must be an object, not null"),
        .init(name: "null alert", body: #"{"alerts":[null]}"#, status: 400, field: "alerts[0]",
              reasonContains: "must be an object, not null"),
        .init(name: "missing alerts", body: #"{"version":"4","status":"firing"}"#, status: 400, field: "alerts",
              reasonContains: "alerts"),
        .init(name: "alerts not an array", body: #"{"alerts":{"status":"firing"}}"#, status: 400, field: "alerts",
              reasonContains: "expected an array"),
        .init(name: "labels as a number",
              body: #"{"alerts":[{"status":"firing","labels":{"a":"b"}},{"status":"firing","labels":{"a":"b"}},{"status":"firing","labels":42}]}"#,
              status: 400, field: "alerts[2].labels", reasonContains: "expected an object"),
        .init(name: "label value as a number", body: #"{"alerts":[{"status":"firing","labels":{"severity":3}}]}"#,
              status: 400, field: "alerts[0].labels.severity", reasonContains: "expected a string"),
        .init(name: "unicode label name in path", body: #"{"alerts":[{"status":"firing","labels":{"équipe":true}}]}"#,
              status: 400, field: #"alerts[0].labels["équipe"]"#, reasonContains: "expected a string"),
        .init(name: "bad status value", body: #"{"alerts":[{"status":"firing","labels":{"a":"b"}},{"status":"pending","labels":{"a":"b"}}]}"#,
              status: 400, field: "alerts[1].status", reasonContains: #""firing" or "resolved""#),
        .init(name: "missing status", body: #"{"alerts":[{"labels":{"a":"b"}}]}"#, status: 400,
              field: "alerts[0].status", reasonContains: "missing"),
        .init(name: "null status", body: #"{"alerts":[{"status":null,"labels":{"a":"b"}}]}"#, status: 400,
              field: "alerts[0].status", reasonContains: "null"),
        .init(name: "bad time", body: #"{"alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"yesterday"}]}"#,
              status: 400, field: "alerts[0].startsAt", reasonContains: "RFC 3339"),
        .init(name: "unsupported version", body: #"{"version":"3","alerts":[{"status":"firing","labels":{"a":"b"}}]}"#,
              status: 400, field: "version", reasonContains: "version \"3\""),
        .init(name: "alert with empty labels",
              body: #"{"alerts":[{"status":"firing","labels":{"a":"b"}},{"status":"firing","labels":{}}]}"#,
              status: 400, field: "alerts[1].labels", reasonContains: "at least one label"),
        .init(name: "alert without labels, with a fingerprint",
              body: #"{"alerts":[{"status":"firing","fingerprint":"0123456789abcdef"}]}"#,
              status: 400, field: "alerts[0].labels", reasonContains: "at least one label"),
        .init(name: "alert with null labels",
              body: #"{"alerts":[{"status":"firing","labels":{"a":"b"}},{"status":"firing","labels":null}]}"#,
              status: 400, field: "alerts[1].labels", reasonContains: "at least one label"),
        .init(name: "fingerprint of 256 characters",
              body: #"{"alerts":[{"status":"firing","labels":{"a":"b"},"fingerprint":"\#(String(repeating: "f", count: 256))"}]}"#,
              status: 400, field: "alerts[0].fingerprint", reasonContains: "at most 255"),
        .init(name: "fingerprint with a NUL",
              body: #"{"alerts":[{"status":"firing","labels":{"a":"b"},"fingerprint":"abc\u0000def"}]}"#,
              status: 400, field: "alerts[0].fingerprint", reasonContains: "control character"),
        .init(name: "fingerprint of 256 non-ASCII characters",
              body: #"{"alerts":[{"status":"firing","labels":{"a":"b"}},{"status":"firing","labels":{"a":"c"},"fingerprint":"\#(String(repeating: "é", count: 256))"}]}"#,
              status: 400, field: "alerts[1].fingerprint", reasonContains: "256 characters"),
        .init(name: "no Content-Type", body: realisticWebhook, contentType: nil, status: 415, field: nil,
              reasonContains: "Content-Type header is missing"),
        .init(name: "a cross-site form post as text/plain", body: #"{"alerts":[{"status":"firing","labels":{"a":"b"}}]}"#,
              contentType: "text/plain;charset=UTF-8", status: 415, field: nil, reasonContains: "application/json"),
        .init(name: "multipart form", body: "--x\r\n\r\n--x--", contentType: "multipart/form-data; boundary=x",
              status: 415, field: nil, reasonContains: "multipart/form-data"),
        .init(name: "text/plain", body: realisticWebhook, contentType: "text/plain", status: 415, field: nil,
              reasonContains: "text/plain"),
        .init(name: "form encoded", body: "a=b", contentType: "application/x-www-form-urlencoded", status: 415,
              field: nil, reasonContains: "application/json"),
    ]

    @Test("bad input is refused with a JSON error naming the field, and nothing is ingested", arguments: cases)
    func refuses(_ rejection: RejectionCase) async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            let response = try await client.postWebhook(rejection.body, contentType: rejection.contentType)
            #expect(Int(response.status.code) == rejection.status)
            let body = try response.jsonObject()
            #expect(body["status"] as? String == "error")
            #expect(body["field"] as? String == rejection.field)
            let reason = try #require(body["error"] as? String)
            #expect(reason.contains(rejection.reasonContains), "reason was: \(reason)")
        }
        #expect(harness.ingestor.calls.isEmpty)
        let warnings = harness.logs.lines.filter { $0.contains(#""level":"warning""#) }
        #expect(warnings.count == 1)
    }

    @Test("a body over the limit is refused with 413 and not ingested")
    func refusesOversizeBody() async throws {
        var harness = ReceiverHarness()
        harness.configuration.maxBodyBytes = 512
        let padding = String(repeating: "x", count: 600)
        try await harness.run { client in
            let big = try await client.postWebhook(
                #"{"alerts":[{"status":"firing","labels":{"pad":"\#(padding)"}}]}"#
            )
            #expect(big.status == .contentTooLarge)
            #expect(try big.jsonObject()["error"] as? String == "the body is larger than the limit of 512 bytes")
            let small = try await client.postWebhook(#"{"alerts":[{"status":"firing","labels":{"a":"b"}}]}"#)
            #expect(small.status == .accepted)
        }
        #expect(harness.ingestor.calls.count == 1)
    }

    @Test("the default limit takes a 1,000-alert webhook")
    func defaultLimitTakesThousandAlerts() async throws {
        let alert = #"{"status":"firing","labels":{"alertname":"HighLatency","service":"checkout","instance":"10.0.0.1:8080","severity":"warning"},"annotations":{"summary":"p99 latency above 2s for 10 minutes","runbook_url":"https://runbooks.example/high-latency"},"startsAt":"2026-01-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph?g0.expr=histogram_quantile","fingerprint":"0123456789abcdef"}"#
        let body = #"{"version":"4","alerts":["# + Array(repeating: alert, count: 1000).joined(separator: ",") + "]}"
        let harness = ReceiverHarness(
            ingestor: RecordingIngestor(outcome: .success(IngestResult(alerts: 1000, queued: 1000, unchanged: 0)))
        )
        try await harness.run { client in
            let response = try await client.postWebhook(body)
            #expect(response.status == .accepted)
        }
        #expect(harness.ingestor.calls.first?.message.alerts.count == 1000)
    }

    @Test("a fingerprint of exactly 255 characters is accepted")
    func acceptsLongestFingerprint() async throws {
        let fingerprint = String(repeating: "é", count: 255)
        let harness = ReceiverHarness()
        try await harness.run { client in
            let response = try await client.postWebhook(
                #"{"alerts":[{"status":"firing","labels":{"a":"b"},"fingerprint":"\#(fingerprint)"}]}"#)
            #expect(response.status == .accepted)
        }
        #expect(harness.ingestor.calls.first?.message.alerts.first?.fingerprint == fingerprint)
    }

    @Test("more alerts than --max-alerts-per-webhook is a 400 naming alerts and the limit; the limit itself passes")
    func refusesTooManyAlerts() async throws {
        var harness = ReceiverHarness()
        harness.configuration.maxAlertsPerWebhook = 3
        @Sendable func webhook(alerts: Int) -> String {
            let alert = #"{"status":"firing","labels":{"a":"b"}}"#
            return #"{"alerts":["# + Array(repeating: alert, count: alerts).joined(separator: ",") + "]}"
        }
        try await harness.run { client in
            let over = try await client.postWebhook(webhook(alerts: 4))
            #expect(over.status == .badRequest)
            let body = try over.jsonObject()
            #expect(body["field"] as? String == "alerts")
            #expect(body["error"] as? String == "more than 3 alerts; at most 3 are accepted in one webhook")
            let atLimit = try await client.postWebhook(webhook(alerts: 3))
            #expect(atLimit.status == .accepted)
        }
        #expect(harness.ingestor.calls.map(\.message.alerts.count) == [3])
    }

    @Test("the default alert cap takes 10,000 alerts and refuses 10,001")
    func defaultAlertCap() throws {
        let alert = Array(#"{"status":"firing","labels":{"a":"b"}}"#.utf8)
        func body(_ count: Int) -> [UInt8] {
            var bytes = Array(#"{"alerts":["#.utf8)
            for index in 0..<count {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes += alert
            }
            return bytes + Array("]}".utf8)
        }
        #expect(ReceiverConfiguration.defaultMaxAlertsPerWebhook == 10_000)
        #expect(try RequestDecoding.webhookMessage(from: body(10_000)).alerts.count == 10_000)
        #expect(throws: RequestDecodingError(reason: "more than 10000 alerts; at most 10000 are accepted in one webhook", field: "alerts")) {
            try RequestDecoding.webhookMessage(from: body(10_001))
        }
    }

    @Test("an unknown route is 404 naming it")
    func unknownRoute() async throws {
        let harness = ReceiverHarness(ingestor: RecordingIngestor(outcome: .failure(.unknownRoute("nope"))))
        try await harness.run { client in
            let response = try await client.postWebhook(realisticWebhook, uri: "/v1/alertmanager/nope")
            #expect(response.status == .notFound)
            #expect(try response.jsonObject()["error"] as? String == #"unknown route "nope""#)
        }
        #expect(harness.ingestor.calls.map(\.route) == ["nope"])
    }

    @Test("the ingestor's invalid alert is a 400 with its field")
    func invalidAlertFromIngestor() async throws {
        let harness = ReceiverHarness(
            ingestor: RecordingIngestor(outcome: .failure(.invalidAlert(field: "alerts[1].labels", reason: "no routing key matches")))
        )
        try await harness.run { client in
            let response = try await client.postWebhook(realisticWebhook)
            #expect(response.status == .badRequest)
            let body = try response.jsonObject()
            #expect(body["field"] as? String == "alerts[1].labels")
            #expect(body["error"] as? String == "no routing key matches")
        }
    }

    @Test("storage failure is 503 with a JSON body and an error log line")
    func storageUnavailable() async throws {
        let harness = ReceiverHarness(
            ingestor: RecordingIngestor(outcome: .failure(.storageUnavailable(reason: "database is locked")))
        )
        try await harness.run { client in
            let response = try await client.postWebhook(realisticWebhook)
            #expect(response.status == .serviceUnavailable)
            let body = try response.jsonObject()
            #expect(body["status"] as? String == "error")
            #expect((body["error"] as? String)?.contains("database is locked") == true)
        }
        #expect(harness.logs.lines.contains { $0.contains(#""level":"error""#) && $0.contains("database is locked") })
    }

    @Test("unknown paths are 404 and wrong methods 405 with Allow")
    func unknownPathsAndMethods() async throws {
        let harness = ReceiverHarness()
        try await harness.run { client in
            let unknown = try await client.execute(uri: "/v2/alerts", method: .post)
            #expect(unknown.status == .notFound)
            let get = try await client.execute(uri: "/v1/alertmanager", method: .get)
            #expect(get.status == .methodNotAllowed)
            #expect(get.headers[.allow] == "POST")
            let post = try await client.execute(uri: "/healthz", method: .post)
            #expect(post.status == .methodNotAllowed)
            #expect(post.headers[.allow] == "GET")
        }
        #expect(harness.ingestor.calls.isEmpty)
    }
}
