// swift-tools-version:6.2
import PackageDescription

#if os(Linux)
import Glibc
#endif

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// How the daemon's binary is linked on Linux: with lld and packed relative relocations (`DT_RELR`), which
/// make the dynamic loader read 2.4 MB less at every start and keep 2 to 4 MB less resident at idle than the
/// default gold link (docs/performance.md, "Tracing"). Only when the toolchain has `ld.lld` on the `PATH` and the
/// build machine's glibc is 2.36 or newer (older glibc cannot load `DT_RELR`; a binary runs on the glibc it was
/// built against or newer). Elsewhere, and with `PAGERDUTY_PUBLISHER_DEFAULT_LINKER=1`, the toolchain's default.
let compactLinking: [LinkerSetting] = {
    #if os(Linux)
    if getenv("PAGERDUTY_PUBLISHER_DEFAULT_LINKER") != nil { return [] }
    var text = [CChar](repeating: 0, count: 64)  // "glibc 2.36"
    guard confstr(Int32(_CS_GNU_LIBC_VERSION), &text, text.count) > 0 else { return [] }
    let glibc = String(cString: text).split(separator: " ").last?.split(separator: ".").compactMap { Int($0) } ?? []
    guard glibc.count >= 2, (glibc[0], glibc[1]) >= (2, 36) else { return [] }
    let path = getenv("PATH").map { String(cString: $0) } ?? ""
    guard path.split(separator: ":").contains(where: { access("\($0)/ld.lld", X_OK) == 0 }) else { return [] }
    return [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"])]
    #else
    return []
    #endif
}()

let package = Package(
    name: "pagerduty-publisher",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pagerduty-publisher", targets: ["PagerDutyPublisher"]),
        .library(name: "PagerDutyEvents", targets: ["PagerDutyEvents"]),
        .library(name: "AlertmanagerModels", targets: ["AlertmanagerModels"]),
        .library(name: "PagerDutyWebhooks", targets: ["PagerDutyWebhooks"]),
        // For Benchmarks/ and the fuzz targets, which are packages of their own.
        .library(name: "PublisherCore", targets: ["PublisherCore"]),
        .library(name: "PublisherSQLite", targets: ["PublisherSQLite"]),
        .library(name: "PublisherPostgres", targets: ["PublisherPostgres"]),
        .library(name: "PublisherReceiver", targets: ["PublisherReceiver"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        // Already in the graph through Hummingbird; named for the receiver's connection handlers.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.27.0"),
        // Already in the graph through Hummingbird's TLS; the web config's certificate reloads.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        // Already in the graph through postgres-nio; HMAC-SHA256 for PagerDuty's webhook signatures.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        // The status page's templates (escaped HTML).
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.0.0"),
        // bcrypt for the web config file's basic_auth_users.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // Spans (the API only: a no-op tracer unless the executable bootstraps one).
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.0"),
        // The OpenTelemetry SDK and OTLP exporters (HTTP and gRPC); only the PublisherTelemetry target uses it.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0"),
        // Already in the graph through swift-otel's gRPC transport; the tests' OTLP/gRPC receiver (h2c).
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.36.0"),
    ],
    targets: [
        // libcurl, the system library behind the Events API client (Debian: libcurl4-openssl-dev).
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Outbound HTTP over libcurl, on its own threads: TLS ≥ 1.2, timeouts, proxies, connection reuse. Both API
        // clients (PagerDuty's Events API, Alertmanager's API) go through it.
        .target(
            name: "CurlHTTP",
            dependencies: ["CCurl"],
            swiftSettings: swiftSettings
        ),
        // PagerDuty Events API v2: wire types, limits and truncation, error classification.
        .target(
            name: "PagerDutyEvents",
            dependencies: [
                "CurlHTTP",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // RFC 3339 times, as Alertmanager and PagerDuty write them.
        .target(
            name: "TimeText",
            swiftSettings: swiftSettings
        ),
        // Alertmanager webhook (version 4) models.
        .target(
            name: "AlertmanagerModels",
            dependencies: ["TimeText"],
            swiftSettings: swiftSettings
        ),
        // PagerDuty's v3 webhooks: signing secrets, signature checks, event decoding. No server, no store.
        .target(
            name: "PagerDutyWebhooks",
            dependencies: [
                "TimeText",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Publisher core: mapping, ledger, outbox and store protocols, limiter, dispatcher, metrics.
        .target(
            name: "PublisherCore",
            dependencies: [
                "PagerDutyEvents",
                "AlertmanagerModels",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        // SQLite store (GRDB, WAL): implements the core's store protocol.
        .target(
            name: "PublisherSQLite",
            dependencies: [
                "PublisherCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // PostgreSQL store (postgres-nio): the core's store protocols for several replicas, leases, notifications.
        .target(
            name: "PublisherPostgres",
            dependencies: [
                "PublisherCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The route configuration file (YAML): routes, matchers, severity maps, templates; problems as sentences.
        .target(
            name: "PublisherConfiguration",
            dependencies: [
                "PagerDutyEvents",
                "PublisherCore",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // exporter-toolkit's web configuration file (--web.config.file): TLS, bcrypt users, response headers.
        .target(
            name: "PublisherWebConfig",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP receiver (Hummingbird 2): routes, auth, limits, health, /metrics.
        .target(
            name: "PublisherReceiver",
            dependencies: [
                "PublisherCore",
                "AlertmanagerModels",
                "PagerDutyWebhooks",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
                "PublisherWebConfig",
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        // Log handlers: JSON lines, logfmt and text, with secret redaction.
        .target(
            name: "StructuredLogging",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // OpenTelemetry traces: when tracing is on, bootstraps swift-otel's tracer and OTLP exporter from OTEL_*.
        // Kept apart so that the library products (Benchmarks/, fuzz) do not build swift-otel.
        .target(
            name: "PublisherTelemetry",
            dependencies: [
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The executable: command line, configuration, bootstrap, service group. No business logic.
        .executableTarget(
            name: "PagerDutyPublisher",
            dependencies: [
                "AlertmanagerModels",
                "CurlHTTP",
                "PagerDutyEvents",
                "PublisherCore",
                "PublisherSQLite",
                "PublisherPostgres",
                "PublisherReceiver",
                "PublisherConfiguration",
                "PagerDutyWebhooks",
                "StructuredLogging",
                "PublisherTelemetry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                "PublisherWebConfig",
            ],
            swiftSettings: swiftSettings,
            linkerSettings: compactLinking
        ),
        // Shared by the test targets only: fake PagerDuty, schema validator, fixtures, captured logs.
        .target(
            name: "PublisherTestSupport",
            dependencies: [
                "PagerDutyEvents",
                "PagerDutyWebhooks",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            path: "Tests/PublisherTestSupport",
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        // A stand-alone fake PagerDuty with fault injection, for the load, storm and chaos scripts.
        .executableTarget(
            name: "FakePagerDutyServer",
            dependencies: [
                "PublisherTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tests/FakePagerDutyServer",
            swiftSettings: swiftSettings
        ),
        // Checks that need the optimizer: run against the release build (Tests/IntegrationTests/ReleaseBuildTests).
        .executableTarget(
            name: "ReleaseCanary",
            dependencies: ["PublisherCore", "AlertmanagerModels"],
            path: "Tests/ReleaseCanary",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PagerDutyEventsTests",
            dependencies: ["PagerDutyEvents", "CurlHTTP", "PublisherTestSupport", "PagerDutyWebhooks"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AlertmanagerModelsTests",
            dependencies: ["AlertmanagerModels", "PublisherTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PagerDutyWebhooksTests",
            dependencies: ["PagerDutyWebhooks", "PublisherTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PublisherCoreTests",
            dependencies: [
                "PublisherCore", "CurlHTTP", "PublisherTestSupport",
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PublisherSQLiteTests",
            dependencies: [
                "PublisherSQLite", "PublisherTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PublisherPostgresTests",
            dependencies: [
                "PublisherPostgres", "PublisherSQLite", "PublisherTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PublisherWebConfigTests",
            dependencies: [
                "PublisherWebConfig", "PublisherTestSupport",
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PublisherReceiverTests",
            dependencies: [
                "PublisherReceiver", "StructuredLogging", "PublisherTestSupport", "PagerDutyWebhooks",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                "PublisherWebConfig", .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["PagerDutyPublisher", "PublisherTestSupport", "PagerDutyEvents", "AlertmanagerModels", "PublisherCore", "PublisherSQLite", "PublisherPostgres", "PublisherConfiguration",
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
