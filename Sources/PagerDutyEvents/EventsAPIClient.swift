import CurlHTTP

/// Sends events to PagerDuty's Events API v2 and reports what happened; it never retries by itself.
///
/// Each send fits the event to PagerDuty's limits (``AlertEvent/fittedToLimits()``), encodes it with
/// ``EventEncoding``, POSTs it, and classifies the answer into a ``DeliveryOutcome``. Texts in the outcome never
/// contain the routing key that was sent.
public struct EventsAPIClient: Sendable {
    /// The validated base URL.
    public let baseURL: EventsBaseURL
    private let transport: any HTTPTransport

    /// Creates a client.
    /// - Parameters:
    ///   - baseURL: `https://…`, or `http://…` only for a loopback host; a trailing slash is tolerated.
    ///   - transport: how requests are sent, e.g. ``CurlHTTPTransport`` or ``DryRunTransport``.
    /// - Throws: ``EventsURLError`` naming what is wrong with `baseURL`.
    public init(baseURL: String, transport: any HTTPTransport) throws(EventsURLError) {
        self.baseURL = try EventsBaseURL(baseURL)
        self.transport = transport
    }

    /// Sends a trigger, acknowledge or resolve event to `/v2/enqueue`.
    public func send(_ event: AlertEvent) async -> DeliveryReport {
        await deliver({ try event.fittedAndEncoded().body }, routingKey: event.routingKey, to: .enqueue)
    }

    /// Sends a change event to `/v2/change/enqueue`.
    public func send(_ event: ChangeEvent) async -> DeliveryReport {
        await deliver({ try event.fittedAndEncoded().body }, routingKey: event.routingKey, to: .change)
    }

    private func deliver(_ encode: () throws -> [UInt8], routingKey: String, to endpoint: EventsEndpoint) async -> DeliveryReport {
        let clock = ContinuousClock()
        let start = clock.now
        let classifier = ResponseClassifier(scrubber: SecretScrubber(secrets: [routingKey]))
        let body: [UInt8]
        do {
            body = try encode()
        } catch {
            let reason = classifier.scrubber.scrub("the event cannot be encoded as JSON: \(error)")
            return DeliveryReport(endpoint: endpoint, outcome: .rejected(reason: reason), httpStatus: nil, duration: clock.now - start)
        }
        let headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
        do throws(TransportError) {
            let response = try await transport.post(url: baseURL.url(for: endpoint), headers: headers, body: body)
            return DeliveryReport(
                endpoint: endpoint,
                outcome: classifier.classify(response),
                httpStatus: response.status,
                duration: clock.now - start,
                wasSent: transport.sendsRequests
            )
        } catch {
            return DeliveryReport(endpoint: endpoint, outcome: classifier.classify(error), httpStatus: nil, duration: clock.now - start)
        }
    }
}
