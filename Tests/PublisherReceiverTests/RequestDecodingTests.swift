import PublisherReceiver
import PublisherTestSupport
import Testing

/// ``RequestDecoding``, the receiver's decoders outside the HTTP server (used by the fuzz targets), must accept
/// and refuse exactly what the endpoints do, with the same field paths.
@Suite("Decoding request bodies without the server", .timeLimit(.minutes(2)))
struct RequestDecodingTests {
    @Test("a recorded webhook decodes with all its alerts")
    func decodesRecordedWebhook() throws {
        let body = try [UInt8](Fixtures.data("webhook-mixed.json"))
        let message = try RequestDecoding.webhookMessage(from: body)
        #expect(message.alerts.map(\.fingerprint) == ["08a60fe3af9b2c97", "55b97254facb078e"])
    }

    @Test("a webhook with a wrongly typed label is refused naming the label")
    func refusesWrongLabelType() {
        let body = Array(#"{"alerts":[{"status":"firing","labels":{"severity":3}}]}"#.utf8)
        do {
            _ = try RequestDecoding.webhookMessage(from: body)
            Issue.record("a numeric label value was accepted")
        } catch {
            #expect(error.field == "alerts[0].labels.severity")
            #expect(error.reason.contains("expected a string"))
        }
    }

    @Test("an unsupported webhook version is refused")
    func refusesUnsupportedVersion() {
        let body = Array(#"{"version":"3","alerts":[]}"#.utf8)
        do {
            _ = try RequestDecoding.webhookMessage(from: body)
            Issue.record("version 3 was accepted")
        } catch {
            #expect(error.field == "version")
        }
    }

    @Test("an empty body is refused as a whole")
    func refusesEmptyBody() {
        do {
            _ = try RequestDecoding.changeEventRequest(from: [])
            Issue.record("an empty change event body was accepted")
        } catch {
            #expect(error.field == "$")
            #expect(error.description.hasPrefix("$: "))
        }
    }

    @Test("a change event request decodes and keeps its fields")
    func decodesChangeEvent() throws {
        let body = Array(#"{"summary":"Deployed v2","source":"ci","links":[{"href":"https://ci.example/1"}]}"#.utf8)
        let request = try RequestDecoding.changeEventRequest(from: body)
        #expect(request.summary == "Deployed v2")
        #expect(request.source == "ci")
        #expect(request.links?.map(\.href) == ["https://ci.example/1"])
    }

    @Test("a change event with a blank summary is refused naming the summary")
    func refusesBlankSummary() {
        do {
            _ = try RequestDecoding.changeEventRequest(from: Array(#"{"summary":"   "}"#.utf8))
            Issue.record("a blank summary was accepted")
        } catch {
            #expect(error.field == "summary")
        }
    }
}
