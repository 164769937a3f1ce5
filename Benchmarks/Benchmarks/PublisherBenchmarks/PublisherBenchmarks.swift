import AlertmanagerModels
import Benchmark
import BenchmarkSupport
import Foundation
import PagerDutyEvents
import PublisherCore

// CPU-bound hot paths of the publisher, measured without any I/O (the ingest benchmarks use a store that
// discards what it is given).
// Run: `swift package benchmark --target PublisherBenchmarks` from Benchmarks/.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        maxDuration: .seconds(3),
        maxIterations: 100_000
    )

    let webhookBody = SampleWebhook.json(alertCount: 100)

    let webhookBytes = Array(webhookBody)

    /// Measures `JSONDecoder` turning a realistic 100-alert Alertmanager webhook (8 labels, 3 annotations,
    /// RFC 3339 times, fingerprints) into a `WebhookMessage` through its `Decodable` conformance: the baseline
    /// of the next benchmark. One iteration = one webhook.
    Benchmark("Webhook decode (100 alerts)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try JSONDecoder().decode(WebhookMessage.self, from: webhookBody))
        }
    }

    /// Measures `WebhookMessage(json:)`, the receiver's byte-level decoder, on the same webhook: the same value
    /// (tested), one pass, no intermediate tree.
    Benchmark("Webhook decode from bytes (100 alerts)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try WebhookMessage(json: webhookBytes))
        }
    }

    /// Measures decoding the same 100-alert webhook and then, per alert, building the `AlertEvent` and encoding
    /// it with `EventEncoding.encode`, with ``SampleWebhook/event(for:)`` standing in for `EventMapper` (kept
    /// to compare with earlier figures; the next benchmark uses the real mapper).
    Benchmark("Webhook decode + build and encode 100 events") { benchmark in
        for _ in benchmark.scaledIterations {
            let message = try JSONDecoder().decode(WebhookMessage.self, from: webhookBody)
            for alert in message.alerts {
                blackHole(try EventEncoding.encode(SampleWebhook.event(for: alert).fittedToLimits()))
            }
        }
    }

    let mapper = EventMapper()

    /// Measures decoding the 100-alert webhook as the receiver does (`WebhookMessage(json:)`), then per alert
    /// `DedupKey.of` and `EventMapper.encodedEvent` (mapping, fitting to PagerDuty's limits and encoding, once):
    /// the daemon's CPU work per webhook up to the outbox, without the ledger.
    Benchmark("Webhook decode + EventMapper.encodedEvent ×100") { benchmark in
        for _ in benchmark.scaledIterations {
            let message = try WebhookMessage(json: webhookBytes)
            for alert in message.alerts {
                let dedupKey = try DedupKey.of(alert)
                blackHole(try mapper.encodedEvent(for: alert, action: .trigger, in: message, dedupKey: dedupKey))
            }
        }
    }

    let triggerEvent = SampleWebhook.event(
        for: try! JSONDecoder().decode(WebhookMessage.self, from: SampleWebhook.json(alertCount: 1)).alerts[0])

    /// Measures `EventEncoding.encode` of one trigger event with a payload, custom details from 8 labels and
    /// 3 annotations, and one link: the bytes written to the outbox and sent to PagerDuty.
    Benchmark("Event encode (trigger)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try EventEncoding.encode(triggerEvent))
        }
    }

    let longSummary = String(
        repeating: "Disk almost full on db-17:9100 (/var/lib/postgresql), 97% used; ", count: 80
    ).prefix(5_000)
    let summary = String(longSummary)
    precondition(summary.unicodeScalars.count == 5_000)

    /// Measures `String.truncated(toCharacters:)` cutting a 5,000-character ASCII summary to PagerDuty's
    /// 1,024-character limit (grapheme-cluster walk plus the ellipsis).
    Benchmark("Truncate summary (5,000 → 1,024 characters)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(summary.truncated(toCharacters: EventLimits.summaryMaxCharacters))
        }
    }

    let labels = SampleWebhook.labels(index: 42, count: 10)

    /// Measures `LabelSetFingerprint.of` over a 10-label set (sort by name, FNV-1a, hex): the dedup key of an
    /// alert whose sender gave no fingerprint.
    Benchmark("Label fingerprint (10 labels)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(LabelSetFingerprint.of(labels))
        }
    }

    registerLedgerBenchmarks()
    registerLimiterBenchmark()
}

