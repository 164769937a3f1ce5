import CCurl
import Foundation

/// One worker thread's loop: takes jobs from the queue and performs them with its own, reused curl handle.
final class CurlWorker: Sendable {
    let name: String
    private let queue: CurlJobQueue
    private let configuration: CurlTransportConfiguration

    init(name: String, queue: CurlJobQueue, configuration: CurlTransportConfiguration) {
        self.name = name
        self.queue = queue
        self.configuration = configuration
    }

    /// Runs until the queue closes. Must be called on the worker's own thread.
    func run() {
        // Named from inside: on Linux only the running thread can set its own (kernel-visible) name.
        Thread.current.name = name
        guard CurlGlobal.isInitialized, let handle = curl_easy_init() else {
            let reason = CurlGlobal.isInitialized ? "could not create a libcurl handle" : "libcurl failed to initialise"
            while let job = queue.next() {
                job.finish(.failure(TransportError(kind: .network, reason: reason)))
            }
            return
        }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        defer {
            curl_easy_cleanup(handle)
            errorBuffer.deallocate()
        }
        let transfer = CurlTransfer(handle: handle, errorBuffer: errorBuffer, configuration: configuration)
        while let job = queue.next() {
            if job.cancellation.isCancelled {
                job.finish(.failure(TransportError(kind: .network, reason: "the request was cancelled before it started")))
                continue
            }
            configuration.onWorkerPerform?(name)
            job.finish(transfer.perform(job))
        }
    }
}

/// Performs one request on a curl handle; the handle is reset afterwards but keeps its live connections.
struct CurlTransfer {
    let handle: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>
    let configuration: CurlTransportConfiguration

    func perform(_ job: CurlJob) -> Result<HTTPResponse, TransportError> {
        defer { curl_easy_reset(handle) }
        errorBuffer[0] = 0
        let collector = CurlResponseCollector(maxBodyBytes: configuration.maxResponseBodyBytes, cancellation: job.cancellation)
        let collectorPointer = Unmanaged.passRetained(collector)
        defer { collectorPointer.release() }

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in job.headers {
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        // No `Expect: 100-continue` round trip before larger bodies.
        headerList = curl_slist_append(headerList, "Expect:")
        defer { curl_slist_free_all(headerList) }

        let code: CURLcode
        switch job.method {
        case .get:
            code = get(url: job.url, headers: headerList, collector: collectorPointer.toOpaque())
        case .post(let body):
            code = post(body, url: job.url, headers: headerList, collector: collectorPointer.toOpaque())
        case .delete:
            code = delete(url: job.url, headers: headerList, collector: collectorPointer.toOpaque())
        }
        guard code == CURLE_OK else {
            return .failure(error(for: code, collector: collector))
        }
        var status = 0
        _ = pdp_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: collector.headers, body: collector.body))
    }

    /// Performs a GET (no request body).
    private func get(url: String, headers: UnsafeMutablePointer<curl_slist>?, collector: UnsafeMutableRawPointer) -> CURLcode {
        let setup = first(
            configure(url: url, headers: headers, collector: collector),
            pdp_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
        )
        guard setup == CURLE_OK else { return setup }
        return curl_easy_perform(handle)
    }

    /// Performs a DELETE: a GET (no request body, the answer's body read) whose request line says DELETE.
    /// `CURLOPT_CUSTOMREQUEST` stays on the handle until `curl_easy_reset` after the transfer, and ``configure``
    /// clears it before every request as well, so a later GET or POST on this handle is never sent as DELETE.
    private func delete(url: String, headers: UnsafeMutablePointer<curl_slist>?, collector: UnsafeMutableRawPointer) -> CURLcode {
        let setup = first(
            configure(url: url, headers: headers, collector: collector),
            pdp_curl_setopt_long(handle, CURLOPT_HTTPGET, 1),
            pdp_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, "DELETE")
        )
        guard setup == CURLE_OK else { return setup }
        return curl_easy_perform(handle)
    }

    /// Performs a POST of `body`; libcurl reads the bytes in place, so they stay pinned for the whole transfer.
    private func post(
        _ body: [UInt8], url: String, headers: UnsafeMutablePointer<curl_slist>?, collector: UnsafeMutableRawPointer
    ) -> CURLcode {
        body.withUnsafeBufferPointer { bodyBytes -> CURLcode in
            let setup = first(
                configure(url: url, headers: headers, collector: collector),
                pdp_curl_setopt_long(handle, CURLOPT_POST, 1)
            )
            guard setup == CURLE_OK else { return setup }
            var emptyBody: UInt8 = 0
            return withUnsafeMutablePointer(to: &emptyBody) { emptyPointer in
                let bodyPointer = bodyBytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                    ?? UnsafeMutableRawPointer(emptyPointer)
                let bodySetup = first(
                    pdp_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, bodyPointer),
                    pdp_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bodyBytes.count))
                )
                guard bodySetup == CURLE_OK else { return bodySetup }
                return curl_easy_perform(handle)
            }
        }
    }

    /// The options every request shares, whatever its method.
    private func configure(url: String, headers: UnsafeMutablePointer<curl_slist>?, collector: UnsafeMutableRawPointer) -> CURLcode {
        var codes: [CURLcode] = [
            pdp_curl_setopt_string(handle, CURLOPT_URL, url),
            // The method comes from CURLOPT_HTTPGET / CURLOPT_POST unless a DELETE sets it again afterwards.
            pdp_curl_setopt_pointer(handle, CURLOPT_CUSTOMREQUEST, nil),
            pdp_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers),
            pdp_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer),
            pdp_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1),
            pdp_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout)),
            pdp_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.milliseconds(configuration.totalTimeout)),
            pdp_curl_require_tls12(handle),
            pdp_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1),
            pdp_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2),
            pdp_curl_allow_only_http_protocols(handle),
            pdp_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0),
            pdp_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1),
            pdp_curl_setopt_string(handle, CURLOPT_USERAGENT, configuration.userAgent),
            pdp_curl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION, curlWriteBody),
            pdp_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, collector),
            pdp_curl_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION, curlWriteHeader),
            pdp_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, collector),
            pdp_curl_set_progress_callback(handle, curlProgress, collector),
        ]
        if let caInfo = configuration.caInfo {
            codes.append(pdp_curl_setopt_string(handle, CURLOPT_CAINFO, caInfo))
        }
        return first(codes)
    }

    private func error(for code: CURLcode, collector: CurlResponseCollector) -> TransportError {
        let summary = String(cString: curl_easy_strerror(code))
        let detail = String(cString: errorBuffer).trimmingCharacters(in: .whitespacesAndNewlines)
        var reason = "curl error \(code.rawValue) (\(summary))"
        if !detail.isEmpty && detail != summary { reason += ": " + detail }
        if collector.bodyTooLarge {
            reason = "response body larger than \(configuration.maxResponseBodyBytes) bytes (\(reason))"
        }
        if code == CURLE_ABORTED_BY_CALLBACK && collector.cancellation.isCancelled {
            reason = "the request was cancelled (\(reason))"
        }
        return TransportError(kind: code == CURLE_OPERATION_TIMEDOUT ? .timeout : .network, reason: reason)
    }

    private func first(_ codes: CURLcode...) -> CURLcode { first(codes) }

    private func first(_ codes: [CURLcode]) -> CURLcode {
        codes.first { $0 != CURLE_OK } ?? CURLE_OK
    }

    /// A duration in whole milliseconds, at least 1 (0 would mean "no timeout" to libcurl).
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let total = seconds.multipliedReportingOverflow(by: 1000)
        guard !total.overflow else { return Int.max }
        return max(1, Int(total.partialValue + attoseconds / 1_000_000_000_000_000))
    }
}

