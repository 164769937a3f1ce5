import Foundation
import Hummingbird
import PublisherCore

/// Decodes and checks a change event request body; anything it cannot accept becomes a 400
/// ``ReceiverRejection`` naming the field (`summary`, `timestamp`, `links[0].href`, `custom_details`, `$`).
enum ChangeEventDecoder {
    static func decode(_ body: ByteBuffer) throws(ReceiverRejection) -> ChangeEventRequest {
        guard body.readableBytes > 0 else {
            throw .badRequest(
                "the body is empty; expected a change event such as {\"summary\":\"Deployed v1.2\"}",
                field: JSONFieldPath.root
            )
        }
        let data = body.withUnsafeReadableBytes { Data($0) }
        let request: ChangeEventRequest
        do {
            request = try JSONDecoder().decode(ChangeEventRequest.self, from: data)
        } catch let error as DecodingError {
            throw DecodingErrorExplanation.rejection(for: error)
        } catch {
            throw .badRequest("the body is not valid JSON", field: JSONFieldPath.root)
        }
        do {
            try request.validate()
        } catch {
            throw ReceiverRejection(error)
        }
        return request
    }
}