/// The ledger's transition rules for 1,000 alerts, alone and inside `AlertPublisher.ingest`.
private func registerLedgerBenchmarks() {
    let thousand = SampleWebhook.message(alertCount: 1_000)
    let keys = thousand.alerts.map { LedgerKey(route: RouteTable.defaultRouteName, dedupKey: $0.fingerprint!) }
    let policy = LedgerPolicy()
    let now = Date()
    let triggered = zip(thousand.alerts, keys).map { alert, key in
        LedgerRules.decide(
            existing: nil, route: key.route, dedupKey: key.dedupKey, status: alert.status,
            startsAt: alert.startsAt, now: now, policy: policy
        ).entry
    }

    /// Measures `LedgerRules.decide` for 1,000 firing alerts the ledger has never seen (each → trigger).
    Benchmark("LedgerRules.decide ×1000, all new") { benchmark in
        for _ in benchmark.scaledIterations {
            for (alert, key) in zip(thousand.alerts, keys) {
                blackHole(LedgerRules.decide(
                    existing: nil, route: key.route, dedupKey: key.dedupKey, status: alert.status,
                    startsAt: alert.startsAt, now: now, policy: policy))
            }
        }
    }

    /// Measures `LedgerRules.decide` for the same 1,000 alerts again, each already triggered (each → no call).
    Benchmark("LedgerRules.decide ×1000, all re-notified") { benchmark in
        for _ in benchmark.scaledIterations {
            for ((alert, key), entry) in zip(zip(thousand.alerts, keys), triggered) {
                blackHole(LedgerRules.decide(
                    existing: entry, route: key.route, dedupKey: key.dedupKey, status: alert.status,
                    startsAt: alert.startsAt, now: now, policy: policy))
            }
        }
    }

    /// Measures `AlertPublisher.ingest` of a decoded 1,000-alert webhook with an empty ledger: dedup keys,
    /// routes, 1,000 ledger decisions, 1,000 events mapped and encoded, the ledger updated; the store discards
    /// the transaction. A fresh publisher per sample, wired outside the measurement.
    Benchmark(
        "AlertPublisher.ingest ×1000, all new (discarding store)",
        configuration: .init(maxDuration: .seconds(5), maxIterations: 500)
    ) { benchmark in
        let fixture = IngestFixture(store: DiscardingStore())
        benchmark.startMeasurement()
        let result = try await fixture.publisher.ingest(thousand, route: nil)
        benchmark.stopMeasurement()
        try result.expect(allQueued: true)
    }

    let renotified = IngestFixture(store: DiscardingStore())

    /// Measures `AlertPublisher.ingest` of the same 1,000-alert webhook when every alert is already triggered
    /// (Alertmanager's re-notification): 1,000 ledger look-ups and decisions, no event, the ledger entries
    /// (their `last_seen`) handed to the store.
    Benchmark(
        "AlertPublisher.ingest ×1000, all re-notified (discarding store)",
        configuration: .init(maxDuration: .seconds(5), maxIterations: 2_000)
    ) { benchmark in
        benchmark.startMeasurement()
        let result = try await renotified.publisher.ingest(thousand, route: nil)
        benchmark.stopMeasurement()
        try result.expect(allQueued: false)
    } setup: {
        try await renotified.publisher.ingest(thousand, route: nil).expect(allQueued: true)
    }
}

/// The dispatcher's per-request limiter work.
private func registerLimiterBenchmark() {
    /// Measures one `SlidingWindowLimiter.delay(at:)` plus `recordRequest(finishedAt:)` on a full 120-request
    /// window (the steady state of a busy routing key). One iteration = one request admitted.
    Benchmark(
        "SlidingWindowLimiter delay + recordRequest (limit 120, full window)",
        configuration: .init(scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 100_000)
    ) { benchmark in
        var limiter = SlidingWindowLimiter(limit: 120)
        var now = Duration.zero
        for _ in 0..<120 {
            limiter.recordRequest(finishedAt: now)
            now += .milliseconds(500)
        }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let wait = limiter.delay(at: now)
            now += wait
            limiter.recordRequest(finishedAt: now)
        }
        benchmark.stopMeasurement()
        blackHole(now)
    }
}
