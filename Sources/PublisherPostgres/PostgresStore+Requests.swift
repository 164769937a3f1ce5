import Foundation
import PostgresNIO
import PublisherCore

extension PostgresStore {
    /// How long request times are kept: the limiter looks back 60 s; the margin covers clock steps.
    static let requestTimeRetention: TimeInterval = 120

    /// Records the time and prunes the lane's times older than ``requestTimeRetention``, in one statement.
    public func recordRequest(lane: String, finishedAt date: Date) async throws(StoreError) {
        try await execute(
            "recording a request time",
            """
            WITH pruned AS (
                DELETE FROM request_times
                WHERE lane = \(lane)
                    AND finished_at < \(StoredTimestamp(date.addingTimeInterval(-Self.requestTimeRetention)))
            )
            INSERT INTO request_times (lane, finished_at) VALUES (\(lane), \(StoredTimestamp(date)))
            """)
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
}
