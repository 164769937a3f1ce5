import Hummingbird
import Logging
import PublisherCore

/// `GET /healthz`, `GET /readyz` and `GET /metrics`: open to every caller, except `/metrics` when the web
/// configuration names users (checked by the route, see ``ReceiverAuthorization``).
struct OperationalEndpoints: Sendable {
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    let readiness: any ReadinessChecking
    let metrics: @Sendable () async -> String
    let logger: Logger

    /// Liveness: the process is up and answering. Always 200 `{"status":"ok"}`.
    func health() -> Response {
        JSONResponse.make(status: .ok, body: ["status": "ok"])
    }

    /// Readiness: 200 when every check passes, otherwise 503; the body lists every check.
    func ready(context: some RequestContext) async -> Response {
        let checks = await readiness.readiness()
        let failing = checks.filter { !$0.ok }
        if failing.isEmpty {
            return JSONResponse.make(status: .ok, body: ReadinessBody(status: "ready", checks: checks))
        }
        logger.forRequest(context).error(
            "not ready",
            metadata: ["failing_checks": "\(failing.map(\.name).joined(separator: ","))", "http.status": "503"]
        )
        return JSONResponse.make(status: .serviceUnavailable, body: ReadinessBody(status: "not ready", checks: checks))
    }

    /// The Prometheus text exposition produced by the metrics closure.
    func exposition() async -> Response {
        let text = await metrics()
        return Response(
            status: .ok,
            headers: [.contentType: Self.metricsContentType],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }

    private struct ReadinessBody: Encodable {
        var status: String
        var checks: [ReadinessCheck]
    }
}
