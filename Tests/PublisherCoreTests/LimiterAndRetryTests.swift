import PublisherCore
import Testing

@Suite("Rate limiter", .timeLimit(.minutes(2)))
struct SlidingWindowLimiterTests {
    /// Simulates a lane with unlimited demand: each request takes `latency`; returns request finish times.
    func simulate(limit: Int, latency: Duration, for total: Duration) -> [Duration] {
        var limiter = SlidingWindowLimiter(limit: limit)
        var now = Duration.zero
        var finishes: [Duration] = []
        while now < total {
            now += limiter.delay(at: now)
            guard now < total else { break }
            now += latency
            limiter.recordRequest(finishedAt: now)
            finishes.append(now)
        }
        return finishes
    }

    @Test(arguments: [(120, Duration.milliseconds(80)), (120, .zero), (10, .milliseconds(500)), (1, .milliseconds(20))])
    func neverMoreThanTheLimitInAnyWindow(limit: Int, latency: Duration) {
        let finishes = simulate(limit: limit, latency: latency, for: .seconds(600))
        // A request counts from the moment it starts (finish - latency) at PagerDuty; check every window that
        // starts at a request start.
        let starts = finishes.map { $0 - latency }
        for (index, start) in starts.enumerated() {
            let inWindow = starts[index...].prefix { $0 < start + .seconds(60) }.count
            #expect(inWindow <= limit, "window from \(start) holds \(inWindow) requests")
        }
    }

    @Test func sustainsAtLeast98PercentOfTheLimit() {
        let limit = 120
        let finishes = simulate(limit: limit, latency: .milliseconds(100), for: .seconds(600))
        let perMinute = Double(finishes.count) / 10
        #expect(perMinute >= 0.98 * Double(limit), "sustained \(perMinute) per minute")
    }

    @Test func allowsABurstUpToTheLimitThenWaitsForTheOldest() {
        var limiter = SlidingWindowLimiter(limit: 3)
        for second in 0..<3 {
            #expect(limiter.delay(at: .seconds(second)) == .zero)
            limiter.recordRequest(finishedAt: .seconds(second))
        }
        #expect(limiter.delay(at: .seconds(3)) == .seconds(57), "the first token returns 60 s after it was spent")
        #expect(limiter.delay(at: .seconds(60)) == .zero)
    }
}

@Suite("Retry backoff", .timeLimit(.minutes(2)))
struct RetryPolicyTests {
    /// A small deterministic generator (SplitMix64), so a seed fixes the jitter.
    struct SeededRandom: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func growsExponentiallyAndCaps() {
        let policy = RetryPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(60), multiplier: 2, jitter: 0)
        var random = SystemRandomNumberGenerator()
        let delays = (1...10).map { policy.delay(forAttempt: $0, using: &random) }
        #expect(delays.prefix(7) == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32), .seconds(60)])
        #expect(delays.dropFirst(6).allSatisfy { $0 == .seconds(60) })
        #expect(policy.delay(forAttempt: 10_000, using: &random) == .seconds(60), "no overflow after many attempts")
    }

    @Test func jitterStaysWithinItsShare() {
        let policy = RetryPolicy(initialDelay: .seconds(8), maximumDelay: .seconds(60), multiplier: 2, jitter: 0.5)
        var random = SystemRandomNumberGenerator()
        var seen: Set<Duration> = []
        for _ in 0..<200 {
            let delay = policy.delay(forAttempt: 1, using: &random)
            #expect(delay >= .seconds(4) && delay <= .seconds(8))
            seen.insert(delay)
        }
        #expect(seen.count > 10, "jitter spreads retries")
    }

    @Test func jitterIsDrawnFromTheGivenGenerator() {
        let policy = RetryPolicy(initialDelay: .seconds(10), maximumDelay: .seconds(60), multiplier: 2, jitter: 1)
        func delays(seed: UInt64) -> [Duration] {
            var random = SeededRandom(state: seed)
            return (1...8).map { policy.delay(forAttempt: $0, using: &random) }
        }
        #expect(delays(seed: 7) == delays(seed: 7), "the same generator state gives the same delays")
        #expect(delays(seed: 7) != delays(seed: 8))
        #expect(delays(seed: 7).allSatisfy { $0 >= .zero && $0 <= .seconds(60) })
    }
}
