import Foundation
import PagerDutyEvents
import PublisherTestSupport
import Testing

/// `pagerduty-publisher send ...` against the fake PagerDuty and through a real daemon.
@Suite("send command", .serialized, .timeLimit(.minutes(5)))
struct SendCommandTests {
    let key = DaemonProcess.routingKey

    func send(_ arguments: [String]) async throws -> DaemonProcess.Exit {
        try await DaemonProcess.runToExit(["send"] + arguments)
    }

    @Test func dryRunPrintsASchemaValidEventWithoutTheKey() async throws {
        let exit = try await send([
            "trigger", "--summary", "Disk full on db-1", "--severity", "critical", "--source", "db-1",
            "--dedup-key", "disk-db-1", "--detail", "mount=/var", "--link", "https://runbooks.example/disk|Runbook",
            "--routing-key", key, "--dry-run",
        ])
        #expect(exit.status == 0, "\(exit.errorOutput)")
        #expect(!exit.output.contains(key))
        let json = exit.output.trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "[REDACTED]", with: String(repeating: "0", count: 32))
        #expect(try EventContract.current().validate(Array(json.utf8), for: .enqueue).isEmpty)
        #expect(json.contains(#""dedup_key":"disk-db-1""#))
        #expect(json.contains(#""custom_details":{"mount":"/var"}"#))
        #expect(json.contains(#""text":"Runbook""#))
    }

    @Test func aTriggerGoesStraightToPagerDutyAndRetriesAServerError() async throws {
        let fake = try await FakePagerDuty.start()
        fake.enqueue([.status(503, body: "down")])
        let exit = try await send([
            "trigger", "--summary", "Manual page", "--dedup-key", "manual-1", "--routing-key", key, "--events-url", fake.baseURL,
        ])
        #expect(exit.status == 0, "\(exit.errorOutput)")
        #expect(exit.output.contains("Accepted by PagerDuty"))
        #expect(fake.requests.count == 2, "the 503 was retried")
        let event = try #require(fake.accepted.first)
        #expect(event.routingKey == key && event.dedupKey == "manual-1" && event.eventAction == "trigger")
        #expect(event.schemaViolations.isEmpty)
        await fake.stop()
    }

    @Test func aRefusedEventFailsWithPagerDutysReason() async throws {
        let fake = try await FakePagerDuty.start()
        fake.enqueue([.status(400, body: #"{"status":"invalid event","message":"Event object is invalid","errors":["bad thing"]}"#)])
        let exit = try await send(["resolve", "--dedup-key", "x", "--routing-key", key, "--events-url", fake.baseURL])
        #expect(exit.status != 0)
        #expect(exit.errorOutput.contains("bad thing"))
        #expect(fake.requests.count == 1, "a 400 is not retried")
        await fake.stop()
    }

    @Test func aChangeEventGoesToTheChangeEndpoint() async throws {
        let fake = try await FakePagerDuty.start()
        let exit = try await send(["change", "--summary", "Deployed api v1.4.2", "--source", "ci", "--routing-key", key, "--events-url", fake.baseURL])
        #expect(exit.status == 0, "\(exit.errorOutput)")
        let request = try #require(fake.accepted.first)
        #expect(request.path == "/v2/change/enqueue")
        #expect(request.schemaViolations.isEmpty)
        await fake.stop()
    }

    @Test func acknowledgeAndResolveNeedADedupKeyAndEverySendAKey() async throws {
        #expect(try await send(["acknowledge", "--routing-key", key, "--dry-run"]).errorOutput.contains("--dedup-key is required"))
        let noKey = try await send(["trigger", "--summary", "s"])
        #expect(noKey.status != 0)
        #expect(noKey.errorOutput.contains("No routing key"))
    }

    @Test func viaADaemonTheEventIsQueuedDurablyAndDelivered() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", key, "--events-url", fake.baseURL, "--database", scratch.database, "--auth-token", DaemonProcess.authToken,
        ])
        let exit = try await send([
            "trigger", "--summary", "Through the daemon", "--dedup-key", "via-1", "--via", daemon.baseURL,
            "--auth-token", DaemonProcess.authToken,
        ])
        #expect(exit.status == 0, "\(exit.errorOutput)")
        #expect(exit.output.contains("Queued by the daemon"))
        let delivered = try await fake.waitForAccepted(count: 1)
        #expect(delivered.first?.dedupKey == "via-1")
        #expect(delivered.first?.eventAction == "trigger")

        let change = try await send(["change", "--summary", "Deployed via the daemon", "--via", daemon.baseURL, "--auth-token", DaemonProcess.authToken])
        #expect(change.status == 0, "\(change.errorOutput)")
        let both = try await fake.waitForAccepted(count: 2)
        #expect(both.last?.path == "/v2/change/enqueue")
        _ = try await daemon.terminate()
        await fake.stop()
    }
}

@Suite("send with a configured route", .timeLimit(.minutes(5)))
struct SendWithRouteTests {
    @Test func theRoutesKeyFromTheConfigurationIsUsed() async throws {
        let fake = try await FakePagerDuty.start()
        let scratch = try ScratchDirectory()
        let routeKey = "RouteKeyRouteKeyRouteKeyRouteK04"
        let config = scratch.url.appendingPathComponent("config.yaml").path
        try "routes:\n  - name: payments\n    routing_key: \(routeKey)\n".write(toFile: config, atomically: true, encoding: .utf8)
        let exit = try await DaemonProcess.runToExit([
            "send", "trigger", "--summary", "Card payments failing", "--route", "payments", "--config", config, "--events-url", fake.baseURL,
        ])
        #expect(exit.status == 0, "\(exit.errorOutput)")
        #expect(fake.accepted.first?.routingKey == routeKey)
        let unknown = try await DaemonProcess.runToExit(["send", "trigger", "--summary", "x", "--route", "nope", "--config", config])
        #expect(unknown.status != 0)
        #expect(unknown.errorOutput.contains(#"defines no route "nope""#))
        await fake.stop()
    }
}
