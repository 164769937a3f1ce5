#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A plain TCP connection to 127.0.0.1, for tests that must send exactly the bytes they choose: half a request,
/// a head without its body, a body sent slowly. Every call is blocking and bounded by a timeout; run many at once
/// through ``RawHTTPConnection/inThread(_:)`` so they do not hold the cooperative thread pool.
public final class RawHTTPConnection: @unchecked Sendable {
    /// Why a connection failed.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// A response read from the connection.
    public struct Response: Sendable {
        public var status: Int
        /// Header names in lower case.
        public var headers: [String: String]
        public var body: String
    }

    private let descriptor: Int32
    private var isOpen = true

    /// Connects to 127.0.0.1:`port`; sends and receives time out after `timeout`.
    public init(port: Int, timeout: Duration = .seconds(30)) throws {
        #if canImport(Glibc)
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var seconds = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            _ = closeDescriptor(descriptor)
            throw Failure(description: "connect to port \(port): errno \(error)")
        }
    }

    deinit {
        if isOpen { _ = closeDescriptor(descriptor) }
    }

    /// Sends every byte of `text`.
    public func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    /// Sends every byte of `bytes`; throws when the peer closed or the send timed out.
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { buffer in
                sendBytes(descriptor, buffer.baseAddress, buffer.count)
            }
            guard sent > 0 else { throw Failure(description: "send: errno \(errno)") }
            offset += sent
        }
    }

    /// Reads one response (head, then a `Content-Length` body), or `nil` when the connection closed or
    /// `timeout` passed first.
    public func readResponse(timeout: Duration = .seconds(10)) -> Response? {
        let deadline = ContinuousClock.now + timeout
        var received: [UInt8] = []
        while ContinuousClock.now < deadline {
            if let response = Self.parse(received) { return response }
            guard let chunk = receive(until: deadline), !chunk.isEmpty else { return Self.parse(received) }
            received += chunk
        }
        return Self.parse(received)
    }

    /// Whether the peer closed the connection (end of stream or reset) before `timeout` passed; bytes it sent
    /// meanwhile are read and dropped.
    public func waitForClose(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let chunk = receive(until: deadline) else { return false }
            if chunk.isEmpty { return true }
        }
        return false
    }

    /// Whether the peer has closed the connection, without waiting.
    public var isClosedByPeer: Bool {
        var descriptorPoll = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptorPoll, 1, 0) > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Closes the connection.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        _ = closeDescriptor(descriptor)
    }

    /// Bytes received before `deadline`: an empty array at end of stream or on a reset, `nil` on time out.
    private func receive(until deadline: ContinuousClock.Instant) -> [UInt8]? {
        let remaining = deadline - ContinuousClock.now
        let milliseconds = max(0, Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))
        var descriptorPoll = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptorPoll, 1, milliseconds) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return [] }
        return Array(buffer[..<count])
    }

    private static func parse(_ bytes: [UInt8]) -> Response? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.firstRange(of: separator) else { return nil }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let body = bytes[end.upperBound...]
        guard body.count >= length else { return nil }
        return Response(status: status, headers: headers, body: String(decoding: body.prefix(length), as: UTF8.self))
    }

    /// Runs `body` on a thread of its own, so blocking socket calls do not hold a thread of the cooperative pool.
    public static func inThread<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Swift.Result { try body() })
            }
        }
    }
}

private func closeDescriptor(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}

private func sendBytes(_ descriptor: Int32, _ pointer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    return send(descriptor, pointer, count, Int32(MSG_NOSIGNAL))
    #else
    return send(descriptor, pointer, count, 0)
    #endif
}
