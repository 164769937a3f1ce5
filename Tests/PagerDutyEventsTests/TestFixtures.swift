import CurlHTTP
import Foundation
import PagerDutyEvents
import Synchronization

/// A routing key shaped like a real one; tests check it never leaks into reasons.
let testRoutingKey = "0123456789abcdef0123456789abcdef"

func sampleTrigger(dedupKey: String = "alert-fingerprint-1", customDetails: JSONValue? = ["job": "node", "instance": "host-1:9100"]) -> AlertEvent {
    AlertEvent(
        routingKey: testRoutingKey,
        eventAction: .trigger,
        dedupKey: dedupKey,
        payload: AlertPayload(
            summary: "Disk almost full on host-1",
            source: "host-1",
            severity: .critical,
            timestamp: "2024-05-01T12:00:00Z",
            component: "disk",
            group: "storage",
            class: "capacity",
            customDetails: customDetails
        ),
        client: "Alertmanager",
        clientURL: "https://alertmanager.example.com/#/alerts",
        links: [Link(href: "https://runbooks.example.com/disk", text: "Runbook")],
        images: [Image(src: "https://grafana.example.com/render/disk.png", href: "https://grafana.example.com", alt: "disk")]
    )
}

func sampleChange() -> ChangeEvent {
    ChangeEvent(
        routingKey: testRoutingKey,
        payload: ChangeEventPayload(
            summary: "Deployed api v1.2.3",
            source: "ci",
            timestamp: "2024-05-01T12:00:00Z",
            customDetails: ["commit": "abc123"]
        ),
        links: [Link(href: "https://ci.example.com/builds/42", text: "Build")]
    )
}

/// A transport that answers from a script and records what it was asked.
final class ScriptedTransport: HTTPTransport {
    enum Answer: Sendable {
        case response(HTTPResponse)
        case failure(TransportError)
    }

    struct Call: Sendable {
        var url: String
        var headers: [String: String]
        var body: [UInt8]
    }

    private let answer: Answer
    private let recorded = Mutex<[Call]>([])

    init(_ answer: Answer) {
        self.answer = answer
    }

    convenience init(status: Int, body: String = "", headers: [String: String] = [:]) {
        self.init(.response(HTTPResponse(status: status, headers: headers, body: Array(body.utf8))))
    }

    var calls: [Call] { recorded.withLock { $0 } }

    func post(url: String, headers: [(String, String)], body: [UInt8]) async throws(TransportError) -> HTTPResponse {
        let call = Call(url: url, headers: Dictionary(headers, uniquingKeysWith: { $1 }), body: body)
        recorded.withLock { $0.append(call) }
        switch answer {
        case .response(let response): return response
        case .failure(let error): throw error
        }
    }
}

/// Decodes JSON bytes into a ``JSONValue``.
func decodeJSON(_ bytes: [UInt8]) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
}

extension JSONValue {
    subscript(_ name: String) -> JSONValue? {
        if case .object(let members) = self { return members[name] }
        return nil
    }

    var text: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}
