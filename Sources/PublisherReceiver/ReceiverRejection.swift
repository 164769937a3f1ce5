import Hummingbird
import Logging
import PublisherCore

/// Why the receiver refused a request: the HTTP status, a reason a person can act on and, for malformed
/// input, the JSON path of the offending field (`alerts[2].status`; `$` is the whole body).
///
/// The reason never contains a secret or the request body.
struct ReceiverRejection: Error, Sendable, Equatable, CustomStringConvertible {
    var status: HTTPResponse.Status
    var reason: String
    var field: String?
    /// Extra response headers, such as `WWW-Authenticate` for 401.
    var headers: HTTPFields = [:]

    var description: String {
        if let field { "\(status.code) \(field): \(reason)" } else { "\(status.code): \(reason)" }
    }

    static func badRequest(_ reason: String, field: String?) -> Self {
        .init(status: .badRequest, reason: reason, field: field)
    }

    /// 401 on `POST /v1/pagerduty`: no signature of `X-PagerDuty-Signature` matches a signing secret.
    static let signatureMismatch = Self(
        status: .unauthorized,
        reason: "no signature in X-PagerDuty-Signature matches a signing secret of this daemon"
    )

    static let unauthorized = Self(
        status: .unauthorized,
        reason: "missing or invalid bearer token",
        headers: [.wwwAuthenticate: "Bearer", .connection: "close"]
    )

    static func unknownRoute(_ route: String) -> Self {
        .init(status: .notFound, reason: "unknown route \"\(route)\"")
    }

    static func tooLarge(limit: Int) -> Self {
        .init(
            status: .contentTooLarge,
            reason: "the body is larger than the limit of \(limit) bytes",
            headers: [.connection: "close"]
        )
    }

    /// 415: the body is not read, so the connection is closed after the answer.
    static func unsupportedMediaType(_ contentType: String?) -> Self {
        let reason =
            if let contentType {
                "content type \"\(contentType)\" is not supported; send Content-Type: application/json"
            } else {
                "the Content-Type header is missing; send Content-Type: application/json"
            }
        return .init(status: .unsupportedMediaType, reason: reason, headers: [.connection: "close"])
    }

    /// 503 past `--max-webhooks-in-flight`: the body is not read, so the connection is closed after the answer.
    static func tooManyInFlight(limit: Int) -> Self {
        .init(
            status: .serviceUnavailable,
            reason: "\(limit) webhooks are already being received, the limit; retry later",
            headers: [.retryAfter: "1", .connection: "close"]
        )
    }

    static func storageUnavailable(_ reason: String) -> Self {
        .init(status: .serviceUnavailable, reason: "storage unavailable: \(reason); retry later")
    }

    /// The JSON error response: `{"status":"error","error":"…","field":"…"}`.
    var response: Response {
        var response = JSONResponse.make(
            status: status,
            body: ErrorBody(status: "error", error: reason, field: field)
        )
        response.headers.append(contentsOf: headers)
        return response
    }

    /// Logs the rejection: a warning for 4xx, an error for 5xx.
    func log(to logger: Logger) {
        var metadata: Logger.Metadata = ["http.status": "\(status.code)", "reason": "\(reason)"]
        if let field { metadata["field"] = "\(field)" }
        if status.code >= 500 {
            logger.error("request not accepted", metadata: metadata)
        } else {
            logger.warning("request rejected", metadata: metadata)
        }
    }

    private struct ErrorBody: Encodable {
        var status: String
        var error: String
        var field: String?
    }
}

extension ReceiverRejection {
    /// The rejection an ``IngestError`` stands for.
    init(_ error: IngestError) {
        switch error {
        case .unknownRoute(let name): self = .unknownRoute(name)
        case .invalidAlert(let field, let reason): self = .badRequest(reason, field: field)
        case .storageUnavailable(let reason): self = .storageUnavailable(reason)
        }
    }
}
