import CurlHTTP
import PagerDutyEvents
import Testing

@Suite("EventsAPIClient base URL validation", .timeLimit(.minutes(2)))
struct EventsURLValidationTests {
    private func makeClient(_ url: String) throws(EventsURLError) -> EventsAPIClient {
        try EventsAPIClient(baseURL: url, transport: ScriptedTransport(status: 202))
    }

    @Test(arguments: [
        ("https://events.pagerduty.com", "https://events.pagerduty.com/v2/enqueue"),
        ("https://events.eu.pagerduty.com/", "https://events.eu.pagerduty.com/v2/enqueue"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v2/enqueue"),
        ("http://127.45.6.7:9/", "http://127.45.6.7:9/v2/enqueue"),
        ("http://localhost:9000/", "http://localhost:9000/v2/enqueue"),
        ("http://[::1]:8080", "http://[::1]:8080/v2/enqueue"),
        ("https://proxy.internal/pagerduty/", "https://proxy.internal/pagerduty/v2/enqueue"),
    ])
    func acceptedBaseURLs(base: String, enqueueURL: String) throws {
        let client = try makeClient(base)
        #expect(client.baseURL.url(for: .enqueue) == enqueueURL)
    }

    @Test func theRequestGoesToBasePlusEndpointPath() async throws {
        let transport = ScriptedTransport(status: 202)
        let client = try EventsAPIClient(baseURL: "https://events.pagerduty.com/", transport: transport)
        _ = await client.send(sampleTrigger())
        _ = await client.send(sampleChange())
        #expect(transport.calls.map(\.url) == [
            "https://events.pagerduty.com/v2/enqueue", "https://events.pagerduty.com/v2/change/enqueue",
        ])
        #expect(transport.calls.first?.headers["Content-Type"] == "application/json")
    }

    @Test(arguments: [
        ("http://events.pagerduty.com", "loopback"),
        ("http://128.0.0.1:8080", "loopback"),
        ("http://localhost.evil.example", "loopback"),
        ("http://[::2]:8080", "loopback"),
        ("ftp://events.pagerduty.com", "scheme"),
        ("events.pagerduty.com", "absolute"),
        ("not a url", "absolute"),
        ("", "empty"),
        ("https://", "host"),
        ("https://events.pagerduty.com:99999", "host"),
        ("https://events.pagerduty.com/?token=1", "query"),
    ])
    func refusedBaseURLs(base: String, problem: String) {
        let error = #expect(throws: EventsURLError.self) { _ = try makeClient(base) }
        #expect(error?.reason.contains(problem) == true, "\(String(describing: error))")
    }

    @Test func credentialsInTheURLAreRefusedWithoutBeingEchoed() {
        let error = #expect(throws: EventsURLError.self) { _ = try makeClient("https://user:hunter2@events.pagerduty.com") }
        #expect(error?.reason.contains("credentials") == true)
        #expect(error?.reason.contains("hunter2") == false)
    }
}

@Suite("Classification of Events API answers", .timeLimit(.minutes(2)))
struct ClassificationTests {
    private func report(status: Int, body: String = "", headers: [String: String] = [:]) async throws -> DeliveryReport {
        let transport = ScriptedTransport(status: status, body: body, headers: headers)
        return try await EventsAPIClient(baseURL: "https://events.pagerduty.com", transport: transport).send(sampleTrigger())
    }

    private func report(failure: TransportError) async throws -> DeliveryReport {
        let transport = ScriptedTransport(.failure(failure))
        return try await EventsAPIClient(baseURL: "https://events.pagerduty.com", transport: transport).send(sampleTrigger())
    }

    @Test func accepted202CarriesTheDedupKey() async throws {
        let result = try await report(status: 202, body: #"{"status":"success","message":"Event processed","dedup_key":"abc"}"#)
        #expect(result.outcome == .accepted(dedupKey: "abc"))
        #expect(result.httpStatus == 202)
        #expect(result.statusLabel == "202")
        #expect(result.wasSent)
        #expect(result.outcome.errorType == nil)
        #expect(!result.outcome.isRetryable)
        #expect(result.endpoint == .enqueue)
        #expect(try await report(status: 202, body: "not json").outcome == .accepted(dedupKey: nil))
    }

    @Test func badRequestIsRejectedWithPagerDutysMessageAndErrors() async throws {
        let body = #"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.severity' is invalid"]}"#
        let result = try await report(status: 400, body: body)
        guard case .rejected(let reason) = result.outcome else {
            Issue.record("expected rejected, got \(result.outcome)")
            return
        }
        #expect(reason.contains("Event object is invalid"))
        #expect(reason.contains("'payload.severity' is invalid"))
        #expect(result.outcome.errorType == "client_error")
        #expect(!result.outcome.isRetryable)
        #expect(result.statusLabel == "400")
    }

    @Test(arguments: [413, 422])
    func tooLargeAndUnprocessableAreRejected(status: Int) async throws {
        let result = try await report(status: status, body: "<html>\n  Request   Entity Too Large\n</html>")
        #expect(result.outcome == .rejected(reason: "HTTP \(status): <html> Request Entity Too Large </html>"))
    }

    @Test func rateLimitedHonoursRetryAfterSeconds() async throws {
        let withHeader = try await report(status: 429, headers: ["retry-after": "7"])
        #expect(withHeader.outcome == .rateLimited(retryAfter: .seconds(7)))
        #expect(withHeader.outcome.errorType == "rate_limited")
        #expect(withHeader.outcome.isRetryable)
        #expect(try await report(status: 429).outcome == .rateLimited(retryAfter: nil))
        #expect(try await report(status: 429, headers: ["retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"]).outcome
            == .rateLimited(retryAfter: nil))
    }

