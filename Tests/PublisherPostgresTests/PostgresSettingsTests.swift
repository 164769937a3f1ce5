import Foundation
import PostgresNIO
import PublisherPostgres
import PublisherTestSupport
import Testing

@Suite("PostgreSQL settings: URL, password file, sslmode, CA file, redaction", .timeLimit(.minutes(2)))
struct PostgresSettingsTests {
    static let password = "pa:ss/w@rd#1"
    static let encodedPassword = "pa%3Ass%2Fw%40rd%231"

    @Test("postgres:// and postgresql:// are PostgreSQL URLs; paths and other schemes are not")
    func recognisesURLs() {
        #expect(PostgresSettings.isPostgresURL("postgres://u@h/d"))
        #expect(PostgresSettings.isPostgresURL("PostgreSQL://u@h/d"))
        #expect(PostgresSettings.isPostgresURL("  postgres://u@h/d"))
        #expect(!PostgresSettings.isPostgresURL("/var/lib/publisher.sqlite"))
        #expect(!PostgresSettings.isPostgresURL("mysql://u@h/d"))
        #expect(!PostgresSettings.isPostgresURL("postgres:/u@h/d"))
    }

    @Test("a full URL is parsed: percent-decoded user, password and database, port, sslmode, application_name")
    func parsesAFullURL() throws {
        let settings = try PostgresSettings(
            url: "postgresql://pager%20duty:\(Self.encodedPassword)@db.example.com:6543/alerts%2Ddb?sslmode=require&application_name=replica-1")
        #expect(settings.user == "pager duty")
        #expect(settings.host == "db.example.com")
        #expect(settings.port == 6543)
        #expect(settings.database == "alerts-db")
        #expect(settings.sslMode == .require)
        #expect(settings.applicationName == "replica-1")
        let configuration = settings.clientConfiguration
        #expect(configuration.username == "pager duty")
        #expect(configuration.password == Self.password)
        #expect(configuration.database == "alerts-db")
        #expect(configuration.host == "db.example.com")
        #expect(configuration.port == 6543)
        let startup = Dictionary(uniqueKeysWithValues: configuration.options.additionalStartupParameters)
        #expect(startup == ["synchronous_commit": "on", "application_name": "replica-1"])
        #expect(configuration.options.connectTimeout == .seconds(5))
    }

    @Test("defaults: port 5432, the user's database, application_name pagerduty-publisher, no TLS on loopback")
    func defaults() throws {
        for host in ["127.0.0.1", "localhost", "[::1]", "127.3.4.5"] {
            let settings = try PostgresSettings(url: "postgres://publisher@\(host)")
            #expect(settings.port == 5432)
            #expect(settings.database == nil)
            #expect(settings.sslMode == .disable)
            #expect(settings.applicationName == "pagerduty-publisher")
            #expect(settings.clientConfiguration.password == nil)
        }
        #expect(try PostgresSettings(url: "postgres://u@[::1]:5433/d").host == "::1")
        #expect(try PostgresSettings(url: "postgres://u@[::1]:5433/d").port == 5433)
    }

