import Foundation
import HummingbirdBcrypt
import PublisherTestSupport
import Testing

@testable import PublisherWebConfig

@Suite("Web configuration file: loading certificates, and reloads refused whole")
struct WebConfigLoaderTests {
    func write(_ text: String, in directory: URL, name: String = "web.yml") throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func aValidFileLoadsWithItsCertificateKeyAndCA() async throws {
        let certs = try await TestCertificates.makeOffThePool()
        defer { certs.remove() }
        let path = try write("""
            tls_server_config:
              cert_file: server.crt
              key_file: server.key
              client_ca_file: ca.crt
              client_auth_type: RequireAndVerifyClientCert
            basic_auth_users:
              alertmanager: \(Bcrypt.hash("pw", cost: 4))
            """, in: certs.directory, name: "valid.yml")
        let loaded = try WebConfigLoader.load(path: path)
        #expect(loaded.tls != nil)
        #expect(loaded.users != nil)
        #expect(loaded.files == [path, certs.path("server.crt"), certs.path("server.key"), certs.path("ca.crt")])
    }

    @Test func aKeyThatDoesNotMatchTheCertificateIsRefused() async throws {
        let certs = try await TestCertificates.makeOffThePool()
        defer { certs.remove() }
        let path = try write("tls_server_config: {cert_file: server.crt, key_file: client.key}", in: certs.directory, name: "mismatch.yml")
        #expect {
            try WebConfigLoader.load(path: path)
        } throws: { error in
            (error as? WebConfigProblems)?.problems.contains { $0.contains("cannot be used together") } ?? false
        }
    }

    @Test func missingFilesAreEachNamed() async throws {
        let certs = try await TestCertificates.makeOffThePool()
        defer { certs.remove() }
        let path = try write(
            "tls_server_config: {cert_file: none.crt, key_file: none.key, client_ca_file: none-ca.crt, client_auth_type: VerifyClientCertIfGiven}",
            in: certs.directory, name: "missing.yml")
        do {
            _ = try WebConfigLoader.load(path: path)
            Issue.record("a file naming missing files loaded")
        } catch {
            #expect(error.problems.count == 3)
            #expect(error.problems.allSatisfy { $0.hasPrefix(path) && $0.contains("missing or unreadable") })
            #expect(error.problems.contains { $0.contains("cert_file") })
            #expect(error.problems.contains { $0.contains("key_file") })
            #expect(error.problems.contains { $0.contains("client_ca_file") })
        }
    }

    @Test func aKeyFileProblemNeverShowsTheKey() async throws {
        let certs = try await TestCertificates.makeOffThePool()
        defer { certs.remove() }
        let path = try write("tls_server_config: {cert_file: server.crt, key_file: server.crt}", in: certs.directory, name: "keyiscert.yml")
        let key = try String(contentsOfFile: certs.path("server.key"), encoding: .utf8)
        do {
            _ = try WebConfigLoader.load(path: path)
            Issue.record("a certificate loaded as a key")
        } catch {
            #expect(error.problems.contains { $0.contains("key_file") && $0.contains("not in PEM form") })
            #expect(!error.description.contains("PRIVATE KEY"))
            #expect(!error.description.contains(key.split(separator: "\n")[1]))
        }
    }

    @Test func anInvalidReloadIsRefusedWholeAndTheSettingsInForceStay() async throws {
        let certs = try await TestCertificates.makeOffThePool()
        defer { certs.remove() }
        let first = """
            tls_server_config: {cert_file: server.crt, key_file: server.key}
            basic_auth_users: {alertmanager: \(Bcrypt.hash("pw", cost: 4))}
            http_server_config: {headers: {X-Frame-Options: deny}}
            """
        let path = try write(first, in: certs.directory, name: "reload.yml")
        let live = LiveWebConfig(path: path, initial: try WebConfigLoader.load(path: path))
        #expect(live.current.generation == 1)

        // A valid user list with a broken header: nothing of it is taken, not even the new users.
        _ = try write("""
            tls_server_config: {cert_file: server.crt, key_file: server.key}
            basic_auth_users: {someone-else: \(Bcrypt.hash("pw", cost: 4))}
            http_server_config: {headers: {X-Frame-Options: allow-from}}
            """, in: certs.directory, name: "reload.yml")
        #expect(throws: WebConfigProblems.self) { try live.reload() }
        #expect(live.current.generation == 1)
        #expect(live.current.config.users.keys.sorted() == ["alertmanager"])
        #expect(live.current.headers == [ResponseHeader(name: "X-Frame-Options", value: "deny")])

        // Turning TLS off needs a restart: refused too.
        _ = try write("basic_auth_users: {alertmanager: \(Bcrypt.hash("pw", cost: 4))}", in: certs.directory, name: "reload.yml")
        #expect(throws: WebConfigProblems.self) { try live.reload() }
        #expect(live.current.tls != nil)

        // A valid file is taken whole.
        _ = try write(first.replacingOccurrences(of: "deny", with: "sameorigin"), in: certs.directory, name: "reload.yml")
        try live.reload()
        #expect(live.current.generation == 2)
        #expect(live.current.headers == [ResponseHeader(name: "X-Frame-Options", value: "sameorigin")])
    }
}
