import AlertmanagerModels
import Hummingbird
import PublisherCore

/// The receiver's request body decoding, outside the HTTP server: the same decoders and checks the endpoints use,
/// for tools that feed bodies directly (the fuzz targets in `Fuzz/`).
///
/// A body the endpoint would answer with 400 throws ``RequestDecodingError`` here, with the same reason and field.
public enum RequestDecoding {
    /// Decodes and checks an Alertmanager webhook body as `POST /v1/alertmanager` does.
    /// - Parameter maxAlerts: The most alerts accepted, as `--max-alerts-per-webhook`.
    /// - Throws: ``RequestDecodingError`` naming the offending field when the endpoint would reject the body.
    public static func webhookMessage(
        from body: [UInt8],
        maxAlerts: Int = ReceiverConfiguration.defaultMaxAlertsPerWebhook
    ) throws(RequestDecodingError) -> WebhookMessage {
        do {
            return try WebhookDecoder.decode(ByteBuffer(bytes: body), maxAlerts: maxAlerts)
        } catch {
            throw RequestDecodingError(error)
        }
    }

    /// Decodes and validates a change event body as `POST /v1/change-events` does.
    /// - Throws: ``RequestDecodingError`` naming the offending field when the endpoint would reject the body.
    public static func changeEventRequest(from body: [UInt8]) throws(RequestDecodingError) -> ChangeEventRequest {
        do {
            return try ChangeEventDecoder.decode(ByteBuffer(bytes: body))
        } catch {
            throw RequestDecodingError(error)
        }
    }
}

/// Why a request body was refused: the reason a 400 answer would carry and the JSON path of the offending field
/// (`alerts[2].status`; `$` is the whole body). Never contains the body itself or a secret.
public struct RequestDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, in words.
    public var reason: String
    /// The JSON path of the value concerned, when there is one.
    public var field: String?

    /// Creates an error from its reason and field.
    public init(reason: String, field: String?) {
        self.reason = reason
        self.field = field
    }

    init(_ rejection: ReceiverRejection) {
        self.init(reason: rejection.reason, field: rejection.field)
    }

    /// `field: reason`, or the reason alone.
    public var description: String {
        if let field { "\(field): \(reason)" } else { reason }
    }
}
