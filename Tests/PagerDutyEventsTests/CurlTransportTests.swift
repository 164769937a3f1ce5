import CurlHTTP
import Foundation
import PagerDutyEvents
import PublisherTestSupport
import Synchronization
import Testing

/// CurlHTTPTransport against the in-process fake PagerDuty on 127.0.0.1.
@Suite("libcurl transport", .timeLimit(.minutes(5)))
struct CurlTransportTests {
    private static let userAgent = CurlTransportConfiguration.userAgent(version: "0.0.0-test")

    private func makeTransport(
        totalTimeout: Duration = .seconds(10),
        workers: Int = 4,
        configure: (inout CurlTransportConfiguration) -> Void = { _ in }
    ) -> CurlHTTPTransport {
        var configuration = CurlTransportConfiguration(
            userAgent: Self.userAgent, connectTimeout: .seconds(5), totalTimeout: totalTimeout, maxConcurrentRequests: workers
        )
        configure(&configuration)
        return CurlHTTPTransport(configuration: configuration)
    }

    private func validBody(dedupKey: String = "curl-test") throws -> [UInt8] {
        try EventEncoding.encode(sampleTrigger(dedupKey: dedupKey))
    }

    private let jsonHeaders = [("Content-Type", "application/json")]

    @Test func acceptedAnswerIsReturnedWithHeadersAndBody() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        let transport = makeTransport()
        let response = try await transport.post(url: fake.baseURL + "/v2/enqueue", headers: jsonHeaders, body: validBody(dedupKey: "k-1"))
        #expect(response.status == 202)
        #expect(response.headers["content-type"] == "application/json")
        let answer = try decodeJSON(response.body)
        #expect(answer["status"] == "success")
        #expect(answer["dedup_key"] == "k-1")

