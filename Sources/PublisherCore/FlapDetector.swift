import Foundation
import Synchronization

/// When an alert counts as flapping, and whether its resolves are held back.
public struct FlapPolicy: Sendable, Hashable {
    /// An alert that resolves more than this many times within ``window`` is flapping; `nil` turns detection off.
    public var threshold: Int?
    /// The look-back window of ``threshold``.
    public var window: Duration
    /// Damping: a flapping alert's resolve waits this long and is dropped if the alert fires again meanwhile,
    /// so it keeps one incident instead of paging again and again. `nil` sends resolves at once.
    public var resolveHold: Duration?

    public init(threshold: Int? = 5, window: Duration = .seconds(3600), resolveHold: Duration? = nil) {
        self.threshold = threshold
        self.window = window
        self.resolveHold = resolveHold
    }

    /// Detection off, no damping.
    public static let off = FlapPolicy(threshold: nil)
}

/// Counts each alert's fire→resolve cycles over a sliding window and says which alerts are flapping.
///
/// Kept in memory only: after a restart an alert must flap again before it counts (the ledger still holds any
/// resolve that was being held).
public final class FlapDetector: Sendable {
    /// The policy in force.
    public let policy: FlapPolicy
    private let resolves = Mutex<[LedgerKey: [Date]]>([:])

    public init(policy: FlapPolicy) {
        self.policy = policy
    }

    /// Records that `key`'s alert resolved at `date`. Returns whether it is flapping now, and whether it just
    /// started to (for a single log line per episode).
    public func recordResolve(of key: LedgerKey, at date: Date) -> (isFlapping: Bool, started: Bool) {
        guard let threshold = policy.threshold else { return (false, false) }
        let cutoff = date.addingTimeInterval(-policy.window.seconds)
        return resolves.withLock { resolves in
            var times = resolves[key, default: []].filter { $0 > cutoff }
            let wasFlapping = times.count > threshold
            times.append(date)
            resolves[key] = times
            let isFlapping = times.count > threshold
            return (isFlapping, isFlapping && !wasFlapping)
        }
    }

    /// Whether `key`'s alert is flapping at `date`.
    public func isFlapping(_ key: LedgerKey, at date: Date) -> Bool {
        guard let threshold = policy.threshold else { return false }
        let cutoff = date.addingTimeInterval(-policy.window.seconds)
        return resolves.withLock { resolves in
            (resolves[key] ?? []).filter { $0 > cutoff }.count > threshold
        }
    }

    /// How many alerts are flapping at `date`; forgets alerts with no resolve in the window.
    public func flappingCount(at date: Date) -> Int {
        guard let threshold = policy.threshold else { return 0 }
        let cutoff = date.addingTimeInterval(-policy.window.seconds)
        return resolves.withLock { resolves in
            var flapping = 0
            for (key, times) in resolves {
                let recent = times.filter { $0 > cutoff }
                if recent.isEmpty {
                    resolves[key] = nil
                } else {
                    if recent.count != times.count { resolves[key] = recent }
                    if recent.count > threshold { flapping += 1 }
                }
            }
            return flapping
        }
    }
}
