/// Something that can GET a URL and return the raw answer; the client's only way to the network.
///
/// Implementations run blocking work off the caller's executor and throw only when no HTTP answer came back
/// (refused, timed out, TLS failure). Any answer, 5xx included, is returned, not thrown.
public protocol AlertmanagerHTTPGetting: Sendable {
    /// GETs `url` with `headers` and returns the status and body.
    func get(url: String, headers: [(String, String)]) async throws(AlertmanagerAPIError) -> (status: Int, body: [UInt8])
}
