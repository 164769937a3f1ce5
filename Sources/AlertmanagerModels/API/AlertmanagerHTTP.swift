/// Something that can GET, POST and DELETE a URL and return the raw answer; the client's only way to the network.
///
/// Implementations run blocking work off the caller's executor and throw only when no HTTP answer came back
/// (refused, timed out, TLS failure). Any answer, 4xx and 5xx included, is returned, not thrown: telling a good
/// answer from a bad one is the client's job.
public protocol AlertmanagerHTTP: Sendable {
    /// GETs `url` with `headers` and returns the status and body.
    func get(url: String, headers: [(String, String)]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8])

    /// POSTs `body` to `url` with `headers` and returns the status and body of the answer.
    func post(url: String, headers: [(String, String)], body: [UInt8]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8])

    /// DELETEs `url` (no request body) with `headers` and returns the status and body of the answer.
    func delete(url: String, headers: [(String, String)]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8])
}
