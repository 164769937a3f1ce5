/// Exponential backoff with jitter for failed deliveries, capped, with no attempt limit: an event is retried
/// until PagerDuty takes or refuses it.
public struct RetryPolicy: Sendable, Hashable {
    /// The delay before the first retry.
    public var initialDelay: Duration
    /// The longest delay.
    public var maximumDelay: Duration
    /// The growth factor per attempt.
    public var multiplier: Double
    /// The share of each delay that is random (0 = none, 1 = anywhere from zero to the full delay).
    public var jitter: Double

    public init(
        initialDelay: Duration = .seconds(1),
        maximumDelay: Duration = .seconds(60),
        multiplier: Double = 2,
        jitter: Double = 0.5
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = multiplier
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The delay before retry number `attempt` (1 for the first retry), with `random` drawing the jitter.
    public func delay(forAttempt attempt: Int, using random: inout some RandomNumberGenerator) -> Duration {
        let exponent = Double(max(attempt, 1) - 1)
        let initial = initialDelay.seconds
        let ceiling = maximumDelay.seconds
        let base = min(ceiling, initial * pow(multiplier, min(exponent, 64)))
        let randomShare = jitter > 0 ? Double.random(in: 0...jitter, using: &random) : 0
        let seconds = base * (1 - randomShare)
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 {
        result *= base
        remaining -= 1
        if result > 1e12 { break }
    }
    return result
}
