import Foundation
import PublisherCore
import PublisherTestSupport
import Testing

/// The real daemon exporting OpenTelemetry traces to a loopback OTLP receiver: the receipt span continues an
/// incoming W3C `traceparent`, decode/decide/commit are its children, each delivery attempt is a span linked to the
/// webhook's trace (also after a restart, through the trace context stored with the outbox row), and no span,
/// attribute or resource carries the routing key or the receiver's token.
@Suite("OpenTelemetry traces", .serialized, .timeLimit(.minutes(5)))
struct TracingIntegrationTests {
    /// The span Alertmanager's own trace would have sent the webhook from.
    static let incomingTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let incomingSpanID = "00f067aa0ba902b7"
    static var traceparent: String { "00-\(incomingTraceID)-\(incomingSpanID)-01" }

    func environment(_ receiver: OTLPReceiver, protocol otlpProtocol: String) -> [String: String] {
        [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": otlpProtocol,
            "OTEL_SERVICE_NAME": "publisher-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-collector-key=\(Self.collectorKey)",
        ]
    }

    /// A credential for the collector: swift-otel logs the `OTEL_*` variables it reads, and this must not show.
    static let collectorKey = "c0llect0r-k3y-s3cret"

    func startDaemon(
        _ fake: FakePagerDuty, _ scratch: borrowing ScratchDirectory, environment: [String: String],
        extraArguments: [String] = []
    ) async throws -> DaemonProcess {
        try await DaemonProcess(
            arguments: [
                "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
                "--auth-token", DaemonProcess.authToken, "--retry-initial-delay", "50ms", "--retry-max-delay", "200ms",
            ] + extraArguments,
            environment: environment)
    }

    func postWebhook(to daemon: DaemonProcess, instance: String) async throws {
        let answer = try await HTTP.post(
            "\(daemon.baseURL)/v1/alertmanager", body: Webhook.body(Webhook.firing("DiskFull", [instance])),
            headers: ["Authorization": "Bearer \(DaemonProcess.authToken)", "traceparent": Self.traceparent])
        #expect(answer.status == 202)
    }

    /// Checks the webhook's spans and the delivery span's link; returns the receipt span.
    @discardableResult
    func checkWebhookTrace(_ spans: [ReceivedSpan]) throws -> ReceivedSpan {
        let receipt = try #require(spans.first { $0.name == "POST /v1/alertmanager" }, "spans: \(spans.map(\.name))")
        #expect(receipt.traceID == Self.incomingTraceID)
        #expect(receipt.parentSpanID == Self.incomingSpanID)
        #expect(receipt.kind == 2)
        #expect(receipt.attributes["http.response.status_code"] == "202")
        for name in ["decode", "decide", "commit"] {
            let child = try #require(spans.first { $0.name == name && $0.traceID == receipt.traceID }, "no \(name) span")
            #expect(child.parentSpanID == receipt.spanID, "\(name) is not a child of the receipt")
            #expect(child.attributes["publisher.alerts"] == "1", "\(name): \(child.attributes)")
        }
        let commit = try #require(spans.first { $0.name == "commit" })
        #expect(commit.attributes["publisher.route"] == RouteTable.defaultRouteName)
        #expect(Int(commit.attributes["publisher.commit.batch_webhooks"] ?? "") ?? 0 >= 1)
        #expect(commit.attributes["publisher.queued"] == "1")
        #expect(receipt.resource["service.name"] == "publisher-under-test")
        return receipt
    }

    func deliveries(_ spans: [ReceivedSpan]) -> [ReceivedSpan] {
        spans.filter { $0.name == "pagerduty.deliver" }
    }

    func expectNoSecret(in receiver: some OTLPTestReceiver) {
        #expect(!receiver.rawBodies.isEmpty)
        #expect(!receiver.receivedBytesContain(DaemonProcess.routingKey), "the routing key was exported")
        #expect(!receiver.receivedBytesContain(DaemonProcess.authToken), "the receiver's token was exported")
        #expect(receiver.errors.isEmpty, "undecodable exports: \(receiver.errors)")
    }

