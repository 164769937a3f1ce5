import Synchronization

/// What a test OTLP receiver was sent: every export's raw bytes, the spans decoded from them, the path and
/// `Content-Type` of each call, and the calls that could not be decoded.
public final class ReceivedExports: Sendable {
    private struct State {
        var raw: [[UInt8]] = []
        var spans: [ReceivedSpan] = []
        var contentTypes: [String] = []
        var paths: [String] = []
        var errors: [String] = []
    }

    private let state = Mutex(State())

    init() {}

    /// Keeps one call's messages and the spans decoded from them.
    func record(messages: [[UInt8]], spans: [ReceivedSpan], path: String, contentType: String) {
        state.withLock { state in
            state.raw += messages
            state.spans += spans
            state.paths.append(path)
            state.contentTypes.append(contentType)
        }
    }

    /// Keeps why a call could not be decoded.
    func recordUndecodable(_ error: any Error) {
        state.withLock { $0.errors.append("\(error)") }
    }

    var spans: [ReceivedSpan] { state.withLock { $0.spans } }
    var raw: [[UInt8]] { state.withLock { $0.raw } }
    var contentTypes: [String] { state.withLock { $0.contentTypes } }
    var paths: [String] { state.withLock { $0.paths } }
    var errors: [String] { state.withLock { $0.errors } }
}

/// A loopback OTLP receiver of the tests (OTLP/HTTP or OTLP/gRPC), read through what it was sent.
public protocol OTLPTestReceiver: Sendable {
    /// What the receiver was sent.
    var exports: ReceivedExports { get }
}

extension OTLPTestReceiver {
    /// Every span received so far.
    public var spans: [ReceivedSpan] { exports.spans }
    /// The messages received (an HTTP body, or a gRPC message without its prefix), as received.
    public var rawBodies: [[UInt8]] { exports.raw }
    /// The `Content-Type` of each call.
    public var contentTypes: [String] { exports.contentTypes }
    /// The path of each call.
    public var paths: [String] { exports.paths }
    /// Calls that could not be decoded.
    public var errors: [String] { exports.errors }

    /// Whether `text` occurs anywhere in what was received.
    public func receivedBytesContain(_ text: String) -> Bool {
        let needle = Array(text.utf8)
        return rawBodies.contains { body in
            guard body.count >= needle.count, !needle.isEmpty else { return false }
            return (0...(body.count - needle.count)).contains { start in body[start..<start + needle.count].elementsEqual(needle) }
        }
    }

    /// Polls until `condition` holds on the spans received, for at most `timeout`; returns the spans then.
    public func waitForSpans(
        timeout: Duration = .seconds(20), until condition: ([ReceivedSpan]) -> Bool
    ) async throws -> [ReceivedSpan] {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            let spans = self.spans
            if condition(spans) || clock.now >= deadline { return spans }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
