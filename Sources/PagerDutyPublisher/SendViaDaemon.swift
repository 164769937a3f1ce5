import CurlHTTP
import AlertmanagerModels
import ArgumentParser
import Foundation
import PagerDutyEvents

/// Hands one event to a running daemon, which stores it durably and delivers it: a trigger or resolve as an
/// Alertmanager webhook with one alert whose fingerprint is the dedup key, a change event to
/// `/v1/change-events`.
struct SendViaDaemon {
    var baseURL: String
    var route: String?
    var token: String?

    func send(_ event: AlertEvent) async throws {
        guard event.eventAction != .acknowledge else {
            throw ValidationError("acknowledge cannot go through the daemon; send it directly (without --via).")
        }
        guard let payload = event.payload else { throw ValidationError("the event has no payload") }
        var labels = ["alertname": payload.class ?? "pagerduty-publisher-send", "severity": payload.severity.rawValue, "instance": payload.source]
        if case .object(let details)? = payload.customDetails {
            for (key, value) in details {
                if case .string(let text) = value { labels[key] = text }
            }
        }
        var alert: [String: Any] = [
            "status": event.eventAction == .trigger ? "firing" : "resolved",
            "labels": labels,
            "annotations": ["summary": payload.summary],
            "startsAt": payload.timestamp ?? RFC3339.format(Date()),
        ]
        alert["fingerprint"] = event.dedupKey ?? LabelSetFingerprint.of(labels)
        if event.eventAction == .resolve { alert["endsAt"] = RFC3339.format(Date()) }
        let webhook: [String: Any] = ["version": "4", "receiver": "pagerduty-publisher-send", "alerts": [alert]]
        try await post(path: "/v1/alertmanager", body: try JSONSerialization.data(withJSONObject: webhook))
    }

    func send(_ event: ChangeEvent) async throws {
        var body: [String: Any] = ["summary": event.payload.summary]
        body["source"] = event.payload.source
        body["timestamp"] = event.payload.timestamp
        if let details = event.payload.customDetails {
            body["custom_details"] = try JSONSerialization.jsonObject(with: Data(try EventEncoding.encode(details)))
        }
        if let links = event.links {
            body["links"] = try JSONSerialization.jsonObject(with: Data(try EventEncoding.encode(links)))
        }
        try await post(path: "/v1/change-events", body: try JSONSerialization.data(withJSONObject: body))
    }

    private func post(path: String, body: Data) async throws {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let url = base + path + (route.map { "/\($0)" } ?? "")
        var headers = [("Content-Type", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        let transport = CurlHTTPTransport(
            configuration: CurlTransportConfiguration(userAgent: "pagerduty-publisher/\(PublisherVersion.current)", maxConcurrentRequests: 1)
        )
        let response: CurlHTTP.HTTPResponse
        do {
            response = try await transport.post(url: url, headers: headers, body: Array(body))
        } catch {
            FileHandle.standardError.write(Data("pagerduty-publisher: the daemon at \(base) did not answer: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let answer = String(decoding: response.body, as: UTF8.self)
        guard (200..<300).contains(response.status) else {
            FileHandle.standardError.write(Data("pagerduty-publisher: the daemon answered \(response.status): \(answer)\n".utf8))
            throw ExitCode.failure
        }
        print("Queued by the daemon: \(answer)")
    }
}
