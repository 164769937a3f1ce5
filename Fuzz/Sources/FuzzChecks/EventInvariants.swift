import Foundation
import PagerDutyEvents

/// What every event the publisher stores must satisfy, whatever the input: within PagerDuty's limits, and its
/// JSON decodes back to the very event it was encoded from.
enum EventInvariants {
    /// Checks a fitted alert event and the bytes that would be sent for it.
    static func check(_ event: AlertEvent, body: [UInt8]) {
        PropertyCheck.require(body.count <= EventLimits.eventMaxBytes, "alert event of \(body.count) bytes")
        if let summary = event.payload?.summary {
            checkSummary(summary)
        }
        if let dedupKey = event.dedupKey {
            PropertyCheck.require(
                dedupKey.unicodeScalars.count <= EventLimits.dedupKeyMaxCharacters,
                "dedup_key of \(dedupKey.unicodeScalars.count) characters"
            )
        }
        checkImages(event.images)
        PropertyCheck.require(
            (try? JSONDecoder().decode(AlertEvent.self, from: Data(body))) == event,
            "the alert event's JSON does not decode back to the event"
        )
    }

    /// Checks a fitted change event and the bytes that would be sent for it.
    static func check(_ event: ChangeEvent, body: [UInt8]) {
        PropertyCheck.require(body.count <= EventLimits.eventMaxBytes, "change event of \(body.count) bytes")
        checkSummary(event.payload.summary)
        checkImages(event.images)
        PropertyCheck.require(
            (try? JSONDecoder().decode(ChangeEvent.self, from: Data(body))) == event,
            "the change event's JSON does not decode back to the event"
        )
    }

    private static func checkSummary(_ summary: String) {
        PropertyCheck.require(
            summary.unicodeScalars.count <= EventLimits.summaryMaxCharacters,
            "summary of \(summary.unicodeScalars.count) characters"
        )
    }

    private static func checkImages(_ images: [Image]?) {
        for image in images ?? [] {
            PropertyCheck.require(image.src.lowercased().hasPrefix("https://"), "an image whose src is not https")
        }
    }
}
