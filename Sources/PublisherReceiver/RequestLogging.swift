import Hummingbird
import Logging

extension Logger {
    /// This logger with the request id Hummingbird gave the request, as `request_id`.
    func forRequest(_ context: some RequestContext) -> Logger {
        var logger = self
        if let id = context.logger[metadataKey: "hb.request.id"] {
            logger[metadataKey: "request_id"] = id
        }
        return logger
    }
}

/// Writes one debug line per request: method, path (without query), status and duration. Never headers
/// (they may carry the bearer token) and never the body.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context: context, status: response.status, since: started)
            return response
        } catch let error as any HTTPResponseError {
            log(request, context: context, status: error.status, since: started)
            throw error
        } catch {
            log(request, context: context, status: .internalServerError, since: started)
            throw error
        }
    }

    private func log(_ request: Request, context: Context, status: HTTPResponse.Status, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        logger.forRequest(context).debug(
            "request",
            metadata: [
                "http.method": "\(request.method.rawValue)",
                "http.path": "\(request.uri.path)",
                "http.status": "\(status.code)",
                "duration_ms": "\((milliseconds * 1000).rounded() / 1000)",
            ]
        )
    }
}
