import Foundation
import PagerDutyEvents
import PublisherCore
import PublisherPostgres
import PublisherTestSupport
import Testing

/// What storing alerts costs in PostgreSQL, for docs/postgresql.md: rows and bytes per alert (with every index and
/// TOAST), and the rate of 100-alert decisions through one store. The byte figure is bounded, so a schema change
/// that makes an alert much dearer fails here; the rate is printed only (it is a measurement, not a timed test).
///
/// `PAGERDUTY_PUBLISHER_POSTGRES_SIZING_ALERTS` sets how many alerts are stored (default 10,000).
@Suite(
    "PostgreSQL store: sizing",
    .enabled(if: PostgresAvailability.isConfigured, Comment(rawValue: PostgresAvailability.reason)),
    .timeLimit(.minutes(10)))
struct PostgresSizingTests {
    /// A trigger as the mapper writes it for a typical node alert (labels in custom_details, one link).
    static func body(for dedupKey: String) -> Data {
        Data(
            """
            {"routing_key":"","event_action":"trigger","dedup_key":"\(dedupKey)","payload":{"summary":"High CPU usage \
            on node-17.example.internal (instance node-17:9100)","source":"node-17:9100","severity":"critical",\
            "timestamp":"2026-11-27T17:00:00.000Z","component":"node-exporter","group":"production","class":\
            "HighCPUUsage","custom_details":{"alertname":"HighCPUUsage","instance":"node-17:9100","job":\
            "node-exporter","namespace":"production","severity":"critical","description":"CPU usage above 90% for \
            10 minutes","runbook_url":"https://runbooks.example.com/HighCPUUsage"}},"client":"Alertmanager",\
            "client_url":"http://alertmanager.example.com/#/alerts?receiver=pagerduty","links":[{"href":\
            "http://prometheus.example.com/graph?g0.expr=node_cpu_usage%3E0.9","text":"Source"}]}
            """.utf8)
    }

    @Test("one alert stored costs one ledger row and one outbox row, under 2.5 KB with indexes")
    func bytesPerAlert() async throws {
        let count = ProcessInfo.processInfo.environment["PAGERDUTY_PUBLISHER_POSTGRES_SIZING_ALERTS"].flatMap(Int.init)
            ?? 10_000
        let batch = 100
        try await withPostgresDatabase(label: "sizing") { database in
            try await withPostgresStore(database) { store in
                let clock = ContinuousClock()
                let start = clock.now
                // Four webhooks at a time, as the receiver's group commit would hand them over.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<4 {
                        group.addTask {
                            var first = worker * batch
                            while first < count {
                                let keys = (first..<min(first + batch, count)).map { String(format: "%016x", $0) }
                                try await Self.store(keys, in: store)
                                first += 4 * batch
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let elapsed = clock.now - start
                let pending = try await store.queueStats().pending
                #expect(pending == count)
                #expect(try await store.loadLedger(seenSince: .distantPast).count == count)

                try database.psql("VACUUM ANALYZE ledger")
                try database.psql("VACUUM ANALYZE outbox")
                let ledgerBytes = Int(try database.psql("SELECT pg_total_relation_size('ledger')")) ?? 0
                let outboxBytes = Int(try database.psql("SELECT pg_total_relation_size('outbox')")) ?? 0
                let breakdown = try database.psql(
                    """
                    SELECT string_agg(format('%s heap %s B, indexes %s B', relname, pg_relation_size(oid),
                        pg_indexes_size(oid)), '; ' ORDER BY relname)
                    FROM pg_class WHERE relname IN ('ledger', 'outbox')
                    """)
                print("PostgreSQL sizing breakdown: \(breakdown)")
                let bodyBytes = Self.body(for: "0000000000000000").count
                let perAlert = Double(ledgerBytes + outboxBytes) / Double(count)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                print(
                    """
                    PostgreSQL sizing: \(count) alerts (body \(bodyBytes) B): ledger \(ledgerBytes) B \
                    (\(ledgerBytes / count) B/alert), outbox \(outboxBytes) B (\(outboxBytes / count) B/alert), \
                    \(Int(perAlert)) B/alert in all; stored in \(String(format: "%.2f", seconds)) s = \
                    \(Int(Double(count) / seconds)) alerts/s (decisions of \(batch), 4 at a time)
                    """)
                #expect(perAlert < 2_500)
            }
        }
    }

    @Test("10-alert decisions one after another: latency printed (p50, p99), every alert stored once")
    func smallDecisionLatency() async throws {
        try await withPostgresDatabase(label: "latency") { database in
            try await withPostgresStore(database) { store in
                let clock = ContinuousClock()
                var latencies: [Duration] = []
                for round in 0..<500 {
                    let keys = (0..<10).map { String(format: "%08x%08x", round, $0) }
                    let start = clock.now
                    try await Self.store(keys, in: store)
                    latencies.append(clock.now - start)
                }
                latencies.sort()
                print(
                    """
                    PostgreSQL latency: 500 decisions of 10 alerts, one at a time: p50 \(latencies[250]), \
                    p99 \(latencies[495]), max \(latencies[499])
                    """)
                #expect(try await store.queueStats().pending == 5000)
            }
        }
    }

    /// Decides `keys` as firing alerts: a ledger entry (with the remembered payload) and a trigger each.
    static func store(_ keys: [String], in store: PostgresStore) async throws {
        let now = Date()
        let ledgerKeys = Set(keys.map { LedgerKey(route: "default", dedupKey: $0) })
        try await store.decide(keys: ledgerKeys, cache: LedgerCache()) { stored in
            var ledger: [LedgerEntry] = []
            var outbox: [OutboxMessage] = []
            for key in keys {
                var entry = ledgerEntry(dedupKey: key, lastSeen: now, startsAt: now.addingTimeInterval(-60))
                entry.remembered = RememberedPayload(
                    summary: "High CPU usage on node-17.example.internal (instance node-17:9100)", source: "node-17:9100",
                    severity: .critical)
                if stored[entry.key] == nil {
                    ledger.append(entry)
                    outbox.append(
                        OutboxMessage(
                            route: "default", kind: .trigger, dedupKey: key, severity: .critical,
                            body: body(for: key), createdAt: now))
                }
            }
            return LedgerChanges(ledger: ledger, outbox: outbox, outcome: ())
        }
    }
}
