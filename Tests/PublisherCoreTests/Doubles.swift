import CurlHTTP
import Foundation
import PagerDutyEvents
import PublisherCore
import Synchronization

/// A clock the test moves by hand. Sleepers wake when the test advances past their deadline.
final class ManualClock: PublisherClock {
    private struct Sleeper {
        var id: Int
        var deadline: Duration
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Date(timeIntervalSince1970: 1_800_000_000)
        var uptime = Duration.seconds(1000)
        var sleepers: [Sleeper] = []
        var nextID = 0
    }

    private let state = Mutex(State())

    var now: Date { state.withLock { $0.now } }
    var uptime: Duration { state.withLock { $0.uptime } }

    /// Sleepers waiting now.
    var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    func sleep(for duration: Duration) async throws {
        guard duration > .zero else { return }
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = state.withLock { state -> Bool in
                    if Task.isCancelled { return true }
                    state.sleepers.append(Sleeper(id: id, deadline: state.uptime + duration, continuation: continuation))
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves both clocks forward and wakes every sleeper whose deadline passed.
    func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.uptime += duration
            state.now = state.now.addingTimeInterval(Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
            let due = state.sleepers.filter { $0.deadline <= state.uptime }
            state.sleepers.removeAll { $0.deadline <= state.uptime }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// The earliest deadline among sleepers, relative to now.
    var nextDeadline: Duration? {
        state.withLock { state in state.sleepers.map { $0.deadline - state.uptime }.min() }
    }
}

/// A latch the test opens: `wait()` suspends until `open()`.
final class Latch: Sendable {
    private let state = Mutex<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = state.withLock { state in
                if !state.isOpen { state.waiters.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }

    var waiterCount: Int { state.withLock { $0.waiters.count } }

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Waits (bounded) until `condition` holds, yielding to other tasks; fails the wait after `limit`.
func eventually(
    _ what: String,
    limit: Duration = .seconds(10),
    _ condition: @Sendable () async -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while !(await condition()) {
        guard ContinuousClock.now < deadline else { throw WaitTimeout(what: what) }
        try await Task.sleep(for: .milliseconds(2))
    }
}

struct WaitTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// A PublisherStore in memory, with an optional failure switch.
final class InMemoryStore: PublisherStore {
    struct State {
        var ledger: [LedgerKey: LedgerEntry] = [:]
        var outbox: [OutboxRecord] = []
        var deadLetters: [DeadLetter] = []
        var nextID: Int64 = 1
        var failWrites = false
        var commits = 0
        /// The number of outbox messages of each commit, in order.
        var commitSizes: [Int] = []
        /// While set, commits wait on it (after their failure check).
        var commitLatch: Latch?
        var requestTimes: [String: [Date]] = [:]
        /// While set, recording a request's start fails as a shared store's does when another replica took the lane.
        var lanesTakenOver = false
        var inboundEvents: [String: Date] = [:]
    }

    let state = Mutex(State())

    var outbox: [OutboxRecord] { state.withLock { $0.outbox } }
    var deadLetterList: [DeadLetter] { state.withLock { $0.deadLetters } }
    var ledgerEntries: [LedgerEntry] { state.withLock { Array($0.ledger.values) } }
    var commits: Int { state.withLock { $0.commits } }

    func setFailWrites(_ fail: Bool) { state.withLock { $0.failWrites = fail } }

    /// Makes ``recordRequest(lane:finishedAt:)`` throw ``WorkNoLongerOwned``, as a fenced store does once another
    /// replica owns the lane.
    func setLanesTakenOver(_ takenOver: Bool) { state.withLock { $0.lanesTakenOver = takenOver } }

    var commitSizes: [Int] { state.withLock { $0.commitSizes } }

    /// From now on, a commit waits (after its failure check) until ``releaseHeldCommits()``.
    func holdCommits() { state.withLock { $0.commitLatch = Latch() } }

    /// Commits waiting because of ``holdCommits()``.
    var heldCommitCount: Int { state.withLock { $0.commitLatch?.waiterCount ?? 0 } }

    /// Stops holding commits and lets the waiting ones apply.
    func releaseHeldCommits() {
        let latch = state.withLock { state in
            defer { state.commitLatch = nil }
            return state.commitLatch
        }
        latch?.open()
    }

    func decide<Outcome: Sendable>(
        keys: Set<LedgerKey>, cache: LedgerCache, _ decide: @escaping LedgerDecider<Outcome>
    ) async throws -> Outcome {
        try await decideFromCache(keys: keys, cache: cache, decide)
    }

    func recordRequest(lane: String, finishedAt date: Date) async throws {
        try state.withLock { state in
            if state.failWrites { throw StoreError(reason: "disk full (test)") }
            if state.lanesTakenOver { throw WorkNoLongerOwned(work: .delivery(lane: lane)) }
            state.requestTimes[lane, default: []].append(date)
        }
    }

    func requestTimes(lane: String, since date: Date) async throws -> [Date] {
        state.withLock { ($0.requestTimes[lane] ?? []).filter { $0 >= date } }
    }

    func hasInboundEvent(id: String, at now: Date) async throws -> Bool {
        state.withLock { state in
            state.inboundEvents[id].map { $0 >= InboundEvents.oldestRemembered(at: now) } ?? false
        }
    }

    func rememberInboundEvent(id: String, at date: Date) async throws {
        try state.withLock { state in
            if state.failWrites { throw StoreError(reason: "disk full (test)") }
            let oldest = InboundEvents.oldestRemembered(at: date)
            if state.inboundEvents[id].map({ $0 < oldest }) ?? true { state.inboundEvents[id] = date }
            state.inboundEvents = state.inboundEvents.filter { $0.value >= oldest }
        }
    }

    func loadLedger(seenSince date: Date) async throws -> [LedgerEntry] {
        state.withLock { $0.ledger.values.filter { $0.lastSeen >= date } }
    }

    @discardableResult
    func commit(ledger: [LedgerEntry], outbox: [OutboxMessage]) async throws -> [Int64] {
        let (fail, latch) = state.withLock { ($0.failWrites, $0.commitLatch) }
        if fail { throw StoreError(reason: "disk full (test)") }
        await latch?.wait()
        // Like the SQLite store (GRDB), a write whose task is cancelled fails.
        if Task.isCancelled { throw StoreError(reason: "cancelled (test)") }
        return state.withLock { state in
            state.commits += 1
            state.commitSizes.append(outbox.count)
            for entry in ledger { state.ledger[LedgerKey(route: entry.route, dedupKey: entry.dedupKey)] = entry }
            return outbox.map { message in
                let id = state.nextID
                state.nextID += 1
                state.outbox.append(OutboxRecord(id: id, message: message))
                return id
            }
        }
    }

    func routesWithPendingMessages() async throws -> [String] {
        state.withLock { Array(Set($0.outbox.map(\.message.route))).sorted() }
    }

    func pendingMessages(route: String, limit: Int) async throws -> [OutboxRecord] {
        state.withLock { Array($0.outbox.filter { $0.message.route == route }.prefix(limit)) }
    }

    func pendingSummaries(route: String, limit: Int) async throws -> [PendingMessageSummary] {
        state.withLock { state in
            state.outbox.filter { $0.message.route == route }.prefix(max(limit, 0)).map { record in
                PendingMessageSummary(
                    id: record.id, kind: record.message.kind, dedupKey: record.message.dedupKey,
                    severity: record.message.severity)
            }
        }
    }

    func pendingMessages(ids: [Int64]) async throws -> [OutboxRecord] {
        state.withLock { state in
            ids.compactMap { id in state.outbox.first { $0.id == id } }
        }
    }

    func markDelivered(id: Int64) async throws {
        state.withLock { $0.outbox.removeAll { $0.id == id } }
    }

    func recordFailedAttempt(id: Int64, error: String) async throws {
        state.withLock { state in
            guard let index = state.outbox.firstIndex(where: { $0.id == id }) else { return }
            state.outbox[index].attempts += 1
            state.outbox[index].lastError = error
        }
    }

    func moveToDeadLetters(id: Int64, reason: String, at date: Date) async throws {
        state.withLock { state in
            guard let index = state.outbox.firstIndex(where: { $0.id == id }) else { return }
            let record = state.outbox.remove(at: index)
            state.deadLetters.append(DeadLetter(id: id, message: record.message, attempts: record.attempts, reason: reason, failedAt: date))
        }
    }

    func deadLetters(limit: Int) async throws -> [DeadLetter] {
        state.withLock { Array($0.deadLetters.reversed().prefix(limit)) }
    }

    func queueStats() async throws -> QueueStats {
        state.withLock { state in
            var incidents: [IncidentState.Status: Int] = [:]
            for entry in state.ledger.values { if let status = entry.incident?.status { incidents[status, default: 0] += 1 } }
            return QueueStats(
                pending: state.outbox.count, oldestPendingCreatedAt: state.outbox.map(\.message.createdAt).min(),
                deadLetters: state.deadLetters.count, incidents: incidents)
        }
    }

    func expireLedger(seenBefore date: Date) async throws -> Int {
        state.withLock { state in
            let before = state.ledger.count
            state.ledger = state.ledger.filter { $0.value.lastSeen >= date || $0.value.resolveHeldUntil != nil }
            return before - state.ledger.count
        }
    }

    func checkWritable() async throws {
        if state.withLock({ $0.failWrites }) { throw StoreError(reason: "read-only (test)") }
    }
}

/// An HTTP transport that answers from a script and records every request (with the clock's time, when it has
/// one). With ``enforceRateLimit(perMinute:)`` it answers 429, as PagerDuty does, to a request beyond N per
/// routing key in any 60 s of the clock.
final class ScriptedTransport: HTTPTransport {
    enum Answer: Sendable {
        case status(Int, body: String = "", headers: [String: String] = [:])
        case failure(TransportError)
    }

    struct Request: Sendable, CustomStringConvertible {
        var url: String
        var body: [UInt8]
        /// The clock's monotonic time when the request arrived (zero without a clock).
        var uptime: Duration = .zero
        /// The status answered (nil for a transport failure).
        var status: Int? = nil
        var routingKey: String? { json["routing_key"] as? String }
        /// For failure messages: the status, time and event, not the body's bytes.
        var description: String {
            "\(status.map(String.init) ?? "failure") at \(uptime): \(json["event_action"] ?? "change") \(json["dedup_key"] ?? "")"
        }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    }

    private struct State {
        var script: [Answer] = []
        var fallback: Answer = .status(202, body: #"{"status":"success","message":"Event processed"}"#)
        var requests: [Request] = []
        var fallbackByRoutingKey: [String: Answer] = [:]
        var rateLimitPerMinute: Int?
    }

    private let state = Mutex(State())
    private let clock: (any PublisherClock)?

    init(clock: (any PublisherClock)? = nil) {
        self.clock = clock
    }

    /// Answers 429 (without Retry-After) to a request when `perMinute` requests with its routing key were
    /// answered 202 within the last 60 s of the clock.
    func enforceRateLimit(perMinute: Int) { state.withLock { $0.rateLimitPerMinute = perMinute } }

    var requests: [Request] { state.withLock { $0.requests } }

    func enqueue(_ answers: [Answer]) { state.withLock { $0.script.append(contentsOf: answers) } }
    func setFallback(_ answer: Answer) { state.withLock { $0.fallback = answer } }
    func setFallback(_ answer: Answer, forRoutingKey key: String) { state.withLock { $0.fallbackByRoutingKey[key] = answer } }

    func post(url: String, headers: [(String, String)], body: [UInt8]) async throws(TransportError) -> HTTPResponse {
        let now = clock?.uptime ?? .zero
        let answer = state.withLock { state -> Answer in
            var request = Request(url: url, body: body, uptime: now)
            let key = request.routingKey ?? ""
            var answer: Answer
            if !state.script.isEmpty {
                answer = state.script.removeFirst()
            } else {
                answer = state.fallbackByRoutingKey[key] ?? state.fallback
            }
            if case .status(202, _, _) = answer, let limit = state.rateLimitPerMinute {
                let admitted = state.requests.filter { $0.status == 202 && $0.routingKey == key && now - $0.uptime < .seconds(60) }
                if admitted.count >= limit { answer = .status(429, body: #"{"status":"throttle event"}"#) }
            }
            if case .status(let status, _, _) = answer { request.status = status }
            state.requests.append(request)
            return answer
        }
        switch answer {
        case .status(let status, let body, let headers):
            return HTTPResponse(status: status, headers: headers, body: Array(body.utf8))
        case .failure(let error):
            throw error
        }
    }
}

/// An ``InMemoryStore`` that other processes are taken to write too: it decides on its own ledger (never the
/// cache) and gives the sync and the releaser their candidates from it, like the PostgreSQL store.
final class SharedMemoryStore: SharedPublisherStore {
    let inner: InMemoryStore
    /// How many decisions ran, and on which keys.
    let decidedKeys = Mutex<[Set<LedgerKey>]>([])

    init(_ inner: InMemoryStore) {
        self.inner = inner
    }

    func decide<Outcome: Sendable>(
        keys: Set<LedgerKey>, cache: LedgerCache, _ decide: @escaping LedgerDecider<Outcome>
    ) async throws -> Outcome {
        decidedKeys.withLock { $0.append(keys) }
        let stored = inner.state.withLock { state in state.ledger.filter { keys.contains($0.key) } }
        let changes = decide(stored)
        if !changes.ledger.isEmpty || !changes.outbox.isEmpty {
            try await inner.commit(ledger: changes.ledger, outbox: changes.outbox)
        }
        return changes.outcome
    }

    func syncCandidates() async throws -> [LedgerEntry] {
        inner.ledgerEntries.filter { entry in
            guard entry.subject != .change else { return false }
            if entry.ownSilence != nil { return true }
            guard entry.resolveHeldUntil == nil else { return false }
            return entry.isOpen || (entry.lastAction == .resolve && (entry.cause == .silenced || entry.cause == .inhibited))
        }
    }

    func heldResolves(dueAt date: Date) async throws -> [LedgerEntry] {
        inner.ledgerEntries.filter { entry in entry.resolveHeldUntil.map { $0 <= date } ?? false && entry.lastAction != .resolve }
    }

    func recordRequest(lane: String, finishedAt date: Date) async throws { try await inner.recordRequest(lane: lane, finishedAt: date) }
    func requestTimes(lane: String, since date: Date) async throws -> [Date] { try await inner.requestTimes(lane: lane, since: date) }
    func hasInboundEvent(id: String, at now: Date) async throws -> Bool { try await inner.hasInboundEvent(id: id, at: now) }
    func rememberInboundEvent(id: String, at date: Date) async throws { try await inner.rememberInboundEvent(id: id, at: date) }
    func ledgerEntries(dedupKey: String) async throws -> [LedgerEntry] {
        inner.ledgerEntries.filter { $0.dedupKey == dedupKey }.sorted { $0.route < $1.route }
    }
    func loadLedger(seenSince date: Date) async throws -> [LedgerEntry] { try await inner.loadLedger(seenSince: date) }
    func commit(ledger: [LedgerEntry], outbox: [OutboxMessage]) async throws -> [Int64] {
        try await inner.commit(ledger: ledger, outbox: outbox)
    }
    func routesWithPendingMessages() async throws -> [String] { try await inner.routesWithPendingMessages() }
    func pendingMessages(route: String, limit: Int) async throws -> [OutboxRecord] {
        try await inner.pendingMessages(route: route, limit: limit)
    }
    func pendingSummaries(route: String, limit: Int) async throws -> [PendingMessageSummary] {
        try await inner.pendingSummaries(route: route, limit: limit)
    }
    func pendingMessages(ids: [Int64]) async throws -> [OutboxRecord] { try await inner.pendingMessages(ids: ids) }
    func markDelivered(id: Int64) async throws { try await inner.markDelivered(id: id) }
    func recordFailedAttempt(id: Int64, error: String) async throws { try await inner.recordFailedAttempt(id: id, error: error) }
    func moveToDeadLetters(id: Int64, reason: String, at date: Date) async throws {
        try await inner.moveToDeadLetters(id: id, reason: reason, at: date)
    }
    func deadLetters(limit: Int) async throws -> [DeadLetter] { try await inner.deadLetters(limit: limit) }
    func queueStats() async throws -> QueueStats { try await inner.queueStats() }
    func expireLedger(seenBefore date: Date) async throws -> Int { try await inner.expireLedger(seenBefore: date) }
    func checkWritable() async throws { try await inner.checkWritable() }
}

/// Ownership the test grants and takes away; records what was claimed and relinquished (which takes it away).
final class SwitchableOwnership: WorkOwnership {
    private let state = Mutex<(owns: Bool, claimed: [OwnedWork], relinquished: [OwnedWork])>((false, [], []))

    init(owns: Bool) {
        state.withLock { $0.owns = owns }
    }

    func set(owns: Bool) { state.withLock { $0.owns = owns } }
    var claimed: [OwnedWork] { state.withLock { $0.claimed } }

    var relinquished: [OwnedWork] { state.withLock { $0.relinquished } }

    func claim(_ work: OwnedWork) async -> Bool {
        state.withLock { state in
            state.claimed.append(work)
            return state.owns
        }
    }

    func relinquish(_ work: OwnedWork) async {
        state.withLock { state in
            state.relinquished.append(work)
            state.owns = false
        }
    }
}
