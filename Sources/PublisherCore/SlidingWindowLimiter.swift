/// A token bucket whose tokens come back one window after they were spent: it never lets more than `limit`
/// requests through in any window, which is how PagerDuty counts (per routing key, over a 60-second look-back).
///
/// A bucket that allows `limit` at once and then refills at `limit / window` could exceed that: this one
/// remembers when each of the last `limit` requests finished. A request may start when fewer than `limit`
/// finished within the window; recording the finish (not the start) keeps a margin for network latency, since
/// PagerDuty counted each request before its answer came back.
public struct SlidingWindowLimiter: Sendable {
    /// Requests allowed in any window.
    public let limit: Int
    /// The look-back window.
    public let window: Duration
    // The finish times of the last `limit` requests, oldest at `next` once the ring is full.
    private var finishes: [Duration] = []
    private var next = 0

    public init(limit: Int, window: Duration = .seconds(60)) {
        precondition(limit > 0, "a rate limit must allow at least one request")
        self.limit = limit
        self.window = window
        finishes.reserveCapacity(limit)
    }

    /// How long to wait at monotonic time `now` before the next request may start; zero when it may start now.
    public func delay(at now: Duration) -> Duration {
        guard finishes.count == limit else { return .zero }
        let oldest = finishes[next]
        let available = oldest + window
        return available > now ? available - now : .zero
    }

    /// Records a request that finished at monotonic time `now`.
    public mutating func recordRequest(finishedAt now: Duration) {
        if finishes.count < limit {
            finishes.append(now)
        } else {
            finishes[next] = now
            next = (next + 1) % limit
        }
    }
}
