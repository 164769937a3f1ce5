import AlertmanagerModels
import Foundation
import PagerDutyEvents
import PublisherCore
import PublisherReceiver

/// One fuzz input for `POST /v1/alertmanager`: the receiver's decoder and checks, then, when the body is accepted,
/// what the publisher does with every alert in it.
///
/// - A body the decoder refuses must carry a reason (it becomes the 400 answer's text).
/// - A body it accepts has at most the default number of alerts per webhook, and every alert has labels and a
///   fingerprint (when given) of at most 255 characters.
/// - The receiver's byte-level decoder agrees with the `Decodable` conformance decoded by Foundation's
///   `JSONDecoder` (the reference): what it accepts, the reference decodes to the same value; what it refuses
///   and the reference accepts is invalid JSON (the reference is lenient there) or has a member twice.
/// - An accepted alert without a usable dedup_key is refused by the publisher (400); otherwise each of trigger,
///   acknowledge and resolve maps to an event whose encoding is within PagerDuty's limits and re-decodes to the
///   same event, and the event-only path (`event(for:)`) yields that same event.
/// - An alert labelled `change_event="true"` also becomes a change event, checked the same way.
///
/// Events over 512 KB need inputs far longer than the fuzzer's `-max_len`; an alert carrying the harness-only
/// annotation ``inflateAnnotation`` (a number n, 1…64) has each of its other annotations repeated to about
/// n × 16 KiB before mapping, so the size fitting is exercised too. The daemon gives that annotation no meaning.
public enum WebhookFuzzCheck {
    /// The harness-only annotation asking for an alert's other annotations to be inflated.
    public static let inflateAnnotation = "fuzz_inflate"
    private static let inflateUnitBytes = 16 * 1024
    private static let largestInflateFactor = 64
    private static let mapper = EventMapper()

    /// Runs the checks on one input; traps when a property does not hold.
    public static func run(_ input: [UInt8]) {
        checkAgainstReference(input)
        let message: WebhookMessage
        do {
            message = try RequestDecoding.webhookMessage(from: input)
        } catch {
            PropertyCheck.require(!error.reason.isEmpty, "a refused webhook without a reason")
            return
        }
        PropertyCheck.require(
            message.alerts.count <= ReceiverConfiguration.defaultMaxAlertsPerWebhook, "more alerts accepted than the cap")
        for alert in message.alerts {
            PropertyCheck.require(!alert.labels.isEmpty, "an alert without labels was accepted")
            PropertyCheck.require(
                (alert.fingerprint?.unicodeScalars.count ?? 0) <= 255, "a fingerprint over 255 characters was accepted")
            check(inflated(alert), in: message)
        }
    }

    private static func checkAgainstReference(_ input: [UInt8]) {
        let reference = try? JSONDecoder().decode(WebhookMessage.self, from: Data(input))
        do {
            let message = try WebhookMessage(json: input)
            PropertyCheck.require(
                message == reference, "the byte decoder accepted a body that the reference refuses or decodes differently")
        } catch {
            guard reference != nil else { return }
            let isSyntaxError = error.path.isEmpty && error.reason.hasPrefix("the body is not valid JSON")
            PropertyCheck.require(
                isSyntaxError || error.reason == "this member appears more than once in its object",
                "the byte decoder refused a body the reference accepts: \(error)")
        }
    }

    private static func check(_ alert: Alert, in message: WebhookMessage) {
        guard let dedupKey = try? DedupKey.of(alert) else {
            // The publisher answers 400 for this alert (`alerts[i]`); nothing is mapped.
            return
        }
        for action in EventAction.allCases {
            let encoded: (event: AlertEvent, body: [UInt8])
            do {
                encoded = try mapper.encodedEvent(for: alert, action: action, in: message, dedupKey: dedupKey)
            } catch {
                PropertyCheck.require(false, "an alert from decoded JSON could not be encoded: \(error)")
                return
            }
            EventInvariants.check(encoded.event, body: encoded.body)
            PropertyCheck.require(
                mapper.event(for: alert, action: action, in: message, dedupKey: dedupKey) == encoded.event,
                "event(for:) and encodedEvent(for:) disagree for \(action.rawValue)"
            )
            PropertyCheck.require(
                (encoded.event.client != nil) == (action == .trigger),
                "client set on a \(action.rawValue) event, or missing on a trigger"
            )
        }
        if AlertPublisher.isChangeEvent(alert) {
            let changeEvent = mapper.changeEvent(for: alert, in: message)
            guard let body = try? EventEncoding.encode(changeEvent) else {
                PropertyCheck.require(false, "a change event from an alert could not be encoded")
                return
            }
            EventInvariants.check(changeEvent, body: body)
        }
    }

    /// `alert` with its annotations repeated when it asks for it through ``inflateAnnotation``.
    private static func inflated(_ alert: Alert) -> Alert {
        guard let text = alert.annotations[inflateAnnotation], let requested = Int(text), requested > 0 else {
            return alert
        }
        let targetBytes = min(requested, largestInflateFactor) * inflateUnitBytes
        var copy = alert
        for (name, value) in alert.annotations where name != inflateAnnotation && !value.isEmpty {
            copy.annotations[name] = String(repeating: value, count: max(1, targetBytes / value.utf8.count))
        }
        return copy
    }
}