        let received = try #require(fake.requests.first)
        #expect(received.headers["user-agent"] == Self.userAgent)
        #expect(received.headers["content-type"] == "application/json")
        #expect(received.headers["expect"] == nil)
        #expect(received.body == (try validBody(dedupKey: "k-1")))
    }

    @Test func serverErrorsAreAnswersNotFailures() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        fake.enqueue([.status(503, body: #"{"status":"unavailable"}"#)])
        let response = try await makeTransport().post(url: fake.baseURL + "/v2/enqueue", headers: jsonHeaders, body: validBody())
        #expect(response.status == 503)
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"status":"unavailable"}"#)
    }

    @Test func rateLimitedAnswerCarriesRetryAfter() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        fake.enqueue([.rateLimited(retryAfterSeconds: 12)])
        let response = try await makeTransport().post(url: fake.baseURL + "/v2/enqueue", headers: jsonHeaders, body: validBody())
        #expect(response.status == 429)
        #expect(response.headers["retry-after"] == "12")
    }

    @Test func aSlowAnswerBeyondTheTotalTimeoutIsATimeout() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        fake.enqueue([.delayed(.seconds(4), then: .accept)])
        let transport = makeTransport(totalTimeout: .seconds(1))
        let error = await #expect(throws: TransportError.self) {
            _ = try await transport.post(url: fake.baseURL + "/v2/enqueue", headers: jsonHeaders, body: validBody())
        }
        #expect(error?.kind == .timeout)
    }

    @Test func aRefusedConnectionIsANetworkErrorWithoutTheBody() async throws {
        let fake = try await FakePagerDuty.start()
        let closedURL = fake.baseURL + "/v2/enqueue"
        await fake.stop()  // nothing listens on that port any more
        let error = await #expect(throws: TransportError.self) {
            _ = try await makeTransport().post(url: closedURL, headers: jsonHeaders, body: validBody())
        }
        #expect(error?.kind == .network)
        #expect(error?.reason.isEmpty == false)
        #expect(error?.reason.contains(testRoutingKey) == false)
        #expect(error?.description.contains(testRoutingKey) == false)
    }

    @Test func onlyHTTPAndHTTPSAreAllowed() async throws {
        let error = await #expect(throws: TransportError.self) {
            _ = try await makeTransport().post(url: "ftp://127.0.0.1:1/v2/enqueue", headers: jsonHeaders, body: validBody())
        }
        #expect(error?.kind == .network)
        #expect(error?.reason.contains("curl error 1 ") == true, "\(String(describing: error))")  // CURLE_UNSUPPORTED_PROTOCOL
    }

    @Test func tlsToAPlainHTTPServerFails() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        let httpsURL = fake.baseURL.replacingOccurrences(of: "http://", with: "https://") + "/v2/enqueue"
        let error = await #expect(throws: TransportError.self) {
            _ = try await makeTransport().post(url: httpsURL, headers: jsonHeaders, body: validBody())
        }
        #expect(error?.kind == .network)
        #expect(fake.requests.isEmpty)
    }

    @Test func manyConcurrentRequestsAllComplete() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        let transport = makeTransport(workers: 4)
        let count = 40
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<count {
                let body = try validBody(dedupKey: "concurrent-\(index)")
                group.addTask {
                    try await transport.post(url: fake.baseURL + "/v2/enqueue", headers: jsonHeaders, body: body).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 202, count: count))
        #expect(Set(fake.accepted.compactMap(\.dedupKey)).count == count)
    }

    @Test func transfersRunOnDedicatedWorkerThreadsOutsideAnySwiftTask() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        let observations = Mutex<[(reportedName: String, threadName: String?, inSwiftTask: Bool)]>([])
        let transport = makeTransport(workers: 2) { configuration in
            configuration.onWorkerPerform = { name in
                // A cooperative-pool thread only ever runs code on behalf of a task; a worker thread has none.
                let inSwiftTask = withUnsafeCurrentTask { $0 != nil }
                observations.withLock { $0.append((name, Thread.current.name, inSwiftTask)) }
            }
        }
        for index in 0..<4 {
            _ = try await transport.post(url: fake.baseURL + "/v2/enqueue", headers: jsonHeaders, body: validBody(dedupKey: "w-\(index)"))
        }
        let seen = observations.withLock { $0 }
        #expect(seen.count == 4)
        for observation in seen {
            #expect(observation.reportedName.hasPrefix(CurlHTTPTransport.workerThreadNamePrefix))
            #expect(!observation.inSwiftTask)
        }
        #expect(withUnsafeCurrentTask { $0 != nil })  // the contrast: this test body does run in a task
    }

    @Test func oneWorkerReusesItsConnection() async throws {
        try await FakePagerDuty.withRunning { fake in
            let transport = makeTransport(workers: 1)
            for index in 0..<5 {
                let response = try await transport.post(
                    url: fake.baseURL + "/v2/enqueue", headers: jsonHeaders, body: validBody(dedupKey: "reuse-\(index)")
                )
                #expect(response.status == 202)
            }
            let ports = fake.requests.map(\.clientPort)
            #expect(ports.count == 5)
            #expect(ports.first! != nil)
            #expect(Set(ports).count == 1, "requests came over several connections: \(ports)")
        }
    }

    @Test func aCancelledRequestIsAbandoned() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        fake.enqueue([.delayed(.seconds(20), then: .accept)])
        let transport = makeTransport(totalTimeout: .seconds(30))
        let body = try validBody()
        let request = Task {
            try await transport.post(url: fake.baseURL + "/v2/enqueue", headers: jsonHeaders, body: body)
        }
        request.cancel()
        let outcome = await request.result
        guard case .failure(let error as TransportError) = outcome else {
            Issue.record("expected a transport error, got \(outcome)")
            return
        }
        #expect(error.kind == .network)
        #expect(error.reason.contains("cancelled"))
    }

    @Test func aShutDownTransportFailsNewRequests() async throws {
        let transport = makeTransport()
        transport.shutdown()
        let error = await #expect(throws: TransportError.self) {
            _ = try await transport.post(url: "http://127.0.0.1:1/v2/enqueue", headers: jsonHeaders, body: validBody())
        }
        #expect(error?.reason.contains("shut down") == true)
    }
}

@Suite("End to end: client, libcurl, fake PagerDuty", .timeLimit(.minutes(5)))
struct EndToEndTests {
    private func makeClient(_ fake: FakePagerDuty) throws -> EventsAPIClient {
        let transport = CurlHTTPTransport(configuration: CurlTransportConfiguration(
            userAgent: CurlTransportConfiguration.userAgent(version: "0.0.0-test"), totalTimeout: .seconds(10)
        ))
        return try EventsAPIClient(baseURL: fake.baseURL, transport: transport)
    }

