import Synchronization

/// Wakes a dispatcher lane when new work is stored for its route, so delivery starts at once instead of at the
/// next poll. A notification with no lane waiting is remembered until the lane next waits.
public final class WorkSignal: Sendable {
    private struct LaneState {
        var isPending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let lanes = Mutex<[String: LaneState]>([:])

    /// The key notified when the set of routes changed (a configuration reload), so the dispatcher starts lanes
    /// for new routes. No route can have this name.
    public static let routesChanged = "\u{0}routes-changed"

    public init() {}

    /// Tells `route`'s lane that work is waiting.
    public func notify(route: String) {
        let waiter = lanes.withLock { lanes -> CheckedContinuation<Void, Never>? in
            var state = lanes[route] ?? LaneState()
            defer { lanes[route] = state }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.isPending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns when `route` is notified (at once if it was while nobody waited), or when the task is cancelled.
    public func wait(route: String) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = lanes.withLock { lanes -> Bool in
                    var state = lanes[route] ?? LaneState()
                    defer { lanes[route] = state }
                    if state.isPending || Task.isCancelled {
                        state.isPending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = lanes.withLock { lanes -> CheckedContinuation<Void, Never>? in
                let waiter = lanes[route]?.waiter
                lanes[route]?.waiter = nil
                return waiter
            }
            waiter?.resume()
        }
    }
}
