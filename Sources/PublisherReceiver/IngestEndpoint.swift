import Foundation
import Hummingbird
import Logging
import PublisherCore

/// What every POST endpoint that stores something shares: the request checks and the way answers are made.
///
/// Checks run in this order, and the first failure answers: 401 (token), 415 (media type), 503 (too many
/// requests in flight, with `Retry-After`), 413 (size), 400 (body, from the endpoint's decoder), then the
/// ingestor's answer (202, 400, 404, 503). The ingestor is never called for a request that failed a check. The
/// answers given before the body is read whole (401, 415, 503 in flight, 413) carry `Connection: close`, and the
/// connection is closed after them without reading the rest of the body. Nothing here throws past
/// ``respond(to:context:decode:ingest:)``, so no failure escapes as a 500.
struct IngestEndpoint: Sendable {
    let authorization: ReceiverAuthorization
    let maxBodyBytes: Int
    /// Shared by every endpoint built with this value: webhooks and change events count together.
    let inFlight: InFlightLimit
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
            try await checkHead(of: request)
            guard inFlight.tryEnter() else { throw .tooManyInFlight(limit: inFlight.limit) }
            defer { inFlight.leave() }
            let payload = try decode(try await body(of: request))
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

    /// Checks the token and the media type of `request`.
    private func checkHead(of request: Request) async throws(ReceiverRejection) {
        if await !authorization.allowsIngest(request.headers[.authorization]) {
            throw .unauthorized
        }
        let contentType = request.headers[.contentType]
        guard MediaTypeCheck.isJSON(contentType: contentType) else {
            throw .unsupportedMediaType(contentType)
        }
    }

    /// The body of `request`, once its size passed.
    private func body(of request: Request) async throws(ReceiverRejection) -> ByteBuffer {
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
