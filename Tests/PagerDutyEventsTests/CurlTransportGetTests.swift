import CurlHTTP
import Foundation
import PagerDutyEvents
import PublisherTestSupport
import Testing

/// CurlHTTPTransport.get and .delete against a fake Alertmanager API on 127.0.0.1.
@Suite("libcurl transport: GET and DELETE", .timeLimit(.minutes(5)))
struct CurlTransportGetTests {
    private func makeTransport(totalTimeout: Duration = .seconds(10)) -> CurlHTTPTransport {
        CurlHTTPTransport(configuration: CurlTransportConfiguration(
            userAgent: CurlTransportConfiguration.userAgent(version: "0.0.0-test"),
            connectTimeout: .seconds(5), totalTimeout: totalTimeout, maxConcurrentRequests: 1
        ))
    }

    @Test func aGetSendsNoBodyAndReturnsTheAnswer() async throws {
        let fake = try await FakeAlertmanagerAPI.start()
        defer { Task { await fake.stop() } }
        let answer = Array(#"[{"fingerprint":"abc"}]"#.utf8)
        fake.answer(.init(status: 200, body: answer))
        let response = try await makeTransport().get(
            url: fake.baseURL + "/prefix/api/v2/alerts?active=true&silenced=true",
            headers: [("Accept", "application/json"), ("Authorization", "Bearer test-token")]
        )
        #expect(response.status == 200)
        #expect(response.body == answer)
        #expect(response.headers["content-type"] == "application/json")

        let received = try #require(fake.requests.first)
        #expect(fake.requests.count == 1)
        #expect(received.method == "GET")
        #expect(received.path == "/prefix/api/v2/alerts")
        #expect(received.query == "active=true&silenced=true")
        #expect(received.headers["accept"] == "application/json")
        #expect(received.headers["authorization"] == "Bearer test-token")
        #expect(received.headers["user-agent"]?.hasPrefix("pagerduty-publisher/") == true)
        #expect(received.body.isEmpty)
        #expect(received.headers["content-length"] == nil)
    }

    @Test func aPostAfterAGetOnTheSameWorkerIsStillAPost() async throws {
        let fake = try await FakeAlertmanagerAPI.start()
        defer { Task { await fake.stop() } }
        let transport = makeTransport()  // one worker: both requests reuse its handle
        _ = try await transport.get(url: fake.baseURL + "/a", headers: [])
        _ = try await transport.post(url: fake.baseURL + "/b", headers: [], body: Array("{}".utf8))
        _ = try await transport.get(url: fake.baseURL + "/c", headers: [])
        #expect(fake.requests.map(\.method) == ["GET", "POST", "GET"])
        #expect(fake.requests.map(\.body) == [[], Array("{}".utf8), []])
    }

    @Test func aDeleteSendsNoBodyAndReturnsTheAnswer() async throws {
        let fake = try await FakeAlertmanagerAPI.start()
        defer { Task { await fake.stop() } }
        fake.answer(.init(status: 200, body: []))
        let response = try await makeTransport().delete(
            url: fake.baseURL + "/prefix/api/v2/silence/4f1b2c3d-5e6f",
            headers: [("Accept", "application/json"), ("Authorization", "Bearer test-token")]
        )
        #expect(response.status == 200)
        #expect(response.body.isEmpty)

        let received = try #require(fake.requests.first)
        #expect(fake.requests.count == 1)
        #expect(received.method == "DELETE")
        #expect(received.path == "/prefix/api/v2/silence/4f1b2c3d-5e6f")
        #expect(received.headers["accept"] == "application/json")
        #expect(received.headers["authorization"] == "Bearer test-token")
        #expect(received.headers["user-agent"]?.hasPrefix("pagerduty-publisher/") == true)
        #expect(received.body.isEmpty)
        #expect(received.headers["content-length"] == nil)
    }

    @Test func aDeleteErrorAnswerIsReturnedWithItsBody() async throws {
        let fake = try await FakeAlertmanagerAPI.start()
        defer { Task { await fake.stop() } }
        fake.answer(.init(status: 404, body: Array(#""silence not found""#.utf8)))
        let response = try await makeTransport().delete(url: fake.baseURL + "/api/v2/silence/x", headers: [])
        #expect(response.status == 404)
        #expect(String(decoding: response.body, as: UTF8.self) == #""silence not found""#)
    }

    @Test func requestsAfterADeleteOnTheSameWorkerKeepTheirOwnMethod() async throws {
        let fake = try await FakeAlertmanagerAPI.start()
        defer { Task { await fake.stop() } }
        let transport = makeTransport()  // one worker: every request reuses its handle and connection
        _ = try await transport.delete(url: fake.baseURL + "/a", headers: [])
        _ = try await transport.get(url: fake.baseURL + "/b", headers: [])
        _ = try await transport.delete(url: fake.baseURL + "/c", headers: [])
        _ = try await transport.post(url: fake.baseURL + "/d", headers: [], body: Array("{}".utf8))
        _ = try await transport.delete(url: fake.baseURL + "/e", headers: [])
        _ = try await transport.delete(url: fake.baseURL + "/f", headers: [])
        _ = try await transport.get(url: fake.baseURL + "/g", headers: [])
        #expect(fake.requests.map(\.method) == ["DELETE", "GET", "DELETE", "POST", "DELETE", "DELETE", "GET"])
        #expect(fake.requests.map(\.path) == ["/a", "/b", "/c", "/d", "/e", "/f", "/g"])
        #expect(fake.requests.map(\.body) == [[], [], [], Array("{}".utf8), [], [], []])
    }

    @Test func aRefusedDeleteIsANetworkError() async throws {
        let fake = try await FakeAlertmanagerAPI.start()
        let closedURL = fake.baseURL + "/api/v2/silence/x"
        await fake.stop()
        let error = await #expect(throws: TransportError.self) {
            _ = try await makeTransport().delete(url: closedURL, headers: [("Authorization", "Bearer test-token")])
        }
        #expect(error?.kind == .network)
        #expect(error?.reason.contains("test-token") == false)
    }

    @Test func errorAnswersAreReturnedNotThrown() async throws {
        let fake = try await FakeAlertmanagerAPI.start()
        defer { Task { await fake.stop() } }
        fake.answer(.init(status: 503, body: Array("unavailable".utf8)))
        let response = try await makeTransport().get(url: fake.baseURL + "/api/v2/alerts", headers: [])
        #expect(response.status == 503)
        #expect(String(decoding: response.body, as: UTF8.self) == "unavailable")
    }

    @Test func aRefusedConnectionIsANetworkError() async throws {
        let fake = try await FakeAlertmanagerAPI.start()
        let closedURL = fake.baseURL + "/api/v2/alerts"
        await fake.stop()
        let error = await #expect(throws: TransportError.self) {
            _ = try await makeTransport().get(url: closedURL, headers: [("Authorization", "Bearer test-token")])
        }
        #expect(error?.kind == .network)
        #expect(error?.reason.contains("test-token") == false)
    }
}
