import AlertmanagerModels
import Hummingbird

/// Decodes and checks an Alertmanager webhook body; anything it cannot accept becomes a 400
/// ``ReceiverRejection`` naming the field.
enum WebhookDecoder {
    /// The payload versions accepted. An absent `version` is accepted as well.
    static let supportedVersions: Set<String> = ["4"]

    static func decode(_ body: ByteBuffer) throws(ReceiverRejection) -> WebhookMessage {
        guard body.readableBytes > 0 else {
            throw .badRequest("the body is empty; expected an Alertmanager webhook (JSON)", field: JSONFieldPath.root)
        }
        let decoded = body.withUnsafeReadableBytes { bytes in
            Result { () throws(WebhookDecodingError) in try WebhookMessage(json: bytes) }
        }
        let message: WebhookMessage
        switch decoded {
        case .success(let decodedMessage):
            message = decodedMessage
        case .failure(let error):
            throw .badRequest(error.reason, field: JSONFieldPath.render(error.path))
        }
        try check(message)
        return message
    }

    /// Rules the lenient model does not enforce: a supported version, and labels or a fingerprint per alert.
    static func check(_ message: WebhookMessage) throws(ReceiverRejection) {
        if let version = message.version, !supportedVersions.contains(version) {
            throw .badRequest("unsupported webhook version \"\(version)\"; only version 4 is accepted", field: "version")
        }
        for (index, alert) in message.alerts.enumerated() where alert.labels.isEmpty && alert.fingerprint == nil {
            throw .badRequest("an alert needs labels or a fingerprint", field: JSONFieldPath.alert(index))
        }
    }
}
