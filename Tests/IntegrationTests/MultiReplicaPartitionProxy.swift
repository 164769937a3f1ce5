import Foundation
import Synchronization

/// A loopback TCP proxy to one upstream port that can be cut off like a network partition.
///
/// While it forwards, every accepted connection is joined to a new connection to the upstream port and bytes flow
/// both ways. ``partition()`` keeps every connection open but stops moving bytes in either direction, and
/// connections accepted meanwhile are left silent (not refused): the client sees what a partition looks like,
/// statements that never get an answer, not a closed port. ``heal()`` lets the bytes flow again; a connection
/// accepted during the partition is joined to the upstream port then.
///
/// It runs on threads of its own (one accepting, one per connection, each waiting in `poll` with a short timeout),
/// never on the tests' cooperative pool. It stops when ``stop()`` is called or when it is released.
final class PartitionProxy: Sendable {
    private let core: PartitionProxyCore

    /// The port clients connect to, on 127.0.0.1.
    var port: Int { core.port }

    /// A proxy listening on a free port of 127.0.0.1 and forwarding to `upstreamPort` on 127.0.0.1.
    init(upstreamPort: Int) throws {
        core = try PartitionProxyCore(upstreamPort: upstreamPort)
    }

    /// Whether bytes are held back now.
    var isPartitioned: Bool { core.isPartitioned }

    /// Stops moving bytes, in both directions, on every connection, within one poll interval (20 ms).
    func partition() { core.partition() }

    /// Lets bytes flow again.
    func heal() { core.heal() }

    /// Closes the listener and every connection; the threads end within one poll interval.
    func stop() { core.stop() }

    deinit {
        core.stop()
    }
}

/// The proxy's state and threads (which hold it until they end, so it cannot stop them from its own `deinit`).
private final class PartitionProxyCore: Sendable {
    let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    private let state = Mutex(State())

    private struct State {
        var partitioned = false
        var stopped = false
        /// Every socket a thread still uses, so ``stop()`` can wake the threads with `shutdown`.
        var sockets: Set<Int32> = []
    }

    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw DaemonError(reason: "the proxy could not create a socket: errno \(errno)") }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            close(listener)
            throw DaemonError(reason: "the proxy could not listen on 127.0.0.1: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        self.port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    var isPartitioned: Bool { state.withLock { $0.partitioned } }

    func partition() { state.withLock { $0.partitioned = true } }

    func heal() { state.withLock { $0.partitioned = false } }

    func stop() {
        let sockets = state.withLock { state -> Set<Int32> in
            state.stopped = true
            return state.sockets
        }
        // shutdown, not close: a thread may still be in poll or send on the descriptor, and closing it here could
        // let the number be reused under that thread. Each thread closes its own descriptors as it ends.
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    // MARK: - Threads

    private var isStopped: Bool { state.withLock { $0.stopped } }

    private func acceptLoop() {
        register(listener)
        defer { unregisterAndClose(listener) }
        while !isStopped {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 20) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            register(client)
            Thread.detachNewThread { [self] in forward(client) }
        }
    }

    /// Moves bytes between `client` and its upstream connection until either side closes or the proxy stops;
    /// moves nothing while partitioned.
    private func forward(_ client: Int32) {
        var upstream: Int32 = -1
        defer {
            unregisterAndClose(client)
            if upstream >= 0 { unregisterAndClose(upstream) }
        }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !isStopped {
            if isPartitioned {
                usleep(20_000)
                continue
            }
            if upstream < 0 {
                guard let connected = connectUpstream() else { return }
                upstream = connected
            }
            var descriptors = [
                pollfd(fd: client, events: Int16(POLLIN), revents: 0),
                pollfd(fd: upstream, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&descriptors, 2, 20) > 0 else { continue }
            // Partitioned while waiting: leave what arrived in the kernel's buffers.
            if isPartitioned { continue }
            for (index, descriptor) in descriptors.enumerated() where descriptor.revents != 0 {
                let (from, to) = index == 0 ? (client, upstream) : (upstream, client)
                let count = recv(from, &buffer, buffer.count, 0)
                guard count > 0, sendAll(to, buffer[0..<count]) else { return }
            }
        }
    }

    private func connectUpstream() -> Int32? {
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard upstream >= 0 else { return nil }
        var address = Self.loopback(port: upstreamPort)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(upstream)
            return nil
        }
        register(upstream)
        return upstream
    }

    /// Sends every byte of `bytes` (no SIGPIPE when the peer is gone); `false` when the socket failed.
    private func sendAll(_ socket: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var remaining = bytes
        while !remaining.isEmpty {
            let sent = remaining.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return false }
            remaining = remaining.dropFirst(sent)
        }
        return true
    }

    private func register(_ socket: Int32) {
        let stopped = state.withLock { state -> Bool in
            state.sockets.insert(socket)
            return state.stopped
        }
        if stopped { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    private func unregisterAndClose(_ socket: Int32) {
        state.withLock { _ = $0.sockets.remove(socket) }
        close(socket)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
