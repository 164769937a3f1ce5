import AlertmanagerModels
import Foundation
import PublisherCore
import Synchronization
import Testing

/// Records the batches a `GroupCommit` processes; the first one can be held until the test opens a latch.
final class BatchRecorder: Sendable {
    private let state = Mutex<(batches: [[Int]], active: Int, maximumActive: Int)>(([], 0, 0))
    let firstBatchLatch: Latch?

    init(holdingFirstBatch: Bool) {
        firstBatchLatch = holdingFirstBatch ? Latch() : nil
    }

    var batches: [[Int]] { state.withLock { $0.batches } }
    var maximumConcurrentBatches: Int { state.withLock { $0.maximumActive } }

    /// Processes a batch: each job's outcome is the job times 10.
    func process(_ jobs: [Int]) async -> [Int] {
        let isFirst = state.withLock { state in
            state.batches.append(jobs)
            state.active += 1
            state.maximumActive = max(state.maximumActive, state.active)
            return state.batches.count == 1
        }
        if isFirst, let firstBatchLatch { await firstBatchLatch.wait() }
        await Task.yield()
        state.withLock { $0.active -= 1 }
        return jobs.map { $0 * 10 }
    }
}

@Suite("Group commit", .timeLimit(.minutes(2)))
struct GroupCommitTests {
    @Test func aLoneJobIsProcessedAloneAndGetsItsOutcome() async {
        let commits = GroupCommit<Int, Int>(maximumBatchSize: 8)
        let recorder = BatchRecorder(holdingFirstBatch: false)
        let outcome = await commits.submit(7) { await recorder.process($0) }
        #expect(outcome == 70)
        #expect(recorder.batches == [[7]])
        #expect(commits.waitingJobs == 0)
    }

    @Test func jobsSubmittedDuringABatchAreProcessedTogetherNextEachWithItsOwnOutcome() async throws {
        let commits = GroupCommit<Int, Int>(maximumBatchSize: 8)
        let recorder = BatchRecorder(holdingFirstBatch: true)
        let latch = try #require(recorder.firstBatchLatch)
        try await withThrowingTaskGroup(of: JobOutcome.self) { group in
            group.addTask { JobOutcome(job: 0, outcome: await commits.submit(0) { await recorder.process($0) }) }
            try await eventually("the first batch to start") { latch.waiterCount == 1 }
            for job in 1...5 {
                group.addTask { JobOutcome(job: job, outcome: await commits.submit(job) { await recorder.process($0) }) }
            }
            try await eventually("five jobs to wait") { commits.waitingJobs == 5 }
            latch.open()
            for try await reply in group {
                #expect(reply.outcome == reply.job * 10, "job \(reply.job) got another job's outcome")
            }
        }
        #expect(recorder.batches.count == 2)
        #expect(recorder.batches.first == [0])
        #expect(recorder.batches.last.map { Set($0) } == Set(1...5))
    }

    @Test func aBatchTakesAtMostTheMaximumAndTheRestFollowInOrder() async throws {
        let commits = GroupCommit<Int, Int>(maximumBatchSize: 2)
        let recorder = BatchRecorder(holdingFirstBatch: true)
        let latch = try #require(recorder.firstBatchLatch)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = await commits.submit(0) { await recorder.process($0) } }
            try await eventually("the first batch to start") { latch.waiterCount == 1 }
            // Submitted one at a time, so the submission order is known.
            for job in 1...5 {
                group.addTask { _ = await commits.submit(job) { await recorder.process($0) } }
                try await eventually("job \(job) to wait") { commits.waitingJobs == job }
            }
            latch.open()
            try await group.waitForAll()
        }
        #expect(recorder.batches == [[0], [1, 2], [3, 4], [5]])
    }

    @Test func manyConcurrentSubmittersEachGetTheirOwnOutcomeAndBatchesNeverOverlap() async {
        let commits = GroupCommit<Int, Int>(maximumBatchSize: 16)
        let recorder = BatchRecorder(holdingFirstBatch: false)
        let outcomes = await withTaskGroup(of: JobOutcome.self) { group in
            for job in 0..<200 {
                group.addTask { JobOutcome(job: job, outcome: await commits.submit(job) { await recorder.process($0) }) }
            }
            var outcomes: [Int: Int] = [:]
            for await reply in group { outcomes[reply.job] = reply.outcome }
            return outcomes
        }
        #expect(outcomes.count == 200)
        #expect(outcomes.allSatisfy { job, outcome in outcome == job * 10 })
        #expect(recorder.batches.flatMap { $0 }.sorted() == Array(0..<200), "every job processed exactly once")
        #expect(recorder.batches.allSatisfy { $0.count <= 16 })
        #expect(recorder.maximumConcurrentBatches == 1)
        #expect(commits.waitingJobs == 0)
    }
}

