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
    ],
    targets: [
        // Hot paths of the publisher that need no I/O: webhook decoding, event encoding, truncation, fingerprints.
        .executableTarget(
            name: "PublisherBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PagerDutyEvents", package: "pagerduty-publisher"),
                .product(name: "AlertmanagerModels", package: "pagerduty-publisher"),
            ],
            path: "Benchmarks/PublisherBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        // Durable writes: a raw GRDB batch insert with the daemon's connection settings (WAL, synchronous=FULL).
        .executableTarget(
            name: "OutboxBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
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
