import Foundation

/// The time source of the publisher: wall time for what is stored and sent, monotonic time for waiting and
/// rate limiting. Injected so tests control time instead of sleeping.
public protocol PublisherClock: Sendable {
    /// Wall-clock time, for timestamps that are stored or sent.
    var now: Date { get }
    /// Monotonic time since an arbitrary origin; never jumps backwards.
    var uptime: Duration { get }
    /// Suspends for `duration` of monotonic time; throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
}

/// The real clock.
public struct SystemClock: PublisherClock {
    private let origin = ContinuousClock.now

    public init() {}

    public var now: Date { Date() }

    public var uptime: Duration { ContinuousClock.now - origin }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
