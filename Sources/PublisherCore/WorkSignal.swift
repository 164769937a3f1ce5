import Synchronization

/// Wakes a dispatcher lane when new work is stored for one of its routes, so delivery starts at once instead of
/// at the next poll. A notification with no lane waiting for that route is remembered until a lane next waits
/// for it.
public final class WorkSignal: Sendable {
    private struct Waiter {
        var routes: Set<String>
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        /// Routes notified while nobody waited for them.
        var pending: Set<String> = []
        var waiters: [Int: Waiter] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    /// The key notified when the set of routes changed (a configuration reload), so the dispatcher starts lanes
    /// for new routes and routing keys. No route can have this name.
    public static let routesChanged = "\u{0}routes-changed"

    public init() {}

    /// Tells the lane of `route` that work is waiting: wakes every task waiting for `route`, or, when none waits,
    /// remembers it for the next.
    public func notify(route: String) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let ids = state.waiters.compactMap { $0.value.routes.contains(route) ? $0.key : nil }
            if ids.isEmpty {
                state.pending.insert(route)
                return []
            }
            return ids.compactMap { state.waiters.removeValue(forKey: $0)?.continuation }
        }
        for continuation in woken { continuation.resume() }
    }

    /// Whether `route` was notified while nobody waited for it (the next wait for it returns at once).
    public func hasPendingWork(route: String) -> Bool {
        state.withLock { $0.pending.contains(route) }
    }

    /// Returns when `route` is notified (at once if it was while nobody waited), or when the task is cancelled.
    public func wait(route: String) async {
        await wait(routes: [route])
    }

    /// Returns when any of `routes` is notified (at once if one was while nobody waited; that notice is consumed),
    /// or when the task is cancelled. With no routes it returns only when the task is cancelled.
    public func wait(routes: Set<String>) async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    let notified = state.pending.intersection(routes)
                    if !notified.isEmpty || Task.isCancelled {
                        state.pending.subtract(notified)
                        return true
                    }
                    state.waiters[id] = Waiter(routes: routes, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume()
        }
    }
}
