import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PublisherTestSupport
import Synchronization

/// The real `pagerduty-publisher` binary, started as a child process on loopback with its output captured.
final class DaemonProcess: Sendable {
    static let routingKey = "R0ut1ngKeyS3cretR0ut1ngKeyS3cre7"
    static let authToken = "t0ken-s3cret-for-the-receiver-42"

    struct Exit: Sendable {
        var status: Int32
        var output: String
        var errorOutput: String
    }

    private let process: Process
    private let output = Locked<[String]>([])
    private let errorText = Locked<String>("")
    let port: Int

    /// The daemon's process id, e.g. to read `/proc/PID/status`.
    var processIdentifier: Int32 { process.processIdentifier }

    /// The built binary: next to the test bundle, or `PAGERDUTY_PUBLISHER_BINARY`.
    static var binaryURL: URL {
        if let path = ProcessInfo.processInfo.environment["PAGERDUTY_PUBLISHER_BINARY"] {
            return URL(fileURLWithPath: path)
        }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.lastPathComponent == "MacOS" || directory.pathExtension == "xctest" {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("pagerduty-publisher")
    }

    /// Starts `serve` with `arguments` (plus `--listen 127.0.0.1:0`) and waits until it listens.
    init(arguments: [String], environment: [String: String] = [:]) async throws {
        process = Process()
        process.executableURL = Self.binaryURL
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug"] + arguments
        process.environment = Self.cleanEnvironment.merging(environment) { _, new in new }
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        let output = self.output
        let errorText = self.errorText
        stdout.fileHandleForReading.readabilityHandler = Self.lineReader { line in output.withLock { $0.append(line) } }
        stderr.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { errorText.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        }
        try process.run()
        var port = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while port == 0 {
            if let line = output.withLock({ $0.first { $0.contains("Receiver listening") } }),
                let object = Self.json(line), let text = object["port"] as? String, let bound = Int(text)
            {
                port = bound
                break
            }
            guard process.isRunning, ContinuousClock.now < deadline else {
                let logs = output.withLock { $0.joined(separator: "\n") }
                process.terminate()
                throw DaemonError(reason: "the daemon did not start listening: \(errorText.withLock { $0 })\n\(logs)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        self.port = port
    }

    /// Runs the binary to completion with `arguments` (for commands that exit by themselves).
    static func runToExit(_ arguments: [String], environment: [String: String] = [:], workingDirectory: URL? = nil) async throws -> Exit {
        try await run(executable: binaryURL.path, arguments: arguments, environment: environment, workingDirectory: workingDirectory)
    }

    /// Runs any executable to completion with `arguments`, in the clean environment plus `environment`, on a thread
    /// of its own (``ChildProcess``).
    static func run(
        executable: String, arguments: [String], environment: [String: String] = [:], workingDirectory: URL? = nil
    ) async throws -> Exit {
        let exit = try await ChildProcess.run(
            executable, arguments, environment: cleanEnvironment.merging(environment) { _, new in new },
            workingDirectory: workingDirectory)
        return Exit(status: exit.status, output: exit.output, errorOutput: exit.errorOutput)
    }

    /// The environment without any of the daemon's own variables, so the developer's shell cannot leak in.
    static var cleanEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PAGERDUTY_") && !$0.key.hasPrefix("OTEL_") }
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The daemon's process id.
    var pid: Int32 { process.processIdentifier }

    /// Every log line so far.
    var lines: [String] { output.withLock { $0 } }
    /// Everything written to standard error so far.
    var errorOutput: String { errorText.withLock { $0 } }

    /// Log lines parsed as JSON objects.
    var records: [[String: Any]] { lines.compactMap(Self.json) }

    /// Waits (bounded) for a log record whose message is `message`.
    func waitForLog(_ message: String, count: Int = 1, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while records.filter({ $0["msg"] as? String == message }).count < count {
            guard ContinuousClock.now < deadline else { throw DaemonError(reason: "no log \"\(message)\" x\(count) within \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The `/metrics` body once it shows every one of `lines`, polled (bounded): the daemon counts a delivery only
    /// after PagerDuty's answer reached it, a moment after the fake PagerDuty recorded the request. After
    /// `timeout` the last body is returned as it is, so the caller's expectations name what is missing.
    func metrics(showing lines: [String], timeout: Duration = .seconds(10)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let body = try await HTTP.get("\(baseURL)/metrics").body
            if lines.allSatisfy(body.contains) || ContinuousClock.now >= deadline { return body }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sends SIGHUP (reload the configuration).
    func hangUp() {
        Foundation.kill(process.processIdentifier, SIGHUP)
    }

    /// SIGKILL: the process gets no chance to clean up.
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    func terminate(timeout: Duration = .seconds(30)) async throws -> Int32 {
        Foundation.kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill()
                throw DaemonError(reason: "the daemon did not stop within \(timeout) of SIGTERM")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill() }
    }

    static func json(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    private static func lineReader(_ emit: @escaping @Sendable (String) -> Void) -> @Sendable (FileHandle) -> Void {
        let partial = Locked<String>("")
        return { handle in
            let data = handle.availableData
            guard !data.isEmpty else { return }
            let complete = partial.withLock { buffer -> [String] in
                buffer += String(decoding: data, as: UTF8.self)
                var lines = buffer.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                buffer = lines.removeLast()
                return lines
            }
            complete.forEach(emit)
        }
    }
}

/// A value shared between threads behind a lock.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }
}

struct DaemonError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

/// A plain HTTP client for talking to the daemon in tests.
enum HTTP {
    struct Answer: Sendable {
        var status: Int
        var body: String
        var headers: [String: String]
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] }
    }

    static func post(_ url: String, body: String, contentType: String? = "application/json", headers: [String: String] = [:]) async throws -> Answer {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        return try await send(request)
    }

    static func get(_ url: String) async throws -> Answer {
        try await send(URLRequest(url: URL(string: url)!))
    }

    private static func send(_ request: URLRequest) async throws -> Answer {
        var request = request
        request.timeoutInterval = 30
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            headers["\(name)".lowercased()] = "\(value)"
        }
        return Answer(status: http.statusCode, body: String(decoding: data, as: UTF8.self), headers: headers)
    }
}

/// A scratch directory removed when the test ends.
struct ScratchDirectory: ~Copyable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("pd-publisher-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    var database: String { url.appendingPathComponent("publisher.sqlite").path }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Waits (bounded) until `condition` holds, checking every 20 ms; throws after `timeout`.
func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { throw DaemonError(reason: "timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Waits (bounded) until `condition`, which asks something over the network, holds: checks every 200 ms; throws
/// after `timeout`.
func waitUntilAnswered(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw DaemonError(reason: "timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(200))
    }
}
