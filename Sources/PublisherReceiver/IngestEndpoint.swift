import Foundation
import Hummingbird
import Logging
import PublisherCore

/// What every POST endpoint that stores something shares: the request checks and the way answers are made.
///
/// Checks run in this order, and the first failure answers: 401 (token), 415 (media type), 413 (size),
/// 400 (body, from the endpoint's decoder), then the ingestor's answer (202, 400, 404, 503). The ingestor is
/// never called for a request that failed a check. Nothing here throws past ``respond(to:context:decode:ingest:)``,
/// so no failure escapes as a 500.
struct IngestEndpoint: Sendable {
    let verifier: RequestAuthenticator?
    let maxBodyBytes: Int
    let logger: Logger

    /// Checks `request`, decodes its body with `decode`, hands the result to `ingest` and answers 202 with
    /// the body `ingest` returns, or with the JSON error of the first check that failed.
    func respond<Payload, Accepted: Encodable>(
        to request: Request,
        context: some RequestContext,
        decode: (ByteBuffer) throws(ReceiverRejection) -> Payload,
        ingest: (Payload) async throws(IngestError) -> Accepted
    ) async -> Response {
        let logger = self.logger.forRequest(context)
        do throws(ReceiverRejection) {
            let payload = try decode(try await checkedBody(of: request))
            let accepted: Accepted
            do {
                accepted = try await ingest(payload)
            } catch {
                throw ReceiverRejection(error)
            }
            return JSONResponse.make(status: .accepted, body: accepted)
        } catch {
            error.log(to: logger)
            return error.response
        }
    }

    /// The body of `request`, once its token, media type and size passed.
    private func checkedBody(of request: Request) async throws(ReceiverRejection) -> ByteBuffer {
        if let verifier, !verifier.isAuthorized(request.headers[.authorization]) {
            throw .unauthorized
        }
        let contentType = request.headers[.contentType]
        guard MediaTypeCheck.isJSON(contentType: contentType) else {
            throw .unsupportedMediaType(contentType ?? "")
        }
        do {
            return try await RequestBodyReader.collect(request, limit: maxBodyBytes)
        } catch RequestBodyReadError.tooLarge(let limit) {
            throw .tooLarge(limit: limit)
        } catch {
            throw .badRequest("the body could not be read", field: JSONFieldPath.root)
        }
    }

    /// The route named by the path parameter `route`, percent-decoded; `nil` when the path has none.
    static func routeName(_ context: some RequestContext) -> String? {
        guard let raw = context.parameters.get("route") else { return nil }
        return raw.removingPercentEncoding ?? raw
    }
}