/// Collects one response's headers and body from libcurl's callbacks (all on the worker thread).
final class CurlResponseCollector {
    let maxBodyBytes: Int
    let cancellation: CurlCancellationFlag
    private(set) var headers: [String: String] = [:]
    private(set) var body: [UInt8] = []
    private(set) var bodyTooLarge = false

    init(maxBodyBytes: Int, cancellation: CurlCancellationFlag) {
        self.maxBodyBytes = maxBodyBytes
        self.cancellation = cancellation
    }

    /// Appends body bytes; false when the body would exceed the limit.
    func appendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= maxBodyBytes else {
            bodyTooLarge = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// Takes one raw header line. A status line starts a new response (after `100 Continue`), so it clears the
    /// headers collected so far.
    func addHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            headers = [:]
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { return }
        if let existing = headers[name] {
            headers[name] = existing + ", " + value
        } else {
            headers[name] = value
        }
    }
}

/// CURLOPT_WRITEFUNCTION: returning less than the bytes given aborts the transfer.
private let curlWriteBody: curl_write_callback = { data, size, count, context in
    guard let context else { return 0 }
    let collector = Unmanaged<CurlResponseCollector>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard length > 0, let data else { return 0 }
    return collector.appendBody(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

/// CURLOPT_HEADERFUNCTION: one call per header line, status line included.
private let curlWriteHeader: curl_write_callback = { data, size, count, context in
    let length = size * count
    guard let context, let data else { return length }
    let collector = Unmanaged<CurlResponseCollector>.fromOpaque(context).takeUnretainedValue()
    collector.addHeaderLine(UnsafeRawBufferPointer(start: data, count: length))
    return length
}

/// CURLOPT_XFERINFOFUNCTION: aborts the transfer once the waiting task is cancelled.
private let curlProgress: curl_xferinfo_callback = { context, _, _, _, _ in
    guard let context else { return 0 }
    let collector = Unmanaged<CurlResponseCollector>.fromOpaque(context).takeUnretainedValue()
    return collector.cancellation.isCancelled ? 1 : 0
}
