/// How a ``CurlHTTPTransport`` connects.
///
/// TLS 1.2 or later, certificate and host-name verification, and http/https-only protocols are always on and cannot
/// be configured away. Proxies come from the environment: libcurl reads `https_proxy`, `http_proxy`, `all_proxy` and
/// `no_proxy` (and their upper-case forms, except `HTTP_PROXY`) itself, because the transport never sets
/// `CURLOPT_PROXY`.
public struct CurlTransportConfiguration: Sendable {
    /// The longest wait for a TCP connection and TLS handshake. Default 5 seconds.
    public var connectTimeout: Duration
    /// The longest a whole request may take, connection included. Default 30 seconds.
    public var totalTimeout: Duration
    /// The `User-Agent` header, normally ``userAgent(version:)``.
    public var userAgent: String
    /// How many requests run at once: the number of worker threads, each with its own reused connection. Default 4.
    public var maxConcurrentRequests: Int
    /// A CA bundle file to verify servers against instead of the system's; `nil` uses the system store.
    public var caInfo: String?
    /// The largest response body accepted; a longer one fails the request as a network error. Default 1 MiB.
    public var maxResponseBodyBytes: Int
    /// A diagnostic hook called on the worker thread right before each transfer, with the thread's name.
    /// It runs on the request path: keep it quick and never block in it.
    public var onWorkerPerform: (@Sendable (_ workerThreadName: String) -> Void)?

    /// Creates a configuration.
    /// - Parameters:
    ///   - userAgent: the `User-Agent` header, normally ``userAgent(version:)``.
    ///   - connectTimeout: the longest wait for a connection; default 5 s.
    ///   - totalTimeout: the longest a request may take; default 30 s.
    ///   - maxConcurrentRequests: worker thread count; default 4, at least 1 is used.
    ///   - caInfo: an optional CA bundle path.
    ///   - maxResponseBodyBytes: the largest response body accepted; default 1 MiB.
    public init(
        userAgent: String,
        connectTimeout: Duration = .seconds(5),
        totalTimeout: Duration = .seconds(30),
        maxConcurrentRequests: Int = 4,
        caInfo: String? = nil,
        maxResponseBodyBytes: Int = 1 << 20
    ) {
        self.userAgent = userAgent
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.maxConcurrentRequests = maxConcurrentRequests
        self.caInfo = caInfo
        self.maxResponseBodyBytes = maxResponseBodyBytes
        self.onWorkerPerform = nil
    }

    /// The publisher's `User-Agent` value: `pagerduty-publisher/<version>`.
    public static func userAgent(version: String) -> String {
        "pagerduty-publisher/\(version)"
    }
}
