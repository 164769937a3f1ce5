import AlertmanagerModels
import Hummingbird
import HTTPTypes
import PublisherCore
import Tracing

/// `POST /v1/alertmanager[/{route}]`: the shared checks of ``IngestEndpoint``, then the webhook decoded by
/// ``WebhookDecoder`` and handed to the ingestor; 202 only once the ingestor says every alert is stored.
struct AlertmanagerWebhookEndpoint: Sendable {
    let ingestor: any AlertIngesting
    let endpoint: IngestEndpoint
    /// The most alerts one webhook may carry.
    let maxAlerts: Int

    /// The answer to one webhook request; never throws, so no failure escapes as a 500.
    ///
    /// With tracing on, the request is a server span (`POST /v1/alertmanager[/{route}]`), the child of the span an
    /// incoming W3C `traceparent` names; decoding, deciding and committing are its children.
    func respond(to request: Request, context: some RequestContext, route: String?) async -> Response {
        let template = route == nil ? "/v1/alertmanager" : "/v1/alertmanager/{route}"
        var parent = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        return await withSpan("POST \(template)", context: parent, ofKind: .server) { span in
            if span.isRecording {
                span.attributes["http.request.method"] = "POST"
                span.attributes["http.route"] = template
                if let route { span.attributes["publisher.route"] = route }
            }
            let response = await handle(request, context: context, route: route)
            if span.isRecording {
                span.attributes["http.response.status_code"] = Int(response.status.code)
                if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
            }
            return response
        }
    }

    private func handle(_ request: Request, context: some RequestContext, route: String?) async -> Response {
        let maxAlerts = self.maxAlerts
        let decode = { (body: ByteBuffer) throws(ReceiverRejection) -> WebhookMessage in
            try TraceContext.withChildSpan("decode") { span throws(ReceiverRejection) -> WebhookMessage in
                let message = try WebhookDecoder.decode(body, maxAlerts: maxAlerts)
                if span.isRecording {
                    span.attributes["publisher.alerts"] = message.alerts.count
                    span.attributes["publisher.body_bytes"] = body.readableBytes
                }
                return message
            }
        }
        return await endpoint.respond(to: request, context: context, decode: decode) {
            (message: WebhookMessage) async throws(IngestError) -> AcceptedBody in
            let result = try await ingestor.ingest(message, route: route)
            return AcceptedBody(alerts: result.alerts, queued: result.queued, unchanged: result.unchanged, unrouted: result.unrouted)
        }
    }

    private struct AcceptedBody: Encodable {
        var status = "accepted"
        var alerts: Int
        var queued: Int
        var unchanged: Int
        /// Alerts no route took (no matcher matched and no default route): not sent.
        var unrouted: Int
    }
}

/// Reads the W3C trace context fields (`traceparent`, `tracestate`) of a request's headers.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from fields: HTTPFields) -> String? {
        guard let name = HTTPField.Name(key) else { return nil }
        return fields[name]
    }
}