    @Test func aTriggerIsAcceptedAndTheFakeSawASchemaValidBody() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        let client = try makeClient(fake)
        let report = await client.send(sampleTrigger(dedupKey: "e2e-1"))
        #expect(report.outcome == .accepted(dedupKey: "e2e-1"))
        #expect(report.httpStatus == 202)
        #expect(report.duration > .zero)

        let received = try await fake.waitForAccepted(count: 1, timeout: .seconds(10))
        #expect(received.count == 1)
        #expect(received[0].path == "/v2/enqueue")
        #expect(received[0].schemaViolations == [])
        #expect(received[0].routingKey == testRoutingKey)
        #expect(received[0].eventAction == "trigger")
    }

    @Test func aChangeEventGoesToTheChangeEndpoint() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        let report = try await makeClient(fake).send(sampleChange())
        guard case .accepted = report.outcome else {
            Issue.record("expected accepted, got \(report.outcome)")
            return
        }
        let received = try await fake.waitForRequests(count: 1, timeout: .seconds(10))
        #expect(received[0].path == "/v2/change/enqueue")
        #expect(received[0].schemaViolations == [])
    }

    @Test func aRejectionNeverEchoesTheRoutingKey() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        fake.enqueue([.status(400, body: #"{"status":"invalid event","message":"Invalid routing key \#(testRoutingKey)","errors":["bad"]}"#)])
        let report = try await makeClient(fake).send(sampleTrigger())
        #expect(report.outcome == .rejected(reason: "HTTP 400: Invalid routing key [REDACTED]: bad"))
        #expect(report.statusLabel == "400")
    }

    @Test func theFakeRejectsSchemaViolationsAndEnforcesItsRateLimit() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        fake.enforceRateLimit(perMinute: 2)
        let client = try makeClient(fake)
        let outcomes = await [
            client.send(sampleTrigger(dedupKey: "r-1")).outcome,
            client.send(sampleTrigger(dedupKey: "r-2")).outcome,
            client.send(sampleTrigger(dedupKey: "r-3")).outcome,
        ]
        #expect(outcomes == [.accepted(dedupKey: "r-1"), .accepted(dedupKey: "r-2"), .rateLimited(retryAfter: nil)])

        let transport = CurlHTTPTransport(configuration: .init(userAgent: "test"))
        let invalid = try EventEncoding.encode(["routing_key": "x", "event_action": "explode"] as JSONValue)
        let response = try await transport.post(url: fake.baseURL + "/v2/enqueue", headers: [], body: invalid)
        #expect(response.status == 400)
        #expect(String(decoding: response.body, as: UTF8.self).contains("event_action"))
    }

    @Test func theFakeValidatesAgainstTheProjectSchemaWithOrWithoutTheOfficialFile() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        let transport = CurlHTTPTransport(configuration: .init(userAgent: "test"))
        // Limits the official file does not state: a 33-character routing key, a trigger without payload.
        let invalid = try EventEncoding.encode(["routing_key": .string(testRoutingKey + "0"), "event_action": "trigger"] as JSONValue)
        let response = try await transport.post(url: fake.baseURL + "/v2/enqueue", headers: [], body: invalid)
        #expect(response.status == 400)
        let received = try #require(fake.requests.first)
        #expect(received.schemaViolations.prefix(2) == [
            "$.routing_key: 33 characters, more than the 32 allowed", #"$: required property "payload" is missing"#,
        ])
        #expect(String(decoding: response.body, as: UTF8.self).contains("$.routing_key: 33 characters"))
    }

    @Test func aWaitThatCannotBeSatisfiedFailsClearly() async throws {
        let fake = try await FakePagerDuty.start()
        defer { Task { await fake.stop() } }
        let error = await #expect(throws: FakePagerDuty.WaitTimedOut.self) {
            _ = try await fake.waitForAccepted(count: 1, timeout: .milliseconds(100))
        }
        #expect(error?.description.contains("1 accepted requests") == true)
    }
}
