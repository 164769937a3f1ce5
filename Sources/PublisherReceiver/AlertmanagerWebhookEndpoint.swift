import AlertmanagerModels
import Hummingbird
import PublisherCore

/// `POST /v1/alertmanager[/{route}]`: the shared checks of ``IngestEndpoint``, then the webhook decoded by
/// ``WebhookDecoder`` and handed to the ingestor; 202 only once the ingestor says every alert is stored.
struct AlertmanagerWebhookEndpoint: Sendable {
    let ingestor: any AlertIngesting
    let endpoint: IngestEndpoint
    /// The most alerts one webhook may carry.
    let maxAlerts: Int

    /// The answer to one webhook request; never throws, so no failure escapes as a 500.
    func respond(to request: Request, context: some RequestContext, route: String?) async -> Response {
        let maxAlerts = self.maxAlerts
        let decode = { (body: ByteBuffer) throws(ReceiverRejection) -> WebhookMessage in
            try WebhookDecoder.decode(body, maxAlerts: maxAlerts)
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
