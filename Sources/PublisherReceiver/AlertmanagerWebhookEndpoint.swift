import AlertmanagerModels
import Foundation
import Hummingbird
import Logging
import PublisherCore

/// `POST /v1/alertmanager[/{route}]`: checks the token, media type and size, decodes the webhook, hands it
/// to the ingestor and answers 202 only once the ingestor says every alert is stored.
///
/// Checks run in this order, and the first failure answers: 401 (token), 415 (media type), 413 (size),
/// 400 (body), then the ingestor's answer (202, 400, 404, 503). The ingestor is never called for a
/// request that failed a check.
struct AlertmanagerWebhookEndpoint: Sendable {
    let ingestor: any AlertIngesting
    let verifier: BearerTokenVerifier?
    let maxBodyBytes: Int
    let logger: Logger

    /// The answer to one webhook request; never throws, so no failure escapes as a 500.
    func respond(to request: Request, context: some RequestContext, route: String?) async -> Response {
        let logger = self.logger.forRequest(context)
        do throws(ReceiverRejection) {
            let message = try await accept(request)
            let result: IngestResult
            do {
                result = try await ingestor.ingest(message, route: route)
            } catch {
                throw ReceiverRejection(error)
            }
            return JSONResponse.make(
                status: .accepted,
                body: AcceptedBody(alerts: result.alerts, queued: result.queued, unchanged: result.unchanged)
            )
        } catch {
            error.log(to: logger)
            return error.response
        }
    }

    /// The decoded webhook, once the request passed every check.
    private func accept(_ request: Request) async throws(ReceiverRejection) -> WebhookMessage {
        if let verifier, !verifier.isAuthorized(request.headers[.authorization]) {
            throw .unauthorized
        }
        let contentType = request.headers[.contentType]
        guard MediaTypeCheck.isJSON(contentType: contentType) else {
            throw .unsupportedMediaType(contentType ?? "")
        }
        let body: ByteBuffer
        do {
            body = try await RequestBodyReader.collect(request, limit: maxBodyBytes)
        } catch RequestBodyReadError.tooLarge(let limit) {
            throw .tooLarge(limit: limit)
        } catch {
            throw .badRequest("the body could not be read", field: JSONFieldPath.root)
        }
        return try WebhookDecoder.decode(body)
    }

    /// The route named by the path parameter, percent-decoded.
    static func routeName(_ context: some RequestContext) -> String? {
        guard let raw = context.parameters.get("route") else { return nil }
        return raw.removingPercentEncoding ?? raw
    }

    private struct AcceptedBody: Encodable {
        var status = "accepted"
        var alerts: Int
        var queued: Int
        var unchanged: Int
    }
}
