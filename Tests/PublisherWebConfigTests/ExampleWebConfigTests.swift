import Foundation
import Testing

@testable import PublisherWebConfig

/// The web configurations shipped in examples/ and the Kubernetes overlay stay valid, and their hash is of the
/// password their comments give.
@Suite("Example web configuration files")
struct ExampleWebConfigTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: ["examples/web-config.yml", "deploy/kubernetes/overlays/tls/web-config.yml"])
    func parsesAndItsHashIsOfTheDocumentedExamplePassword(_ path: String) async throws {
        let file = Self.repository.appendingPathComponent(path)
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.contains("\"example-password\""))
        let config = try WebConfig.parse(yaml: text, directory: file.deletingLastPathComponent().path)
        #expect(config.tls?.certFile == "/etc/pagerduty-publisher/tls/tls.crt")
        #expect(config.tls?.clientCAFile == "/etc/pagerduty-publisher/tls/ca.crt")
        let users = BasicAuthUsers(users: config.users)
        #expect(await users.verify(user: "alertmanager", password: "example-password"))
        #expect(!config.headers.isEmpty)
    }
}