    @Test(arguments: ["http/protobuf", "http/json"])
    func webhookAndDeliverySpansReachTheReceiver(otlpProtocol: String) async throws {
        let receiver = try await OTLPReceiver.start()
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch, environment: environment(receiver, protocol: otlpProtocol))

        try await postWebhook(to: daemon, instance: "db-1")
        let accepted = try await fake.waitForAccepted(count: 1)
        let spans = try await receiver.waitForSpans { spans in
            !deliveries(spans).isEmpty && spans.contains { $0.name == "commit" } && spans.contains { $0.name == "decode" }
        }
        let receipt = try checkWebhookTrace(spans)
        let delivery = try #require(deliveries(spans).first)
        #expect(delivery.kind == 3)
        #expect(delivery.parentSpanID.isEmpty)
        #expect(delivery.links.contains(ReceivedSpan.Link(traceID: receipt.traceID, spanID: receipt.spanID)))
        #expect(delivery.attributes["publisher.attempt"] == "1")
        #expect(delivery.attributes["http.response.status_code"] == "202")
        #expect(delivery.attributes["publisher.delivery.outcome"] == "accepted")
        #expect(delivery.attributes["publisher.route"] == RouteTable.defaultRouteName)
        #expect(delivery.attributes["pagerduty.dedup_key"] == accepted.first?.dedupKey)
        let expectedType = otlpProtocol == "http/json" ? "application/json" : "application/x-protobuf"
        #expect(receiver.contentTypes.allSatisfy { $0.hasPrefix(expectedType) })
        #expect(receiver.paths.allSatisfy { $0 == "/v1/traces" })

