import Foundation

/// Certificates for TLS tests, made with the `openssl` command line in a scratch directory: a CA, a server
/// certificate for 127.0.0.1 and localhost, a client certificate, a second unrelated CA with its own server
/// certificate, and an expired server certificate. EC P-256 keys, PEM files.
public struct TestCertificates: Sendable {
    public let directory: URL

    /// Why making certificates failed: the command and what openssl printed.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Makes every certificate in a new directory under the system's temporary directory.
    public static func make() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("pdp-tls-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let made = TestCertificates(directory: directory)
        try made.makeCA("ca")
        try made.makeCA("other-ca")
        try made.issue("server", by: "ca", subject: "127.0.0.1", extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
        try made.issue("client", by: "ca", subject: "alertmanager", extensions: "extendedKeyUsage=clientAuth")
        try made.issue("other-server", by: "other-ca", subject: "127.0.0.1", extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
        try made.issue("other-client", by: "other-ca", subject: "intruder", extensions: "extendedKeyUsage=clientAuth")
        try made.issue("expired", by: "ca", subject: "127.0.0.1", extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth", days: -1)
        return made
    }

    /// The path of `name` (e.g. `server.crt`, `server.key`, `ca.crt`).
    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Issues a new certificate and key named `name`, signed by `ca`, valid from now for `days` (negative:
    /// already expired).
    public func issue(_ name: String, by ca: String, subject: String, extensions: String, days: Int = 2) throws {
        try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path("\(name).key"),
                 "-out", path("\(name).csr"), "-subj", "/CN=\(subject)"])
        try Data(extensions.utf8).write(to: URL(fileURLWithPath: path("\(name).ext")))
        try run(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(ca).crt"), "-CAkey", path("\(ca).key"),
                 "-CAcreateserial", "-out", path("\(name).crt"), "-days", "\(days)", "-extfile", path("\(name).ext")])
    }

    private func makeCA(_ name: String) throws {
        try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path("\(name).key"),
                 "-out", path("\(name).crt"), "-days", "2", "-subj", "/CN=\(name)",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    }

    private func run(_ arguments: [String]) throws {
        let exit = try ChildProcess.runBlocking("openssl", arguments, mergingErrors: true)
        guard exit.status == 0 else {
            throw Failure(description: "openssl \(arguments.joined(separator: " ")) failed: \(exit.output)")
        }
    }

    /// Removes the directory.
    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Runs `body`, which blocks (a child process, a file read to its end), on a thread of its own: never on the
/// concurrency pool, whose few threads (two on a two-core machine) in-process servers of other tests need.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

extension TestCertificates {
    /// ``make()`` on a thread of its own.
    public static func makeOffThePool() async throws -> TestCertificates {
        try await onOwnThread { try make() }
    }
}
