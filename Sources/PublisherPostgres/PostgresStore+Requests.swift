import Foundation
import PostgresNIO
import PublisherCore

extension PostgresStore {
    /// How long request times are kept: the limiter looks back 60 s; the margin covers clock steps.
    static let requestTimeRetention: TimeInterval = 120

    /// How long the lane's lease must still run, on PostgreSQL's clock, for a fenced request to be recorded: the
    /// request then starts well before any other replica may take the lane.
    public static let fencingMargin: Duration = .seconds(1)

    /// Records the time and prunes the lane's times older than ``requestTimeRetention``, in one statement.
    ///
    /// With a ``fencingReplica``, the statement writes only when `work_leases` says that replica owns the lane's
    /// delivery for at least ``fencingMargin`` more; when it wrote nothing, the lane belongs to another replica
    /// (or to nobody) and this throws ``WorkNoLongerOwned``. The check and the write commit together, so a replica
    /// that lost its lease without noticing (a renewal whose commit failed, a pause longer than its deadline)
    /// sends nothing.
    public func recordRequest(lane: String, finishedAt date: Date) async throws {
        let pruneBefore = StoredTimestamp(date.addingTimeInterval(-Self.requestTimeRetention))
        guard let replica = fencingReplica else {
            try await execute(
                "recording a request time",
                """
                WITH pruned AS (
                    DELETE FROM request_times WHERE lane = \(lane) AND finished_at < \(pruneBefore)
                )
                INSERT INTO request_times (lane, finished_at) VALUES (\(lane), \(StoredTimestamp(date)))
                """)
            return
        }
        let work = OwnedWork.delivery(lane: lane)
        let margin = Double(Self.fencingMargin.components.seconds)
        let recorded = try await fetch(
            "recording a request time",
            writes: true,
            """
            WITH owned AS (
                SELECT 1 FROM work_leases
                WHERE work = \(work.description) AND owner = \(replica)
                    AND expires_at > now() + make_interval(secs => \(margin))
            ), pruned AS (
                DELETE FROM request_times
                WHERE lane = \(lane) AND finished_at < \(pruneBefore) AND EXISTS (SELECT 1 FROM owned)
            )
            INSERT INTO request_times (lane, finished_at)
            SELECT \(lane), \(StoredTimestamp(date)) WHERE EXISTS (SELECT 1 FROM owned)
            RETURNING lane
            """,
            { try $0.decode(String.self) })
        if recorded.isEmpty { throw WorkNoLongerOwned(work: work) }
    }

    public func requestTimes(lane: String, since date: Date) async throws(StoreError) -> [Date] {
        try await fetch(
            "reading request times",
            """
            SELECT finished_at FROM request_times
            WHERE lane = \(lane) AND finished_at >= \(StoredTimestamp(date)) ORDER BY finished_at
            """,
            { try $0.decode(Date.self) })
    }

    /// Reads the id's time, not just its row: a row older than the window may still be there (the next
    /// ``rememberInboundEvent(id:at:)`` prunes it).
    public func hasInboundEvent(id: String, at now: Date) async throws(StoreError) -> Bool {
        try await fetch(
            "looking up a PagerDuty webhook event",
            """
            SELECT EXISTS (
                SELECT 1 FROM inbound_events
                WHERE id = \(id) AND applied_at >= \(StoredTimestamp(InboundEvents.oldestRemembered(at: now)))
            )
            """,
            { try $0.decode(Bool.self) }
        ).first ?? false
    }

    /// An id still within the window keeps its first time; one applied before the window (a new delivery of an old
    /// event id) is remembered from `date`. The prune spares `id`: the statement's parts see the same snapshot, so
    /// deleting the row the upsert updates would make the outcome depend on their order.
    public func rememberInboundEvent(id: String, at date: Date) async throws(StoreError) {
        let oldest = StoredTimestamp(InboundEvents.oldestRemembered(at: date))
        try await execute(
            "remembering a PagerDuty webhook event",
            """
            WITH pruned AS (
                DELETE FROM inbound_events WHERE applied_at < \(oldest) AND id <> \(id)
            )
            INSERT INTO inbound_events (id, applied_at) VALUES (\(id), \(StoredTimestamp(date)))
            ON CONFLICT (id) DO UPDATE SET applied_at = excluded.applied_at
            WHERE inbound_events.applied_at < \(oldest)
            """)
    }
}
