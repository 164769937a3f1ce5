import CCurl
import Foundation
import Synchronization

/// An ``HTTPTransport`` built on libcurl.
///
/// Every blocking `curl_easy_perform` runs on one of ``CurlTransportConfiguration/maxConcurrentRequests`` dedicated
/// worker threads (named `pd-curl-N`, short because Linux keeps at most 15 characters of a thread name), never on
/// the Swift cooperative pool or an event loop. Each worker keeps one curl handle for its whole life, so connections
/// (and TLS sessions) are reused between requests.
///
/// Every request: TLS ≥ 1.2, peer and host verification on, http/https only, redirects never followed, no signals
/// (`CURLOPT_NOSIGNAL`), connect and total timeouts from the configuration, and proxies taken from the environment
/// (`https_proxy`, `http_proxy`, `no_proxy`, read by libcurl because `CURLOPT_PROXY` is left unset).
///
/// Errors: a total or connect timeout becomes ``TransportError/Kind/timeout``; anything else without an HTTP answer
/// becomes ``TransportError/Kind/network``. The reason is libcurl's error text, which never holds the request body.
public final class CurlHTTPTransport: Sendable {
    /// The prefix of every worker thread's name.
    public static let workerThreadNamePrefix = "pd-curl-"

    /// The configuration the transport was created with.
    public let configuration: CurlTransportConfiguration
    private let queue: CurlJobQueue

    /// Starts the worker threads.
    public init(configuration: CurlTransportConfiguration) {
        self.configuration = configuration
        let workerCount = max(1, configuration.maxConcurrentRequests)
        self.queue = CurlJobQueue(workerCount: workerCount)
        for index in 1...workerCount {
            let worker = CurlWorker(
                name: Self.workerThreadNamePrefix + String(index),
                queue: queue,
                configuration: configuration
            )
            let thread = Thread { worker.run() }
            thread.name = worker.name
            thread.start()
        }
    }

    deinit {
        queue.close()
    }

    /// Stops the worker threads once their current transfer ends; requests still waiting fail as network errors.
    /// Calling it more than once is harmless. Dropping the last reference to the transport does the same.
    public func shutdown() {
        queue.close()
    }

    /// POSTs `body` to `url` on a worker thread and returns the answer.
    /// Cancelling the calling task aborts the transfer (it then fails as a network error).
    public func post(url: String, headers: [(String, String)], body: [UInt8]) async throws(TransportError) -> HTTPResponse {
        try await perform(url: url, headers: headers, method: .post(body))
    }

    /// GETs `url` on a worker thread and returns the answer, under the same rules as ``post(url:headers:body:)``:
    /// TLS ≥ 1.2 with verification, timeouts, proxies from the environment, no redirects, body size limit, and
    /// cancellation of the calling task aborting the transfer.
    public func get(url: String, headers: [(String, String)]) async throws(TransportError) -> HTTPResponse {
        try await perform(url: url, headers: headers, method: .get)
    }

    /// DELETEs `url` (no request body) on a worker thread and returns the answer, under the same rules as
    /// ``post(url:headers:body:)``. The method is set for this request only: the worker's reused handle goes back
    /// to plain GET/POST for the next one.
    public func delete(url: String, headers: [(String, String)]) async throws(TransportError) -> HTTPResponse {
        try await perform(url: url, headers: headers, method: .delete)
    }

    /// Runs one request on a worker thread.
    private func perform(url: String, headers: [(String, String)], method: CurlMethod) async throws(TransportError) -> HTTPResponse {
        let cancellation = CurlCancellationFlag()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<HTTPResponse, TransportError>, Never>) in
                let job = CurlJob(url: url, headers: headers, method: method, cancellation: cancellation, continuation: continuation)
                queue.submit(job)
            }
        } onCancel: {
            cancellation.cancel()
        }
        return try result.get()
    }
}

/// libcurl's process-wide initialisation, run exactly once (Swift initialises static lets atomically).
enum CurlGlobal {
    static let isInitialized: Bool = pdp_curl_global_init() == CURLE_OK
}

/// Set when the task waiting for a request is cancelled.
final class CurlCancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// The method of one request, with the body of a POST.
enum CurlMethod: Sendable {
    case get
    case post([UInt8])
    /// DELETE without a request body.
    case delete
}

/// One request waiting for, or running on, a worker.
final class CurlJob: Sendable {
    let url: String
    let headers: [(String, String)]
    let method: CurlMethod
    let cancellation: CurlCancellationFlag
    private let continuation: CheckedContinuation<Result<HTTPResponse, TransportError>, Never>

    init(
        url: String,
        headers: [(String, String)],
        method: CurlMethod,
        cancellation: CurlCancellationFlag,
        continuation: CheckedContinuation<Result<HTTPResponse, TransportError>, Never>
    ) {
        self.url = url
        self.headers = headers
        self.method = method
        self.cancellation = cancellation
        self.continuation = continuation
    }

    /// Hands the outcome to the waiting task. Called exactly once per job.
    func finish(_ result: Result<HTTPResponse, TransportError>) {
        continuation.resume(returning: result)
    }
}

/// The lock-protected queue between callers and worker threads. Workers block on a semaphore, never a Swift task.
final class CurlJobQueue: Sendable {
    private struct State {
        var jobs: [CurlJob] = []
        var isClosed = false
    }

    private let state = Mutex(State())
    private let jobsAvailable = DispatchSemaphore(value: 0)
    private let workerCount: Int

    /// Creates a queue served by `workerCount` worker threads.
    init(workerCount: Int) {
        self.workerCount = workerCount
    }

    /// Queues `job`, or fails it at once when the transport was shut down.
    func submit(_ job: CurlJob) {
        let accepted = state.withLock { state -> Bool in
            guard !state.isClosed else { return false }
            state.jobs.append(job)
            return true
        }
        if accepted {
            jobsAvailable.signal()
        } else {
            job.finish(.failure(TransportError(kind: .network, reason: "the HTTP transport was shut down")))
        }
    }

    /// Blocks the calling worker thread until a job arrives; nil once the queue is closed.
    func next() -> CurlJob? {
        while true {
            jobsAvailable.wait()
            let outcome = state.withLock { state -> (job: CurlJob?, closed: Bool) in
                if state.isClosed { return (nil, true) }
                if state.jobs.isEmpty { return (nil, false) }
                return (state.jobs.removeFirst(), false)
            }
            if outcome.closed { return nil }
            if let job = outcome.job { return job }
        }
    }

    /// Refuses new jobs, fails the waiting ones, and wakes every worker so it can exit.
    func close() {
        let pending = state.withLock { state -> [CurlJob]? in
            guard !state.isClosed else { return nil }
            state.isClosed = true
            defer { state.jobs.removeAll() }
            return state.jobs
        }
        guard let pending else { return }
        for job in pending {
            job.finish(.failure(TransportError(kind: .network, reason: "the HTTP transport was shut down")))
        }
        for _ in 0..<workerCount {
            jobsAvailable.signal()
        }
    }
}
