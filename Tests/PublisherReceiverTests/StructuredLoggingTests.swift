import Foundation
import Logging
import StructuredLogging
import Testing

@Suite("Structured log lines", .timeLimit(.minutes(2)))
struct StructuredLoggingTests {
    /// 2026-01-02T03:04:05.625Z
    static let fixedInstant = Date(timeIntervalSince1970: 1_767_323_045.625)

    func logger(
        _ format: LogFormat,
        level: Logger.Level = .info,
        redactor: SecretRedactor = SecretRedactor(),
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> (Logger, MemoryLogSink) {
        let sink = MemoryLogSink()
        let logger = Logger(label: "pagerduty.receiver") { label in
            StructuredLogHandler(
                label: label,
                format: format,
                level: level,
                redactor: redactor,
                sink: sink,
                metadataProvider: metadataProvider,
                now: { Self.fixedInstant }
            )
        }
        return (logger, sink)
    }

    @Test("JSON lines: fixed keys first, metadata flattened, nested values as JSON, escaping")
    func jsonShape() throws {
        let (logger, sink) = logger(.json)
        logger.info(
            "alert \"DiskFull\"\nfired ☁️ \u{01}",
            metadata: [
                "route": "db",
                "count": "3",
                "labels": ["severity": "critical", "équipe": "stockage"],
                "ids": ["a", "b"],
                "msg": "collides",
            ]
        )
        let line = try #require(sink.lines.first)
        #expect(sink.lines.count == 1)
        #expect(!line.contains("\n"))
        #expect(line.hasPrefix(#"{"ts":"2026-01-02T03:04:05.625Z","level":"info","logger":"pagerduty.receiver","msg":"#))
        let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["msg"] as? String == "alert \"DiskFull\"\nfired ☁️ \u{01}")
        #expect(object["route"] as? String == "db")
        #expect(object["count"] as? String == "3")
        #expect(object["labels"] as? [String: String] == ["severity": "critical", "équipe": "stockage"])
        #expect(object["ids"] as? [String] == ["a", "b"])
        #expect(object["meta.msg"] as? String == "collides")
        #expect(line.contains(#"\"DiskFull\"\nfired ☁️ \u0001"#))
        // metadata keys in sorted order after the fixed ones
        let order = ["\"count\"", "\"ids\"", "\"labels\"", "\"meta.msg\"", "\"route\""].map {
            line.range(of: $0)!.lowerBound
        }
        #expect(order == order.sorted())
    }

    @Test("logfmt: quotes only what needs quoting")
    func logfmtShape() throws {
        let (logger, sink) = logger(.logfmt)
        logger.warning(
            "webhook rejected",
            metadata: ["field": "alerts[2].status", "reason": "must be \"firing\"", "empty": "", "n": "1"]
        )
        #expect(sink.lines == [
            #"ts=2026-01-02T03:04:05.625Z level=warning logger=pagerduty.receiver msg="webhook rejected" empty="" field=alerts[2].status n=1 reason="must be \"firing\"""#,
        ])
    }

    @Test("text: time, upper-case level, label, message, then metadata; one line")
    func textShape() throws {
        let (logger, sink) = logger(.text)
        logger.error("storage down\nretrying", metadata: ["reason": "disk full", "attempt": "2"])
        #expect(sink.lines == [
            #"2026-01-02T03:04:05.625Z ERROR [pagerduty.receiver] storage down\nretrying attempt=2 reason="disk full""#,
        ])
    }

    @Test("a registered secret is redacted from message and metadata in every format", arguments: LogFormat.allCases)
    func redaction(_ format: LogFormat) throws {
        let secret = "R0UT1NGKEY0123456789abcdefABCDEF"
        let redactor = SecretRedactor()
        let (logger, sink) = logger(format, redactor: redactor)
        redactor.register(secret)
        logger.info(
            "sending with \(secret)",
            metadata: ["key": "\(secret)", "nested": ["inner": ["x\(secret)y"]], "ok": "fine"]
        )
        let line = try #require(sink.lines.first)
        #expect(!line.contains(secret))
        #expect(line.components(separatedBy: "[REDACTED]").count - 1 == 3)
        #expect(line.contains("fine"))
    }

    @Test("metadata from handler, provider and call merge, the call winning")
    func metadataSources() throws {
        let provider = Logger.MetadataProvider { ["trace": "t-1", "source": "provider"] }
        let (base, sink) = logger(.json, metadataProvider: provider)
        var logger = base
        logger[metadataKey: "component"] = "receiver"
        logger[metadataKey: "source"] = "handler"
        logger.info("hello", metadata: ["source": "call"])
        let line = try #require(sink.lines.first)
        let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["component"] as? String == "receiver")
        #expect(object["trace"] as? String == "t-1")
        #expect(object["source"] as? String == "call")
    }

    @Test("records below the level are dropped")
    func levelFiltering() {
        let (logger, sink) = logger(.logfmt, level: .warning)
        logger.debug("debug")
        logger.info("info")
        logger.warning("warning")
        logger.error("error")
        #expect(sink.lines.count == 2)
        #expect(sink.lines.allSatisfy { $0.contains("level=warning") || $0.contains("level=error") })
    }

    @Test("bootstrap's factory makes handlers sharing the sink and redactor")
    func bootstrapFactory() {
        let sink = MemoryLogSink()
        let factory = StructuredLogHandler.bootstrap(
            format: .text, level: .info, redactor: SecretRedactor(secrets: ["hunter2"]), sink: sink
        )
        let logger = Logger(label: "a", factory: factory)
        logger.info("password hunter2")
        logger.debug("hidden")
        #expect(sink.lines.count == 1)
        #expect(sink.lines[0].hasSuffix("INFO [a] password [REDACTED]"))
    }
}

@Suite("Secret redactor", .timeLimit(.minutes(2)))
struct SecretRedactorTests {
    @Test("replaces every occurrence of every secret, the longest first")
    func replacesAll() {
        let redactor = SecretRedactor(secrets: ["abc", "abcdef", ""])
        #expect(redactor.redact("x abcdef y abc z abcabc") == "x [REDACTED] y [REDACTED] z [REDACTED][REDACTED]")
    }

    @Test("text without secrets is returned unchanged; empty secrets are ignored")
    func unchanged() {
        let redactor = SecretRedactor()
        redactor.register("")
        #expect(redactor.isEmpty)
        redactor.register("tok")
        #expect(redactor.redact("nothing here ☁️") == "nothing here ☁️")
        #expect(redactor.redact("a tok ☁️") == "a [REDACTED] ☁️")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Standard output sink", .timeLimit(.minutes(2)))
struct StandardOutputSinkTests {
    @Test("writes each line followed by a newline to its file descriptor")
    func writesLines() throws {
        var descriptors: [Int32] = [0, 0]
        try #require(pipe(&descriptors) == 0)
        defer { close(descriptors[0]) }
        let sink = StandardOutputSink(fileDescriptor: descriptors[1])
        sink.write(#"{"msg":"one"}"#)
        sink.write("two ☁️")
        close(descriptors[1])
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let count = read(descriptors[0], &buffer, buffer.count)
            if count <= 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        #expect(String(decoding: bytes, as: UTF8.self) == "{\"msg\":\"one\"}\ntwo ☁️\n")
    }
}
