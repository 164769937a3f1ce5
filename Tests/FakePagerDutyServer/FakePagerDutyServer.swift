import ArgumentParser
import Dispatch
import Foundation
import PublisherTestSupport

/// Runs ``FakePagerDuty`` as a process of its own for the load, storm and chaos scripts.
///
/// Prints its base URL (`http://127.0.0.1:PORT`) as the first line on standard output, then serves until killed.
/// Faults are switched at run time through `POST /_control` (see ``FakePagerDuty/Faults``). With `--webhook-url`,
/// it keeps PagerDuty's incidents and sends signed v3 webhooks there: a responder's action through
/// `POST /_control/incidents`, and with `--events-api-webhooks` the changes the Events API makes.
@main
struct FakePagerDutyServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-pagerduty",
        abstract: "A fake PagerDuty Events API v2 on loopback, for scripts.",
        discussion: """
            Control: POST /_control with {"mode":"normal"|"outage"|"errors","error_rate":0.3,"latency_ms":2000,\
            "rate_limit_storm":true,"retry_after_s":1} (missing members take their defaults: no fault); \
            GET /_control returns the faults in force and the answer counts. \
            With --webhook-url: POST /_control/incidents with {"dedup_key":"…","action":"acknowledge"|"resolve"|\
            "unacknowledge"|"reopen","by":"Ada Responder"} changes the incident and sends its signed webhook.
            """
    )

    @Option(help: "Loopback port to listen on; 0 picks a free one.")
    var port = 0

    @Option(name: .customLong("rate-limit-per-minute"), help: "Answer 429 beyond N events per routing key in any 60 s.")
    var rateLimitPerMinute: Int?

    @Option(help: "Append one JSON line per answered event to this file.")
    var record: String?

    @Option(help: "Seed of the randomness behind injected errors.")
    var seed: UInt64 = 1

    @Flag(
        name: .customLong("no-schema-validation"),
        help: """
            Accept events without validating them. By default they are validated against the project's schema, \
            and against PagerDuty's OpenAPI file too when PAGERDUTY_EVENTS_OPENAPI names it.
            """
    )
    var noSchemaValidation = false

    @Option(name: .customLong("webhook-url"), help: "Send PagerDuty's signed v3 webhooks to this loopback URL (e.g. the daemon's http://127.0.0.1:9095/v1/pagerduty), and keep the incidents.")
    var webhookURL: String?

    @Option(name: .customLong("webhook-secret-file"), help: "File holding the webhooks' signing secret; repeat to sign with several (a rotation).")
    var webhookSecretFiles: [String] = []

    @Flag(name: .customLong("events-api-webhooks"), help: "Also send the webhooks of the changes the Events API makes (incident.triggered, .acknowledged, .resolved), as PagerDuty does.")
    var eventsAPIWebhooks = false

    func validate() throws {
        if (webhookURL == nil) != webhookSecretFiles.isEmpty {
            throw ValidationError("--webhook-url and --webhook-secret-file go together")
        }
        if eventsAPIWebhooks, webhookURL == nil {
            throw ValidationError("--events-api-webhooks needs --webhook-url")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        if let rateLimitPerMinute, rateLimitPerMinute < 1 {
            throw ValidationError("--rate-limit-per-minute must be at least 1")
        }
    }

    func run() async throws {
        let recorder = try record.map(AnswerRecorder.init(path:))
        let fake = try await FakePagerDuty.start(options: .init(
            port: port,
            validatesSchema: !noSchemaValidation,
            controlEndpoint: true,
            seed: seed,
            rateLimitPerMinute: rateLimitPerMinute,
            keepsRequests: false,
            tracksIncidents: webhookURL != nil
        ))
        if let webhookURL {
            let secrets = try webhookSecretFiles.map { path in
                try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            try fake.setWebhookSubscription(.init(url: webhookURL, signingSecrets: secrets, sendsEventsAPIChanges: eventsAPIWebhooks))
        }
        if let recorder {
            fake.observeAnswers { recorder.append($0) }
        }
        FileHandle.standardOutput.write(Data((fake.baseURL + "\n").utf8))
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(3600))
        }
    }
}

/// Appends one JSON line per answered event to a file, on a serial queue of its own (never on the server's threads).
final class AnswerRecorder: Sendable {
    /// The record file could not be opened.
    struct CannotOpen: Error, CustomStringConvertible {
        var path: String
        var description: String { "cannot open the record file \(path) for appending" }
    }

    private let handle: FileHandle
    private let queue = DispatchQueue(label: "fake-pagerduty.recorder")

    init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw CannotOpen(path: path) }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw CannotOpen(path: path) }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    func append(_ request: FakePagerDuty.ReceivedRequest) {
        let line = RecordLine(
            receivedAt: request.receivedAt.timeIntervalSince1970,
            path: request.path,
            routingKey: request.routingKey,
            dedupKey: request.dedupKey,
            eventAction: request.eventAction,
            status: request.status
        )
        guard var encoded = try? JSONEncoder().encode(line) else { return }
        encoded.append(UInt8(ascii: "\n"))
        let data = encoded
        let handle = self.handle
        queue.async { handle.write(data) }
    }
}

/// One line of the record file.
struct RecordLine: Encodable {
    var receivedAt: Double
    var path: String
    var routingKey: String?
    var dedupKey: String?
    var eventAction: String?
    var status: Int

    enum CodingKeys: String, CodingKey {
        case receivedAt = "received_at"
        case path
        case routingKey = "routing_key"
        case dedupKey = "dedup_key"
        case eventAction = "event_action"
        case status
    }
}