    @Test(arguments: [500, 503])
    func serverErrorsAreRetryable(status: Int) async throws {
        let result = try await report(status: status, body: #"{"status":"error","message":"try later"}"#)
        #expect(result.outcome == .serverError(status: status, reason: "HTTP \(status): try later"))
        #expect(result.outcome.errorType == "server_error")
        #expect(result.outcome.isRetryable)
        #expect(result.statusLabel == String(status))
    }

    @Test func otherStatusesAreUnexpectedAndRetryable() async throws {
        let result = try await report(status: 302, headers: ["location": "https://elsewhere.example.com"])
        #expect(result.outcome == .unexpectedStatus(status: 302, reason: "HTTP 302 with an empty body"))
        #expect(result.outcome.errorType == "unexpected_status")
        #expect(result.outcome.isRetryable)
    }

    @Test func transportFailuresKeepTheirKind() async throws {
        let timedOut = try await report(failure: TransportError(kind: .timeout, reason: "Operation timed out"))
        #expect(timedOut.outcome == .timeout(reason: "Operation timed out"))
        #expect(timedOut.httpStatus == nil)
        #expect(timedOut.statusLabel == "timeout")
        #expect(timedOut.outcome.errorType == "timeout")
        #expect(timedOut.outcome.isRetryable)

        let refused = try await report(failure: TransportError(kind: .network, reason: "Connection refused"))
        #expect(refused.outcome == .network(reason: "Connection refused"))
        #expect(refused.statusLabel == "network")
        #expect(refused.outcome.errorType == "network")
        #expect(refused.outcome.isRetryable)
    }

    @Test func theRoutingKeyNeverAppearsInAReason() async throws {
        let echoing = #"{"status":"invalid event","message":"Invalid routing key \#(testRoutingKey)","errors":["routing_key \#(testRoutingKey) unknown"]}"#
        for status in [400, 404, 500] {
            let result = try await report(status: status, body: echoing)
            let text = "\(result.outcome)"
            #expect(!text.contains(testRoutingKey))
            #expect(text.contains("[REDACTED]"))
        }
        let failure = try await report(failure: TransportError(kind: .network, reason: "proxy said \(testRoutingKey)"))
        #expect(failure.outcome == .network(reason: "proxy said [REDACTED]"))
    }

    @Test func anEventThatCannotBeEncodedIsRejectedWithoutACall() async throws {
        let transport = ScriptedTransport(status: 202)
        let client = try EventsAPIClient(baseURL: "https://events.pagerduty.com", transport: transport)
        let result = await client.send(sampleTrigger(customDetails: ["ratio": .number(.nan)]))
        guard case .rejected(let reason) = result.outcome else {
            Issue.record("expected rejected, got \(result.outcome)")
            return
        }
        #expect(reason.contains("cannot be encoded"))
        #expect(transport.calls.isEmpty)
    }

    @Test func longResponseTextIsTrimmed() async throws {
        let result = try await report(status: 500, body: String(repeating: "e", count: 10_000))
        guard case .serverError(_, let reason) = result.outcome else {
            Issue.record("expected serverError, got \(result.outcome)")
            return
        }
        #expect(reason.unicodeScalars.count <= 600)
    }
}

@Suite("Dry-run transport", .timeLimit(.minutes(2)))
struct DryRunTransportTests {
    @Test func itObservesTheRequestAndAnswersAcceptedWithTheDedupKey() async throws {
        let seen = ObservedRequests()
        let client = try EventsAPIClient(baseURL: "https://events.pagerduty.com", transport: DryRunTransport { url, body in
            seen.append(url, body)
        })
        let result = await client.send(sampleTrigger(dedupKey: "fp-42"))
        #expect(result.outcome == .accepted(dedupKey: "fp-42"))
        #expect(result.httpStatus == 202)
        #expect(!result.wasSent, "nothing left the process")
        #expect(result.statusLabel == "dry_run", "no metric may claim that PagerDuty answered 202")
        let observed = try #require(seen.all.first)
        #expect(observed.url == "https://events.pagerduty.com/v2/enqueue")
        #expect(try decodeJSON(observed.body)["dedup_key"] == "fp-42")

        let change = await client.send(sampleChange())
        guard case .accepted(let generated?) = change.outcome else {
            Issue.record("expected a generated dedup key, got \(change.outcome)")
            return
        }
        #expect(generated.count == 32)
        #expect(await client.send(sampleChange()).outcome == change.outcome)  // deterministic
    }
}

import Synchronization

final class ObservedRequests: Sendable {
    private let requests = Mutex<[(url: String, body: [UInt8])]>([])
    func append(_ url: String, _ body: [UInt8]) { requests.withLock { $0.append((url, body)) } }
    var all: [(url: String, body: [UInt8])] { requests.withLock { $0 } }
}
