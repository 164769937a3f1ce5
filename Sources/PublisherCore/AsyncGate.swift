import Synchronization

/// A first-in, first-out lock for async code: one holder at a time, waiters resume in arrival order, and no
/// thread blocks while waiting.
public final class AsyncGate: Sendable {
    private struct State {
        var isHeld = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Runs `body` while holding the gate.
    public func withGate<T: Sendable, Failure: Error>(
        _ body: () async throws(Failure) -> sending T
    ) async throws(Failure) -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        let acquired = state.withLock { state -> Bool in
            guard !state.isHeld else { return false }
            state.isHeld = true
            return true
        }
        if acquired { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if !state.isHeld {
                    state.isHeld = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.nextWaiter < state.waiters.count else {
                state.waiters.removeAll(keepingCapacity: true)
                state.nextWaiter = 0
                state.isHeld = false
                return nil
            }
            let waiter = state.waiters[state.nextWaiter]
            state.nextWaiter += 1
            return waiter  // ownership passes to the waiter: isHeld stays true
        }
        next?.resume()
    }
}
