import AlertmanagerModels
import Hummingbird

/// Decodes and checks an Alertmanager webhook body; anything it cannot accept becomes a 400
/// ``ReceiverRejection`` naming the field.
enum WebhookDecoder {
    /// The payload versions accepted. An absent `version` is accepted as well.
    static let supportedVersions: Set<String> = ["4"]
    /// The longest fingerprint accepted, in characters (Unicode scalars): the fingerprint becomes the stored
    /// dedup_key, which PagerDuty limits to 255 characters.
    static let maxFingerprintCharacters = 255

    /// The webhook in `body`, refused when it has more than `maxAlerts` alerts (as soon as the decoder reaches
    /// the first one past the limit) or breaks a rule of ``check(_:)``.
    static func decode(
        _ body: ByteBuffer,
        maxAlerts: Int = ReceiverConfiguration.defaultMaxAlertsPerWebhook
    ) throws(ReceiverRejection) -> WebhookMessage {
        guard body.readableBytes > 0 else {
            throw .badRequest("the body is empty; expected an Alertmanager webhook (JSON)", field: JSONFieldPath.root)
        }
        let decoded = body.withUnsafeReadableBytes { bytes in
            Result { () throws(WebhookDecodingError) in try WebhookMessage(json: bytes, maxAlerts: maxAlerts) }
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

    /// Rules the lenient model does not enforce: a supported version; per alert, at least one label (Alertmanager
    /// always sends them) and a fingerprint no longer than ``maxFingerprintCharacters``, without control characters
    /// (a NUL cannot even be stored in PostgreSQL's text).
    static func check(_ message: WebhookMessage) throws(ReceiverRejection) {
        if let version = message.version, !supportedVersions.contains(version) {
            throw .badRequest("unsupported webhook version \"\(version)\"; only version 4 is accepted", field: "version")
        }
        for (index, alert) in message.alerts.enumerated() {
            guard !alert.labels.isEmpty else {
                throw .badRequest(
                    "an alert needs at least one label; Alertmanager always sends them",
                    field: JSONFieldPath.alert(index) + ".labels"
                )
            }
            if let fingerprint = alert.fingerprint, fingerprint.unicodeScalars.count > maxFingerprintCharacters {
                throw .badRequest(
                    "the fingerprint has \(fingerprint.unicodeScalars.count) characters; at most "
                        + "\(maxFingerprintCharacters) are accepted, as it becomes PagerDuty's dedup_key",
                    field: JSONFieldPath.alert(index) + ".fingerprint"
                )
            }
            if let fingerprint = alert.fingerprint, fingerprint.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw .badRequest(
                    "the fingerprint contains a control character; it becomes PagerDuty's dedup_key, which must be printable",
                    field: JSONFieldPath.alert(index) + ".fingerprint"
                )
            }
        }
    }
}
