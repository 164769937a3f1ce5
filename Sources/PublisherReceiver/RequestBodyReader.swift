import Hummingbird

/// Why a request body could not be read.
enum RequestBodyReadError: Error {
    /// The body is longer than the limit; reading stopped at the first byte past it.
    case tooLarge(limit: Int)
}

/// Collects a request body into one buffer, refusing bodies larger than a limit without buffering them.
enum RequestBodyReader {
    /// The whole body of `request`, or ``RequestBodyReadError/tooLarge(limit:)`` as soon as either the
    /// declared `Content-Length` or the bytes received exceed `limit`.
    ///
    /// A declared length is reserved at once, so the buffer is never regrown and copied on the way.
    static func collect(_ request: Request, limit: Int) async throws -> ByteBuffer {
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        if let declared, declared > limit {
            throw RequestBodyReadError.tooLarge(limit: limit)
        }
        return try await collect(request.body, limit: limit, expectedBytes: declared ?? 0)
    }

    /// Every chunk of `body` joined, or ``RequestBodyReadError/tooLarge(limit:)`` once more than `limit`
    /// bytes arrived.
    static func collect(_ body: RequestBody, limit: Int, expectedBytes: Int = 0) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        if expectedBytes > 0 { collected.reserveCapacity(min(expectedBytes, limit)) }
        for try await chunk in body {
            guard chunk.readableBytes <= limit - collected.readableBytes else {
                throw RequestBodyReadError.tooLarge(limit: limit)
            }
            var chunk = chunk
            collected.writeBuffer(&chunk)
        }
        return collected
    }
}