        #expect(try await daemon.terminate() == 0)
        expectNoSecret(in: receiver)
        #expect(daemon.lines.contains { $0.contains("_HEADERS") && $0.contains("[REDACTED]") }, "swift-otel logs the variables it reads")
        #expect(!daemon.lines.contains { $0.contains(Self.collectorKey) }, "the collector's key was logged")
        #expect(!daemon.errorOutput.contains(Self.collectorKey))
        await fake.stop()
        await receiver.stop()
    }

    /// PagerDuty answers 500 to the first attempt; the daemon is stopped and started again on the same database,
    /// and the second attempt's span still links to the webhook's trace (the `traceparent` stored with the row).
    @Test func theDeliveryLinkSurvivesARestart() async throws {
        let receiver = try await OTLPReceiver.start()
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        fake.setDefault(.status(500, body: #"{"status":"error","message":"try later"}"#))
        let first = try await startDaemon(fake, scratch, environment: environment(receiver, protocol: "http/protobuf"))
        try await postWebhook(to: first, instance: "db-restart")
        _ = try await fake.waitForRequests(count: 1)
        #expect(try await first.terminate() == 0)
        let beforeRestart = try await receiver.waitForSpans { spans in
            !deliveries(spans).isEmpty && spans.contains { $0.name == "POST /v1/alertmanager" }
        }
        let receipt = try checkWebhookTrace(beforeRestart)
        let failed = try #require(deliveries(beforeRestart).first)
        #expect(failed.attributes["http.response.status_code"] == "500")
        #expect(failed.attributes["publisher.delivery.outcome"] == "server_error")

        fake.setDefault(.accept)
        let second = try await startDaemon(fake, scratch, environment: environment(receiver, protocol: "http/protobuf"))
        _ = try await fake.waitForAccepted(count: 1)
        let spans = try await receiver.waitForSpans { spans in
            deliveries(spans).contains { $0.attributes["publisher.delivery.outcome"] == "accepted" }
        }
        let accepted = try #require(deliveries(spans).first { $0.attributes["publisher.delivery.outcome"] == "accepted" })
        #expect(accepted.links.contains(ReceivedSpan.Link(traceID: receipt.traceID, spanID: receipt.spanID)))
        #expect(Int(accepted.attributes["publisher.attempt"] ?? "") ?? 0 >= 2)
        #expect(accepted.traceID != receipt.traceID)
        #expect(try await second.terminate() == 0)
        expectNoSecret(in: receiver)
        await fake.stop()
        await receiver.stop()
    }

    /// `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`: the same spans reach an OTLP/gRPC receiver (cleartext HTTP/2).
    @Test func spansReachAGRPCReceiver() async throws {
        let receiver = try await OTLPGRPCReceiver.start()
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(
            fake, scratch,
            environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_SERVICE_NAME": "publisher-under-test", "OTEL_BSP_SCHEDULE_DELAY": "50",
            ])
        try await postWebhook(to: daemon, instance: "db-grpc")
        _ = try await fake.waitForAccepted(count: 1)
        let spans = try await receiver.waitForSpans { spans in
            !deliveries(spans).isEmpty && spans.contains { $0.name == "commit" } && spans.contains { $0.name == "decode" }
        }
        let receipt = try checkWebhookTrace(spans)
        let delivery = try #require(deliveries(spans).first)
        #expect(delivery.links.contains(ReceivedSpan.Link(traceID: receipt.traceID, spanID: receipt.spanID)))
        #expect(receiver.paths.allSatisfy { $0 == "/opentelemetry.proto.collector.trace.v1.TraceService/Export" })
        #expect(receiver.contentTypes.allSatisfy { $0.hasPrefix("application/grpc") }, "\(receiver.contentTypes)")
        #expect(try await daemon.terminate() == 0)
        expectNoSecret(in: receiver)
        await fake.stop()
        await receiver.stop()
    }

    /// Without an endpoint and without `--otel`, nothing is exported, and the daemon says tracing is off.
    @Test func tracingIsOffByDefault() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch, environment: [:])
        try await daemon.waitForLog("pagerduty-publisher starting")
        let starting = daemon.records.first { $0["msg"] as? String == "pagerduty-publisher starting" }
        #expect(starting?["tracing"] as? String == "false")
        #expect(try await daemon.terminate() == 0)
        await fake.stop()
    }

    /// `--otel` with no `OTEL_*` variable at all exports to OTLP's default collector: `http/protobuf` to
    /// `http://localhost:4318/v1/traces`. A receiver on 127.0.0.1:4318 stands in for it (the test fails, naming
    /// the port, if something else holds it).
    @Test func theFlagAloneExportsToTheDefaultEndpoint() async throws {
        let receiver: OTLPReceiver
        do {
            receiver = try await OTLPReceiver.start(port: 4318)
        } catch {
            Issue.record("127.0.0.1:4318, OTLP/HTTP's default port, is not free for the stand-in collector: \(error)")
            return
        }
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await startDaemon(fake, scratch, environment: [:], extraArguments: ["--otel"])
        try await daemon.waitForLog("pagerduty-publisher starting")
        let starting = daemon.records.first { $0["msg"] as? String == "pagerduty-publisher starting" }
        #expect(starting?["tracing"] as? String == "true")
        try await postWebhook(to: daemon, instance: "default-endpoint-1")
        // The batch span processor's default delay is 5 s.
        let spans = try await receiver.waitForSpans(timeout: .seconds(30)) { spans in
            spans.contains { $0.name == "POST /v1/alertmanager" } && spans.contains { $0.name == "pagerduty.deliver" }
        }
        let receipt = try #require(spans.first { $0.name == "POST /v1/alertmanager" }, "spans: \(spans.map(\.name))")
        #expect(receipt.traceID == Self.incomingTraceID)
        #expect(receipt.resource["service.name"] == "pagerduty-publisher")
        #expect(!deliveries(spans).isEmpty)
        #expect(Set(receiver.paths) == ["/v1/traces"])
        #expect(receiver.contentTypes.allSatisfy { $0.hasPrefix("application/x-protobuf") }, "\(receiver.contentTypes)")
        expectNoSecret(in: receiver)
        #expect(try await daemon.terminate() == 0)
        await fake.stop()
        await receiver.stop()
    }
}
