import Foundation
import Testing

/// Checks that only mean something against the release (optimized) build: `scripts/test` builds
/// `Tests/ReleaseCanary` with `-c release` and names it in `PAGERDUTY_PUBLISHER_RELEASE_CANARY`. Without that
/// variable the suite is skipped, except under `CI=true`, where a skipped check is a failure.
@Suite("Release build", .enabled(if: ReleaseCanaryBinary.path != nil || ReleaseCanaryBinary.isCI), .timeLimit(.minutes(2)))
struct ReleaseBuildTests {
    /// Runs the canary in `mode` and returns its exit status and output.
    private func runCanary(_ mode: String) async throws -> (status: Int32, output: String) {
        let path = try #require(
            ReleaseCanaryBinary.path,
            "CI=true but \(ReleaseCanaryBinary.variable) is unset: scripts/test sets it to the release build of ReleaseCanary"
        )
        let exit = try await DaemonProcess.run(executable: path, arguments: [mode, "20000"])
        return (exit.status, exit.output + exit.errorOutput)
    }

    /// The Alertmanager sync's concurrent reads, compiled with the optimizer, put every answer at its own
    /// source's position. Before the fix, Swift 6.3.1's release build handed answers back under the wrong
    /// index: the daemon trapped (SIGILL) or took a reachable Alertmanager for unreachable and never reconciled.
    @Test func theSyncsConcurrentReadsKeepEveryAnswerInItsPlace() async throws {
        let (status, output) = try await runCanary("alertmanager-reads")
        #expect(status == 0, "\(output)")
        #expect(output.contains("every answer at its own source's position"), "\(output)")
    }

    /// The miscompilation itself, in the smallest form we know, outside the project's code. When this fails,
    /// the toolchain no longer miscompiles the pattern: note it in the CHANGELOG and retire this test (the
    /// workaround in `AlertmanagerReads` may stay; it costs nothing).
    @Test func theToolchainStillMiscompilesTheTupleResultPattern() async throws {
        let (status, output) = try await runCanary("tuple-miscompile")
        #expect(status == 3, "expected the known Swift 6.3.1 release-mode miscompile (exit 3): \(output)")
    }
}

/// Where the release build of `Tests/ReleaseCanary` is, from the environment.
enum ReleaseCanaryBinary {
    static let variable = "PAGERDUTY_PUBLISHER_RELEASE_CANARY"
    static var path: String? { ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 } }
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
}
