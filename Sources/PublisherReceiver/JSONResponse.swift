import Foundation
import Hummingbird

/// Builds responses with a JSON body.
enum JSONResponse {
    static let contentType = "application/json; charset=utf-8"

    /// A response with `body` encoded as JSON (keys sorted, so answers are stable).
    static func make(status: HTTPResponse.Status, body: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data("{\"status\":\"error\"}".utf8)
        return Response(
            status: status,
            headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
