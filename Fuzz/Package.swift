// swift-tools-version:6.2
import PackageDescription

// libFuzzer targets for pagerduty-publisher, kept in their own package so the daemon's build never carries the
// fuzzer runtime. Build and run them with `scripts/fuzz [seconds-per-target]` from the repository root; the
// flags (`--sanitize=fuzzer`) come from that script, not from here.
let package = Package(
    name: "pagerduty-publisher-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named explicitly: a path dependency is otherwise known by its directory name, which differs per checkout.
        .package(name: "pagerduty-publisher", path: ".."),
    ],
    targets: [
        // The properties each fuzz input is checked against; no libFuzzer code, so it can also be run by hand.
        .target(
            name: "FuzzChecks",
            dependencies: [
                .product(name: "AlertmanagerModels", package: "pagerduty-publisher"),
                .product(name: "PagerDutyEvents", package: "pagerduty-publisher"),
                .product(name: "PublisherCore", package: "pagerduty-publisher"),
                .product(name: "PublisherReceiver", package: "pagerduty-publisher"),
            ]
        ),
        // Input: an Alertmanager webhook body.
        .executableTarget(name: "WebhookFuzzer", dependencies: ["FuzzChecks"]),
        // Input: a change event request body.
        .executableTarget(name: "ChangeEventFuzzer", dependencies: ["FuzzChecks"]),
    ]
)