    @Test("a non-loopback host needs an explicit sslmode; prefer, allow, verify-ca and unknown modes are refused")
    func sslModes() throws {
        let missing = #expect(throws: PostgresSettingsError.self) {
            try PostgresSettings(url: "postgres://u:\(Self.encodedPassword)@db.example.com/d")
        }
        #expect(missing?.reason.contains("sslmode") == true)
        #expect(try PostgresSettings(url: "postgres://u@db.example.com/d?sslmode=disable").sslMode == .disable)
        #expect(try PostgresSettings(url: "postgres://u@db.example.com/d?sslmode=verify-full").sslMode == .verifyFull)
        for mode in ["prefer", "allow", "verify-ca", "bogus"] {
            let error = #expect(throws: PostgresSettingsError.self) {
                try PostgresSettings(url: "postgres://u@db.example.com/d?sslmode=\(mode)")
            }
            #expect(error?.reason.contains("sslmode=\(mode)") == true)
        }
    }

    @Test("unknown or repeated query parameters are errors that name them")
    func unknownParameters() {
        let error = #expect(throws: PostgresSettingsError.self) {
            try PostgresSettings(url: "postgres://u@127.0.0.1/d?sslmode=disable&connect_timeout=3&target_session_attrs=any")
        }
        #expect(error?.reason.contains("connect_timeout, target_session_attrs") == true)
        #expect(throws: PostgresSettingsError.self) {
            try PostgresSettings(url: "postgres://u@127.0.0.1/d?sslmode=disable&sslmode=require")
        }
    }

    @Test("malformed URLs are refused with a sentence that never contains the password")
    func malformedURLs() {
        let bad = [
            "mysql://u:\(Self.encodedPassword)@127.0.0.1/d",
            "postgres://:\(Self.encodedPassword)@127.0.0.1/d",
            "postgres://u:\(Self.encodedPassword)@/d",
            "postgres://u:\(Self.encodedPassword)@127.0.0.1:99999/d",
            "postgres://u:\(Self.encodedPassword)@127.0.0.1:port/d",
            "postgres://u:\(Self.encodedPassword)@127.0.0.1/d/extra",
            "postgres://u:\(Self.password)@127.0.0.1/d",
            "postgres://u:Zq9@Xw7@127.0.0.1/d",
            "postgres://u:%ZZ@127.0.0.1/d",
            "postgres://u:\(Self.encodedPassword)@h1,h2/d?sslmode=require",
            "postgres://u:\(Self.encodedPassword)@[::1/d",
            "postgres://u:\(Self.encodedPassword)@127.0.0.1/d?password=\(Self.encodedPassword)",
        ]
        for url in bad {
            let error = #expect(throws: PostgresSettingsError.self, "\(url)") { try PostgresSettings(url: url) }
            let reason = error?.reason ?? ""
            #expect(!reason.isEmpty)
            for secret in [Self.password, Self.encodedPassword, "Zq9", "Xw7"] {
                #expect(!reason.contains(secret), "\(reason)")
            }
        }
    }

    @Test("the password file's first line wins over the URL's password; a blank or missing file is an error")
    func passwordFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pg-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("password").path
        try "  from-the-file \nsecond line\n".write(toFile: file, atomically: true, encoding: .utf8)
        let settings = try PostgresSettings(url: "postgres://u:from-the-url@127.0.0.1/d", passwordFile: file)
        #expect(settings.clientConfiguration.password == "from-the-file")
        #expect(try PostgresSettings(url: "postgres://u@127.0.0.1/d", passwordFile: file).clientConfiguration.password
            == "from-the-file")

        let blank = directory.appendingPathComponent("blank").path
        try " \n\nsecret-on-line-3\n".write(toFile: blank, atomically: true, encoding: .utf8)
        let blankError = #expect(throws: PostgresSettingsError.self) {
            try PostgresSettings(url: "postgres://u@127.0.0.1/d", passwordFile: blank)
        }
        #expect(blankError?.reason.contains("blank") == true)
        #expect(blankError?.reason.contains("secret-on-line-3") == false)
        let missing = #expect(throws: PostgresSettingsError.self) {
            try PostgresSettings(url: "postgres://u@127.0.0.1/d", passwordFile: directory.appendingPathComponent("none").path)
        }
        #expect(missing?.reason.contains("password file") == true)
    }

    @Test("redacted replaces the password with *** and keeps the rest")
    func redaction() throws {
        let settings = try PostgresSettings(
            url: "postgres://publisher:\(Self.encodedPassword)@db.example.com/alerts?sslmode=require")
        #expect(settings.redacted == "postgres://publisher:***@db.example.com:5432/alerts?sslmode=require")
        #expect(!settings.redacted.contains(Self.encodedPassword) && !settings.redacted.contains(Self.password))
        #expect(try PostgresSettings(url: "postgresql://u@[::1]:6000").redacted == "postgresql://u@[::1]:6000")
    }

    @Test("require encrypts without verifying; verify-full verifies against the CA file or the system's roots")
    func tlsConfiguration() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pg-ca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("ca.pem").path
        try makeSelfSignedCertificate(at: certificate, in: directory)

        let verified = try PostgresSettings(
            url: "postgres://u@db.example.com/d?sslmode=verify-full", caFile: certificate)
        #expect(verified.caFile == certificate)
        #expect(try PostgresSettings(url: "postgres://u@db.example.com/d?sslmode=verify-full").caFile == nil)
        _ = verified.clientConfiguration
        _ = try PostgresSettings(url: "postgres://u@db.example.com/d?sslmode=require").clientConfiguration

        let withRequire = #expect(throws: PostgresSettingsError.self) {
            try PostgresSettings(url: "postgres://u@db.example.com/d?sslmode=require", caFile: certificate)
        }
        #expect(withRequire?.reason.contains("verify-full") == true)
        let notPEM = directory.appendingPathComponent("not.pem").path
        try "not a certificate".write(toFile: notPEM, atomically: true, encoding: .utf8)
        #expect(throws: PostgresSettingsError.self) {
            try PostgresSettings(url: "postgres://u@db.example.com/d?sslmode=verify-full", caFile: notPEM)
        }
        #expect(throws: PostgresSettingsError.self) {
            try PostgresSettings(
                url: "postgres://u@db.example.com/d?sslmode=verify-full",
                caFile: directory.appendingPathComponent("missing.pem").path)
        }
    }

    @Test("the ledger lock id is a fixed function of route and dedup_key (replicas of every version must agree)")
    func ledgerLockIDIsPinned() {
        // FNV-1a (64-bit) of the route's UTF-8, 0xFF, the dedup_key's UTF-8, as computed independently.
        #expect(PostgresStore.ledgerLockID(route: "", dedupKey: "") == Int64(bitPattern: 0xaf64_724c_8602_eb6e))
        #expect(
            PostgresStore.ledgerLockID(route: "default", dedupKey: "0123456789abcdef")
                == Int64(bitPattern: 0x9085_3e13_464a_884f))
        #expect(PostgresStore.ledgerLockID(route: "ab", dedupKey: "c") != PostgresStore.ledgerLockID(route: "a", dedupKey: "bc"))
    }

    private func makeSelfSignedCertificate(at path: String, in directory: URL) throws {
        let exit = try ChildProcess.runBlocking(
            "openssl",
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
             "-keyout", directory.appendingPathComponent("ca.key").path, "-out", path],
            mergingErrors: true)
        #expect(exit.status == 0, "\(exit.output)")
    }
}

@Suite("PostgreSQL tests in CI")
struct PostgresAvailabilityTests {
    @Test(
        "under CI=true the PostgreSQL tests are configured (a skip would be a silent gap)",
        .enabled(if: ProcessInfo.processInfo.environment["CI"] == "true"))
    func configuredInCI() {
        #expect(PostgresAvailability.isConfigured, Comment(rawValue: PostgresAvailability.reason))
    }
}
