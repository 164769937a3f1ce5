import Foundation
import Testing

@testable import PublisherWebConfig

@Suite("Web configuration file: parsing and validation")
struct WebConfigParsingTests {
    static let hash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

    func problems(_ yaml: String) -> [String] {
        do {
            _ = try WebConfig.parse(yaml: yaml, directory: "/etc/pdp")
            return []
        } catch {
            return error.problems
        }
    }

    @Test func aFullFileIsReadWithRelativePathsResolvedAgainstItsDirectory() throws {
        let config = try WebConfig.parse(
            yaml: """
                tls_server_config:
                  cert_file: tls/tls.crt
                  key_file: /keys/tls.key
                  client_ca_file: ../ca/ca.crt
                  client_auth_type: RequireAndVerifyClientCert
                  min_version: TLS13
                  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]
                http_server_config:
                  headers:
                    X-Frame-Options: deny
                    Strict-Transport-Security: max-age=31536000
                basic_auth_users:
                  alertmanager: \(Self.hash)
                """, directory: "/etc/pdp")
        let tls = try #require(config.tls)
        #expect(tls.certFile == "/etc/pdp/tls/tls.crt")
        #expect(tls.keyFile == "/keys/tls.key")
        #expect(tls.clientCAFile == "/etc/ca/ca.crt")
        #expect(tls.clientAuth == .requireAndVerifyClientCert)
        #expect(tls.minVersion == .tlsv13)
        #expect(tls.maxVersion == .tlsv13)
        #expect(tls.cipherSuites == [.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256])
        #expect(config.users == ["alertmanager": Self.hash])
        #expect(config.headers.map(\.name) == ["Strict-Transport-Security", "X-Frame-Options"])
        #expect(config.description.contains("alertmanager"))
        #expect(!config.description.contains(Self.hash))
    }

    @Test func anEmptyFileIsPlainHTTPWithoutUsers() throws {
        #expect(try WebConfig.parse(yaml: "", directory: "/") == WebConfig())
        #expect(try WebConfig.parse(yaml: "basic_auth_users:\n", directory: "/") == WebConfig())
    }

    @Test func minVersionDefaultsToTLS12() throws {
        let config = try WebConfig.parse(yaml: "tls_server_config: {cert_file: a.crt, key_file: a.key}", directory: "/d")
        #expect(config.tls?.minVersion == .tlsv12)
        #expect(config.tls?.clientAuth == .noClientCert)
    }

    @Test func unknownKeysAreProblemsNamingThem() {
        let found = problems("""
            tls_server_config: {cert_file: a, key_file: b, ocsp: yes, curve_preferences: [X25519]}
            http_server_config: {compression: true}
            rate_limit: {burst: 1}
            """)
        #expect(found.count == 4)
        #expect(found.contains { $0.contains("'rate_limit'") })
        #expect(found.contains { $0.contains("'ocsp'") })
        #expect(found.contains { $0.contains("curve_preferences is not supported") })
        #expect(found.contains { $0.contains("http_server_config") && $0.contains("'compression'") })
    }

    @Test func everyTLSProblemIsListedAtOnce() {
        let found = problems("""
            tls_server_config:
              cert_file: a.crt
              client_auth_type: VerifyClientCertAlways
              min_version: TLS14
              cipher_suites: [TLS_AES_128_GCM_SHA256, TLS_RSA_WITH_RC4_128_SHA, NOT_A_CIPHER]
            """)
        #expect(found.contains { $0.contains("key_file is missing") })
        #expect(found.contains { $0.contains("client_auth_type must be one of NoClientCert, RequestClientCert") })
        #expect(found.contains { $0.contains("min_version must be one of TLS10, TLS11, TLS12, TLS13") })
        #expect(found.contains { $0.contains("cipher_suites[0]: TLS_AES_128_GCM_SHA256 is not supported: TLS 1.3") })
        #expect(found.contains { $0.contains("cipher_suites[1]: TLS_RSA_WITH_RC4_128_SHA is not supported") })
        #expect(found.contains { $0.contains("cipher_suites[2]: unknown cipher suite 'NOT_A_CIPHER'") })
    }

    @Test func clientCAsAndClientAuthMustAgree() {
        #expect(problems("tls_server_config: {cert_file: a, key_file: b, client_ca_file: ca}").contains {
            $0.contains("client_ca_file is set but client_auth_type is NoClientCert")
        })
        #expect(problems("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}").contains {
            $0.contains("needs client_ca_file")
        })
        // exporter-toolkit's old name still works.
        #expect(problems("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireClientCert}").isEmpty)
        #expect(problems("tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, max_version: TLS12}").contains {
            $0.contains("min_version must not be above max_version")
        })
    }

    @Test func aUserWhoseValueIsNotABcryptHashIsAProblemThatDoesNotQuoteTheValue() {
        let found = problems("""
            basic_auth_users:
              alice: hunter2-plain-password
              bob: \(Self.hash)
              carol: "$2y$03$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
            """)
        #expect(found.count == 2)
        #expect(found.contains { $0.hasPrefix("basic_auth_users.alice must be a bcrypt hash") })
        #expect(found.contains { $0.hasPrefix("basic_auth_users.carol must be a bcrypt hash") })
        #expect(!found.joined().contains("hunter2"))
    }

    @Test func onlyExporterToolkitsHeadersAndValuesAreAllowed() {
        #expect(problems("http_server_config: {headers: {X-Content-Type-Options: nosniff, X-XSS-Protection: '1; mode=block', Content-Security-Policy: \"default-src 'self'\"}}").isEmpty)
        let found = problems("http_server_config: {headers: {X-Frame-Options: allow, Server: me, X-Content-Type-Options: sniff}}")
        #expect(found.count == 3)
        #expect(found.contains { $0.contains("headers.Server cannot be configured") })
        #expect(found.contains { $0.contains("headers.X-Frame-Options must be one of \"deny\", \"sameorigin\"") })
        #expect(found.contains { $0.contains("headers.X-Content-Type-Options must be one of \"nosniff\"") })
        // Names are compared exactly, as exporter-toolkit does.
        #expect(!problems("http_server_config: {headers: {x-frame-options: deny}}").isEmpty)
    }

    @Test func brokenYAMLIsOneProblemWithoutTheFilesText() {
        let found = problems("basic_auth_users:\n  alice: [secret-value\n")
        #expect(found.count == 1)
        #expect(found[0].hasPrefix("not valid YAML"))
        #expect(!found[0].contains("secret-value"))
    }
}
