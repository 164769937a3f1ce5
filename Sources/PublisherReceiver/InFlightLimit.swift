import Synchronization

/// Counts the webhooks and change events being read, decoded or stored, and refuses one past the limit.
///
/// Each admitted request holds one place from the moment its head passed the checks until it is answered, so the
/// bodies buffered at once and the entries waiting in the storage's group commit are bounded by the limit.
final class InFlightLimit: Sendable {
    /// The most requests in flight at once.
    let limit: Int
    private let count = Mutex(0)

    init(limit: Int) {
        precondition(limit > 0, "the in-flight limit must be positive")
        self.limit = limit
    }

    /// The requests in flight now.
    var current: Int {
        count.withLock { $0 }
    }

    /// Takes a place and returns `true`, or returns `false` when all ``limit`` places are taken.
    func tryEnter() -> Bool {
        count.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    /// Gives back a place taken by ``tryEnter()``.
    func leave() {
        count.withLock { $0 -= 1 }
    }
}
