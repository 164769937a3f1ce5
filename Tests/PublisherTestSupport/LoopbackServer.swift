import Hummingbird
import Logging
import Synchronization

/// Starts the test fakes' HTTP servers on 127.0.0.1 and waits until they accept connections.
enum LoopbackServer {
    /// Why a fake's server did not start.
    struct StartFailed: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs a server answering with `respond` on `port` (0: an ephemeral one). Returns the bound port and the
    /// task running the server (cancel it to stop), or throws the server's start-up error.
    static func start<Context: RequestContext>(
        name: String,
        port: Int = 0,
        respond: @escaping @Sendable (Request, Context) async throws -> Response
    ) async throws -> (port: Int, task: Task<Void, Never>) where Context.Source == ApplicationRequestContextSource {
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let startupError = Mutex<(any Error)?>(nil)
        var logger = Logger(label: name)
        logger.logLevel = .critical  // stopping by cancellation logs a harmless error
        let application = Application(
            responder: CallbackResponder(callback: respond),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: name),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
            },
            logger: logger
        )
        let task = Task {
            do {
                try await application.run()
            } catch {
                startupError.withLock { $0 = error }
            }
            portContinuation.finish()
        }
        for await bound in ports where bound > 0 {
            return (bound, task)
        }
        task.cancel()
        throw startupError.withLock { $0 } ?? StartFailed(description: "\(name) stopped before it bound a port")
    }
}

extension LoopbackServer {
    /// Runs a server answering with `respond` on `port` (0: an ephemeral one) until it is stopped or released;
    /// returns once it accepts connections.
    static func run<Context: RequestContext>(
        name: String,
        port: Int = 0,
        respond: @escaping @Sendable (Request, Context) async throws -> Response
    ) async throws -> RunningLoopbackServer where Context.Source == ApplicationRequestContextSource {
        let (bound, task) = try await start(name: name, port: port, respond: respond)
        return RunningLoopbackServer(port: bound, task: task)
    }
}

/// A test fake's server on 127.0.0.1: stopped by ``stop()``, or cancelled when released.
final class RunningLoopbackServer: Sendable {
    /// The bound port.
    let port: Int
    private let task: Mutex<Task<Void, Never>?>

    init(port: Int, task: Task<Void, Never>) {
        self.port = port
        self.task = Mutex(task)
    }

    deinit {
        task.withLock { $0?.cancel() }
    }

    /// `http://127.0.0.1:PORT`.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Stops the server and waits until it has closed its port. Stopping twice is harmless.
    func stop() async {
        let running = task.withLock { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        running?.cancel()
        await running?.value
    }
}
