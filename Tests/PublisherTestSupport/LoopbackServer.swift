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