@Suite("Webhooks stored by group commit", .timeLimit(.minutes(2)))
struct GroupCommitIngestTests {
    typealias H = LifecycleHarness

    /// Sends a webhook of `alert` in a task, after the store started holding commits.
    static func webhookTask(
        _ h: H, _ alert: Alert, groupKey: String = "{}:{alertname=\"DiskFull\"}"
    ) -> Task<Result<IngestResult, IngestError>, Never> {
        Task {
            do {
                return .success(try await h.webhook([alert], groupKey: groupKey))
            } catch let error as IngestError {
                return .failure(error)
            } catch {
                Issue.record("unexpected error \(error)")
                return .failure(.storageUnavailable(reason: "unexpected"))
            }
        }
    }

    /// Starts webhook A, holds its commit, then starts the others, and waits until they queue behind it.
    static func queueBehindAHeldCommit(
        _ h: H, first: Alert, then others: [(Alert, String)]
    ) async throws -> (first: Task<Result<IngestResult, IngestError>, Never>, others: [Task<Result<IngestResult, IngestError>, Never>]) {
        h.store.holdCommits()
        let firstTask = webhookTask(h, first)
        try await eventually("the first commit to be held") { h.store.heldCommitCount == 1 }
        var tasks: [Task<Result<IngestResult, IngestError>, Never>] = []
        for (alert, groupKey) in others {
            tasks.append(webhookTask(h, alert, groupKey: groupKey))
            // One at a time: they queue in the order given (tasks started together may start in any order).
            let waiting = tasks.count
            try await eventually("webhook \(waiting) to wait") { h.publisher.webhooksWaitingForCommit == waiting }
        }
        return (firstTask, tasks)
    }

    @Test func webhooksWaitingBehindACommitAreStoredTogetherInOneTransaction() async throws {
        let h = H()
        let (first, others) = try await Self.queueBehindAHeldCommit(
            h, first: H.alert("a1"), then: [(H.alert("b1"), "{}:{a=\"b\"}"), (H.alert("c1"), "{}:{a=\"c\"}"), (H.alert("a1"), "{}:{}")])
        h.store.releaseHeldCommits()
        #expect(try await first.value.get().queued == 1)
        var queued: [Int] = []
        for task in others { queued.append(try await task.value.get().queued) }
        #expect(queued == [1, 1, 0], "a1 again, from a peer, sees the committed trigger: nothing to queue")
        #expect(h.store.commitSizes == [1, 2], "b1 and c1 share one transaction")
        #expect(h.queuedKinds == [.trigger, .trigger, .trigger])
        #expect(h.entry("b1")?.lastAction == .trigger && h.entry("c1")?.lastAction == .trigger)
    }

    @Test func decisionsOfOneBatchSeeEachOther() async throws {
        let h = H()
        let (first, others) = try await Self.queueBehindAHeldCommit(
            h, first: H.alert("x0"), then: [(H.alert("a1"), "{}:{}"), (H.alert("a1"), "{}:{}"), (H.alert("a1", .resolved), "{}:{}")])
        h.store.releaseHeldCommits()
        _ = await first.value
        var queued: [Int] = []
        for task in others { queued.append(try await task.value.get().queued) }
        #expect(queued == [1, 0, 1], "one trigger for the duplicate, then its resolve")
        #expect(h.store.commitSizes == [1, 2])
        #expect(h.entry("a1")?.lastAction == .resolve)
    }

