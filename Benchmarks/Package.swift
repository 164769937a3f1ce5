// swift-tools-version:6.1
import PackageDescription

// Benchmarks for pagerduty-publisher, kept in their own package so the daemon's build never depends on the
// benchmark harness. Run from this directory: `swift package benchmark`.
let package = Package(
    name: "pagerduty-publisher-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named explicitly: a path dependency is otherwise known by its directory name, which differs per checkout.
        .package(name: "pagerduty-publisher", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
    ],
    targets: [
        // Shared fixtures: the sample webhook, a publisher wired as the daemon wires it, a discarding store.
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                .product(name: "AlertmanagerModels", package: "pagerduty-publisher"),
                .product(name: "PagerDutyEvents", package: "pagerduty-publisher"),
                .product(name: "PublisherCore", package: "pagerduty-publisher"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/BenchmarkSupport"
        ),
        // Hot paths of the publisher that need no I/O: webhook decoding, mapping and encoding, truncation,
        // fingerprints, ledger decisions and ingest (store discarded), the rate limiter.
        .executableTarget(
            name: "PublisherBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PublisherCore", package: "pagerduty-publisher"),
                .product(name: "PagerDutyEvents", package: "pagerduty-publisher"),
                .product(name: "AlertmanagerModels", package: "pagerduty-publisher"),
            ],
            path: "Benchmarks/PublisherBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        // Durable writes: a raw GRDB batch insert with the daemon's connection settings (WAL, synchronous=FULL),
        // and the same rows through SQLiteStore; ingest of 1,000 alerts into a SQLiteStore.
        .executableTarget(
            name: "OutboxBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PublisherCore", package: "pagerduty-publisher"),
                .product(name: "PublisherSQLite", package: "pagerduty-publisher"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PagerDutyEvents", package: "pagerduty-publisher"),
            ],
            path: "Benchmarks/OutboxBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
