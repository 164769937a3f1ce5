import PagerDutyEvents
import PublisherCore
import PublisherReceiver

/// One fuzz input for `POST /v1/change-events`: the receiver's decoder and validation, then, when the body is
/// accepted, the change event the publisher stores.
///
/// - A body the decoder refuses must carry a reason (it becomes the 400 answer's text).
/// - An accepted request must yield a change event (validation and construction agree); when it encodes, the
///   JSON is within PagerDuty's limits and re-decodes to the same event, every link is an http(s) URL, and
///   encoding the event again gives the same bytes.
public enum ChangeEventFuzzCheck {
    /// Runs the checks on one input; traps when a property does not hold.
    public static func run(_ input: [UInt8]) {
        let request: ChangeEventRequest
        do {
            request = try RequestDecoding.changeEventRequest(from: input)
        } catch {
            PropertyCheck.require(!error.reason.isEmpty, "a refused change event without a reason")
            return
        }
        let event: ChangeEvent
        do {
            event = try request.changeEvent()
        } catch {
            PropertyCheck.require(false, "a validated change event request could not be built: \(error)")
            return
        }
        guard let body = try? EventEncoding.encode(event) else {
            // The publisher answers 400 ("could not be encoded"); nothing is stored.
            return
        }
        EventInvariants.check(event, body: body)
        for link in event.links ?? [] {
            let scheme = link.href.prefix(while: { $0 != ":" }).lowercased()
            PropertyCheck.require(scheme == "http" || scheme == "https", "a link that is not http(s)")
        }
        PropertyCheck.require((try? EventEncoding.encode(event)) == body, "encoding the same event twice differs")
    }
}
