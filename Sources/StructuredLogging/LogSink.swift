#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Where rendered log lines go. `line` carries no trailing newline.
public protocol LogSink: Sendable {
    /// Writes one rendered log line.
    func write(_ line: String)
}

/// Writes each line, newline included, to standard output (or another file descriptor) with a single
/// unbuffered `write(2)`, so lines from concurrent loggers never interleave and nothing waits in a buffer.
public final class StandardOutputSink: LogSink {
    private let fileDescriptor: Int32
    private let lock = Mutex(())

    /// Creates a sink for `fileDescriptor`; standard output by default (pass `2` for standard error).
    public init(fileDescriptor: Int32 = 1) {
        self.fileDescriptor = fileDescriptor
    }

    /// Writes `line` and a newline.
    public func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        lock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = systemWrite(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return  // the output is gone (closed pipe, full disk): a logger must not crash the daemon
                    }
                }
            }
        }
    }
}

private func systemWrite(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Darwin)
    Darwin.write(descriptor, pointer, count)
    #elseif canImport(Musl)
    Musl.write(descriptor, pointer, count)
    #else
    Glibc.write(descriptor, pointer, count)
    #endif
}

/// Keeps every line in memory; for tests.
public final class MemoryLogSink: LogSink {
    private let storage = Mutex<[String]>([])

    /// Creates an empty sink.
    public init() {}

    /// Appends `line`.
    public func write(_ line: String) {
        storage.withLock { $0.append(line) }
    }

    /// The lines written so far, oldest first.
    public var lines: [String] {
        storage.withLock { $0 }
    }

    /// Forgets every line written so far.
    public func removeAll() {
        storage.withLock { $0.removeAll() }
    }
}
