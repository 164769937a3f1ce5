import Synchronization

/// Group commit for async callers: jobs submitted while a batch is being processed wait, and are then processed
/// together as the next batch, by one of their own submitters (the leader). So a durable write whose cost is
/// mostly one `fsync` is paid once per batch instead of once per job, and no extra task or thread is needed.
///
/// Jobs are processed in submission order, one batch at a time, never concurrently. The first submitter with
/// nothing in progress leads at once; when a batch ends, the oldest waiting submitter leads the next one. Each
/// submitter gets the outcome of its own job.
public final class GroupCommit<Job: Sendable, Outcome: Sendable>: Sendable {
    private enum Turn {
        case finished(Outcome)
        case lead
    }

    private struct Waiter {
        var id: UInt64
        var job: Job
        var continuation: CheckedContinuation<Turn, Never>
    }

    private struct State {
        var queue: [Waiter] = []
        var isLeading = false
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())
    /// The most jobs one batch takes; the rest wait for the next one.
    public let maximumBatchSize: Int

    /// - Parameter maximumBatchSize: the most jobs processed together (at least 1).
    public init(maximumBatchSize: Int) {
        self.maximumBatchSize = max(1, maximumBatchSize)
    }

    /// How many submitted jobs wait for a batch: those not in the batch being processed.
    public var waitingJobs: Int {
        state.withLock { state in state.queue.count }
    }

    /// Submits `job` and returns its outcome once the batch holding it was processed.
    ///
    /// - Parameter process: processes a batch: it gets the jobs in submission order and must return one outcome
    ///   per job, in the same order. It runs on the task of whichever submitter leads that batch.
    public func submit(_ job: Job, process: ([Job]) async -> [Outcome]) async -> Outcome {
        var ownID: UInt64 = 0
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let leadNow = state.withLock { state -> Bool in
                ownID = state.nextID
                state.nextID &+= 1
                state.queue.append(Waiter(id: ownID, job: job, continuation: continuation))
                guard !state.isLeading else { return false }
                state.isLeading = true
                return true
            }
            if leadNow { continuation.resume(returning: .lead) }
        }
        if case .finished(let outcome) = turn { return outcome }
        return await lead(ownID: ownID, process: process)
    }

    /// Processes the batch at the head of the queue (which holds the leader's own job), hands each waiter its
    /// outcome, and hands the lead to the oldest waiter left, if any.
    private func lead(ownID: UInt64, process: ([Job]) async -> [Outcome]) async -> Outcome {
        let batch = state.withLock { state -> [Waiter] in
            let count = min(state.queue.count, maximumBatchSize)
            let batch = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            return batch
        }
        let outcomes = await process(batch.map(\.job))
        precondition(outcomes.count == batch.count, "GroupCommit: process must return one outcome per job")
        let nextLeader = state.withLock { state -> Waiter? in
            guard let next = state.queue.first else {
                state.isLeading = false
                return nil
            }
            return next
        }
        var own: Outcome?
        for (waiter, outcome) in zip(batch, outcomes) {
            if waiter.id == ownID {
                own = outcome
            } else {
                waiter.continuation.resume(returning: .finished(outcome))
            }
        }
        nextLeader?.continuation.resume(returning: .lead)
        guard let own else { preconditionFailure("GroupCommit: the leader's job was not in its batch") }
        return own
    }
}
