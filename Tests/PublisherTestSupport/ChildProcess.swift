import Foundation
import Synchronization

/// How a child process ended and what it printed.
public struct ChildProcessExit: Sendable {
    public var status: Int32
    /// Standard output (with standard error too when the run merged them).
    public var output: String
    /// Standard error; empty when the run merged it into ``output``.
    public var errorOutput: String
}

/// Runs a program to its end for a test: `openssl`, `psql`, `amtool`, a browser, the daemon's one-shot commands.
///
/// Standard output and standard error are read at the same time, so a child that fills one pipe while the test
/// reads the other never stalls. ``run(_:_:environment:workingDirectory:mergingErrors:)`` waits on a thread of
/// its own: a test never blocks a thread of the cooperative pool, which in-process fakes and servers need.
public enum ChildProcess {
    /// Runs `executable` (a path, or a name looked up on `PATH` through `/usr/bin/env`) with `arguments`, its
    /// standard input `/dev/null`. `environment` replaces the test's own when given.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, workingDirectory: URL? = nil,
        mergingErrors: Bool = false
    ) async throws -> ChildProcessExit {
        try await RawHTTPConnection.inThread {
            try runBlocking(
                executable, arguments, environment: environment, workingDirectory: workingDirectory, mergingErrors: mergingErrors)
        }
    }

    /// ``run(_:_:environment:workingDirectory:mergingErrors:)`` on the calling thread, for callers that are not
    /// async (never on the cooperative pool).
    public static func runBlocking(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, workingDirectory: URL? = nil,
        mergingErrors: Bool = false
    ) throws -> ChildProcessExit {
        let process = Process()
        if executable.hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        if let environment { process.environment = environment }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = mergingErrors ? output : errors
        try process.run()
        // Standard error is drained on a thread of its own while this one reads standard output.
        let errorText = ErrorText()
        let drained = DispatchSemaphore(value: 0)
        if mergingErrors {
            drained.signal()
        } else {
            Thread.detachNewThread {
                let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                errorText.text.withLock { $0 = text }
                drained.signal()
            }
        }
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        drained.wait()
        process.waitUntilExit()
        return ChildProcessExit(
            status: process.terminationStatus, output: printed, errorOutput: errorText.text.withLock { $0 })
    }
}

/// Standard error's text, handed over from the thread that drains it.
private final class ErrorText: Sendable {
    let text = Mutex("")
}