    @Test func anInvalidWebhookInABatchFailsAloneAndAddsNothing() async throws {
        let h = H(incidentPer: .group)
        let (first, others) = try await Self.queueBehindAHeldCommit(
            h, first: H.alert("x0"), then: [(H.alert("b1"), ""), (H.alert("c1"), "{}:{c=\"1\"}")])
        h.store.releaseHeldCommits()
        _ = await first.value
        guard case .failure(.invalidAlert(let field, _)) = await others[0].value else {
            Issue.record("the webhook without a group key was not refused")
            return
        }
        #expect(field == "groupKey")
        #expect(try await others[1].value.get().queued == 1)
        #expect(h.store.commitSizes == [1, 1])
        #expect(h.ledger.entry(for: LedgerKey(route: "default", dedupKey: DedupKey.ofGroup(""))) == nil)
    }

    @Test func aWebhookFailingAfterSomeOfItsDecisionsLeavesNoneOfThemInTheBatch() async throws {
        let h = H(incidentPer: .group)
        var announcement = H.alert("c1")
        announcement.labels[AlertPublisher.changeEventLabel] = "true"
        h.store.holdCommits()
        let first = Self.webhookTask(h, H.alert("x0"))
        try await eventually("the first commit to be held") { h.store.heldCommitCount == 1 }
        // The change announcement is decided (and queued) before the group, which then fails: no group key.
        let failing = Task { () -> Result<IngestResult, IngestError> in
            do {
                return .success(try await h.webhook([announcement, H.alert("b1")], groupKey: ""))
            } catch let error as IngestError {
                return .failure(error)
            } catch {
                return .failure(.storageUnavailable(reason: "unexpected"))
            }
        }
        let fine = Self.webhookTask(h, H.alert("d1"), groupKey: "{}:{d=\"1\"}")
        try await eventually("the other webhooks to wait") { h.publisher.webhooksWaitingForCommit == 2 }
        h.store.releaseHeldCommits()
        _ = await first.value
        guard case .failure(.invalidAlert(let field, _)) = await failing.value else {
            Issue.record("the webhook without a group key was not refused")
            return
        }
        #expect(field == "groupKey")
        #expect(try await fine.value.get().queued == 1)
        #expect(h.store.commitSizes == [1, 1], "the failed webhook's change event is not stored")
        #expect(!h.queuedKinds.contains(.change))
        #expect(h.entry("c1") == nil, "nor its ledger entry")
    }

    @Test func theCancellationOfTheRequestLeadingABatchFailsNoWebhookOfIt() async throws {
        let h = H()
        h.store.holdCommits()
        let leader = Self.webhookTask(h, H.alert("a1"))
        try await eventually("the first commit to be held") { h.store.heldCommitCount == 1 }
        let follower = Self.webhookTask(h, H.alert("b1"))
        try await eventually("the second webhook to wait") { h.publisher.webhooksWaitingForCommit == 1 }
        leader.cancel()
        h.store.releaseHeldCommits()
        #expect(try await leader.value.get().queued == 1, "its commit was already under way: it completes")
        #expect(try await follower.value.get().queued == 1)
        #expect(h.queuedKinds == [.trigger, .trigger])
    }

    @Test func aFailedCommitFailsEveryWebhookOfItsBatchAndLeavesTheLedgerAsItWas() async throws {
        let h = H()
        let (first, others) = try await Self.queueBehindAHeldCommit(
            h, first: H.alert("a1"), then: [(H.alert("b1"), "{}:{b}"), (H.alert("c1"), "{}:{c}")])
        h.store.setFailWrites(true)
        h.store.releaseHeldCommits()
        #expect(try await first.value.get().queued == 1, "the held commit had passed its failure check")
        for task in others {
            guard case .failure(.storageUnavailable) = await task.value else {
                Issue.record("a webhook of the failed batch was not answered 503")
                continue
            }
        }
        #expect(h.entry("b1") == nil && h.entry("c1") == nil, "nothing of the failed batch reached the ledger cache")
        h.store.setFailWrites(false)
        #expect(try await h.webhook([H.alert("b1")]).queued == 1, "Alertmanager's retry is decided afresh")
        #expect(h.queuedKinds == [.trigger, .trigger])
    }
}

/// A job and the outcome it got, handed back from a child task as a struct: an `(Int, Int)` tuple built around an
/// `await` is the shape Swift 6.3.1 miscompiles in release builds (see `AlertmanagerReads`).
private struct JobOutcome: Sendable {
    let job: Int
    let outcome: Int
}
