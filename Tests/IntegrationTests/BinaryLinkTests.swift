import Foundation
import Testing

#if os(Linux)
import Glibc

/// How the daemon's binary is linked (`compactLinking` in `Package.swift`): with lld and packed relative
/// relocations (`DT_RELR`) where the build machine allows it, which keeps 2 to 4 MB less resident at idle
/// (docs/performance.md, "Tracing"); with the toolchain's default elsewhere, where a `DT_RELR` binary would not
/// start. The test runs on the machine that built the binary.
@Suite("The daemon's link", .timeLimit(.minutes(1)))
struct BinaryLinkTests {
    /// Whether `Package.swift` asks for the compact link on this machine: the same three conditions.
    static var compactLinkExpected: Bool {
        let environment = ProcessInfo.processInfo.environment
        if environment["PAGERDUTY_PUBLISHER_DEFAULT_LINKER"] != nil { return false }
        var text = [CChar](repeating: 0, count: 64)
        guard confstr(Int32(_CS_GNU_LIBC_VERSION), &text, text.count) > 0 else { return false }
        let version = String(cString: text).split(separator: " ").last?.split(separator: ".").compactMap { Int($0) } ?? []
        guard version.count >= 2, (version[0], version[1]) >= (2, 36) else { return false }
        let path = environment["PATH"] ?? ""
        return path.split(separator: ":").contains { access("\($0)/ld.lld", X_OK) == 0 }
    }

    @Test func theBinaryHasPackedRelativeRelocationsExactlyWhereTheBuildMachineAllowsThem() async throws {
        let exit = try await DaemonProcess.run(
            executable: "/usr/bin/env", arguments: ["readelf", "--dynamic", DaemonProcess.binaryURL.path])
        #expect(exit.status == 0, "readelf: \(exit.errorOutput)")
        let hasRELR = exit.output.contains("(RELR)")
        #expect(hasRELR == Self.compactLinkExpected, "DT_RELR present: \(hasRELR); expected: \(Self.compactLinkExpected)")
    }
}
#endif
