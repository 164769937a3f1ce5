import Hummingbird
import PublisherCore

/// `POST /v1/change-events[/{route}]`: the shared checks of ``IngestEndpoint``, then the request decoded and
/// validated by ``ChangeEventDecoder`` and handed to the ingestor; 202 `{"status":"accepted","queued":1}` only
/// once the change event is stored.
struct ChangeEventEndpoint: Sendable {
    let ingestor: any ChangeEventIngesting
    let endpoint: IngestEndpoint

    /// The answer to one change event request; never throws, so no failure escapes as a 500.
    func respond(to request: Request, context: some RequestContext, route: String?) async -> Response {
        await endpoint.respond(to: request, context: context, decode: ChangeEventDecoder.decode) {
            (changeEvent: ChangeEventRequest) async throws(IngestError) -> AcceptedBody in
            let result = try await ingestor.ingest(changeEvent, route: route)
            return AcceptedBody(queued: result.queued)
        }
    }

    private struct AcceptedBody: Encodable {
        var status = "accepted"
        var queued: Int
    }
}
