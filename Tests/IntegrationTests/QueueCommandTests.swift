import AlertmanagerModels
import Foundation
import PagerDutyEvents
import PublisherCore
import PublisherSQLite
import PublisherTestSupport
import Testing

/// `pagerduty-publisher queue ...` against a real database file.
@Suite("queue commands", .serialized, .timeLimit(.minutes(5)))
struct QueueCommandTests {
    /// A database with two pending events on `default`, one on `db`, and one dead letter on `default`.
    func prepareDatabase(_ scratch: borrowing ScratchDirectory) async throws -> (store: SQLiteStore, deadLetterID: Int64) {
        let store = try SQLiteStore(path: scratch.database)
        func message(_ route: String, _ key: String) throws -> OutboxMessage {
            let event = AlertEvent(
                routingKey: "", eventAction: .trigger, dedupKey: key,
                payload: AlertPayload(summary: "BODY-MARKER \(key)", source: "host", severity: .critical)
            )
            return OutboxMessage(
                route: route, kind: .trigger, dedupKey: key, severity: .critical,
                body: Data(try EventEncoding.encode(event)), createdAt: Date().addingTimeInterval(-125)
            )
        }
        let ids = try await store.commit(
            ledger: [],
            outbox: [try message("default", "refused"), try message("default", "p1"), try message("default", "p2"), try message("db", "p3")]
        )
        try await store.recordFailedAttempt(id: ids[0], error: "HTTP 400")
        try await store.moveToDeadLetters(id: ids[0], reason: "PagerDuty refused the event: HTTP 400: bad summary", at: Date())
        return (store, ids[0])
    }

    func run(_ arguments: [String], _ scratch: borrowing ScratchDirectory) async throws -> DaemonProcess.Exit {
        try await DaemonProcess.runToExit(["queue"] + arguments + ["--database", scratch.database])
    }

    /// The cells of the table row whose first cell is `first`.
    func row(_ output: String, _ first: String) -> [String]? {
        output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.first == first }
    }

    @Test func statusShowsFiguresPerRouteAndTotal() async throws {
        let scratch = try ScratchDirectory()
        _ = try await prepareDatabase(scratch)
        let exit = try await run(["status"], scratch)
        #expect(exit.status == 0, "\(exit.errorOutput)")
        #expect(row(exit.output, "default")?.prefix(3) == ["default", "2", "1"])
        #expect(row(exit.output, "db")?.prefix(3) == ["db", "1", "0"])
        #expect(row(exit.output, "total")?.prefix(3) == ["total", "3", "1"])
        #expect(row(exit.output, "total")?.last?.hasPrefix("2m") == true, "the oldest pending event is about 125 s old")
    }

    @Test func statusShowsIncidentsByTheStatePagerDutyLastReported() async throws {
        let scratch = try ScratchDirectory()
        let (store, _) = try await prepareDatabase(scratch)
        func entry(_ key: String, _ status: IncidentState.Status?) -> LedgerEntry {
            let now = Date()
            return LedgerEntry(
                route: "default", dedupKey: key, lastAction: .trigger, lastActionAt: now, startsAt: now, lastSeen: now,
                incident: status.map { IncidentState(status: $0, changedAt: now, changedBy: "Ada", incidentID: "P\(key)", incidentURL: nil) })
        }
        try await store.commit(
            ledger: [entry("i1", .acknowledged), entry("i2", .acknowledged), entry("i3", .resolved), entry("i4", nil)], outbox: [])
        let exit = try await run(["status"], scratch)
        #expect(exit.status == 0, "\(exit.errorOutput)")
        #expect(
            exit.output.contains("Incidents as PagerDuty last reported them (POST /v1/pagerduty): triggered 0, acknowledged 2, resolved 1"),
            "\(exit.output)")
    }

    @Test func incidentsListsPagerDutysStatePerAlertNewestFirstWithWhenAndByWhom() async throws {
        let scratch = try ScratchDirectory()
        let (store, _) = try await prepareDatabase(scratch)
        let empty = try await run(["incidents"], scratch)
        #expect(empty.status == 0, "\(empty.errorOutput)")
        #expect(empty.output.contains("No incidents reported by PagerDuty."), "\(empty.output)")

        // Whole seconds, so the times print exactly as given.
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        func entry(_ route: String, _ key: String, _ status: IncidentState.Status?, ago: TimeInterval, by: String?) -> LedgerEntry {
            LedgerEntry(
                route: route, dedupKey: key, lastAction: .trigger, lastActionAt: now, startsAt: now, lastSeen: now,
                incident: status.map {
                    IncidentState(
                        status: $0, changedAt: now - ago, changedBy: by, incidentID: "P\(key)",
                        incidentURL: "https://acme.pagerduty.com/incidents/P\(key)")
                })
        }
        var acknowledged = entry("default", "i1", .acknowledged, ago: 300, by: "Ada")
        acknowledged.ownSilence = OwnSilence(purpose: .acknowledged, answering: now - 300, endsAt: now + 3_600, ids: ["am": "s-1"])
        try await store.commit(
            ledger: [
                acknowledged, entry("db", "i2", .resolved, ago: 60, by: nil), entry("default", "i3", .triggered, ago: 600, by: "Bob"),
                entry("default", "i4", nil, ago: 0, by: nil),
            ],
            outbox: [])

        let exit = try await run(["incidents"], scratch)
        #expect(exit.status == 0, "\(exit.errorOutput)")
        let lines = exit.output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(lines.first == ["ROUTE", "DEDUP", "KEY", "PAGERDUTY", "STATE", "SINCE", "BY", "INCIDENT", "OUR", "SILENCE"])
        #expect(lines.dropFirst().map { $0[1] } == ["i2", "i1", "i3"], "newest change first; i4 has no state: \(exit.output)")
        #expect(lines.dropFirst().first == ["db", "i2", "resolved", RFC3339.format(now - 60), "-", "Pi2", "-"])
        #expect(lines.dropFirst(2).first == [
            "default", "i1", "acknowledged", RFC3339.format(now - 300), "Ada", "Pi1", "until", RFC3339.format(now + 3_600),
        ])
        #expect(lines.last == ["default", "i3", "triggered", RFC3339.format(now - 600), "Bob", "Pi3", "-"])
        #expect(!exit.output.contains("BODY-MARKER") && !exit.output.contains(DaemonProcess.routingKey))

        let acknowledgedOnly = try await run(["incidents", "--state", "acknowledged"], scratch)
        #expect(acknowledgedOnly.status == 0, "\(acknowledgedOnly.errorOutput)")
        #expect(acknowledgedOnly.output.split(separator: "\n").dropFirst().map { $0.split(separator: " ")[1] } == ["i1"])
        let newest = try await run(["incidents", "--limit", "1"], scratch)
        #expect(newest.output.split(separator: "\n").dropFirst().map { $0.split(separator: " ")[1] } == ["i2"])
        let triggered = try await run(["incidents", "--state", "triggered", "--limit", "5"], scratch)
        #expect(triggered.output.split(separator: "\n").dropFirst().map { $0.split(separator: " ")[1] } == ["i3"])

        let bad = try await run(["incidents", "--state", "snoozed"], scratch)
        #expect(bad.status != 0)
        #expect(bad.errorOutput.contains("--state must be triggered, acknowledged or resolved"), "\(bad.errorOutput)")
    }

    @Test func listShowsEventsAndDeadLettersWithoutBodies() async throws {
        let scratch = try ScratchDirectory()
        let (_, deadLetterID) = try await prepareDatabase(scratch)
        let pending = try await run(["list"], scratch)
        #expect(pending.status == 0)
        #expect(["p1", "p2", "p3"].allSatisfy { pending.output.contains($0) })
        #expect(!pending.output.contains("refused"))
        let dead = try await run(["list", "--dead"], scratch)
        #expect(row(dead.output, "\(deadLetterID)")?.contains("refused") == true)
        #expect(dead.output.contains("bad summary"))
        #expect(!(pending.output + dead.output).contains("BODY-MARKER"), "bodies are never printed")
    }

    @Test func retryMovesADeadLetterBackAndTheDaemonDeliversIt() async throws {
        let scratch = try ScratchDirectory()
        let (store, deadLetterID) = try await prepareDatabase(scratch)
        #expect(try await run(["retry"], scratch).status != 0, "neither ids nor --all is refused")
        let unknown = try await run(["retry", "99999"], scratch)
        #expect(unknown.output.contains("Moved 0 dead letters"))
        let retried = try await run(["retry", "\(deadLetterID)"], scratch)
        #expect(retried.status == 0)
        #expect(retried.output.contains("Moved 1 dead letter back"))
        #expect(try await store.queueStats().deadLetters == 0)
        #expect(try await store.queueStats().pending == 4)

        let fake = try await FakePagerDuty.start()
        let daemon = try await DaemonProcess(arguments: [
            "--routing-key", DaemonProcess.routingKey, "--events-url", fake.baseURL, "--database", scratch.database,
        ])
        let delivered = try await fake.waitForAccepted(count: 3)
        #expect(delivered.map(\.dedupKey) == ["p1", "p2", "refused"], "a retried dead letter goes to the end of its route's queue")
        #expect(delivered.allSatisfy { $0.routingKey == DaemonProcess.routingKey })
        // The event of the unconfigured route `db` cannot be sent anywhere: it becomes a dead letter.
        try await daemon.waitForLog("Event moved to dead letters")
        let dead = try await run(["list", "--dead"], scratch)
        #expect(row(dead.output, "4")?.contains("p3") == true)
        #expect(dead.output.contains(#"route "db" is no longer configured"#))
        _ = try await daemon.terminate()
        await fake.stop()
    }

    @Test func purgeNeedsYes() async throws {
        let scratch = try ScratchDirectory()
        let (store, _) = try await prepareDatabase(scratch)
        let refused = try await run(["purge"], scratch)
        #expect(refused.status != 0)
        #expect(refused.errorOutput.contains("would delete 1 dead letters"))
        #expect(refused.errorOutput.contains("--yes"))
        #expect(try await store.queueStats().deadLetters == 1, "nothing deleted without --yes")

        #expect(try await run(["purge", "--yes"], scratch).output.contains("Deleted 1 dead letters"))
        #expect(try await store.queueStats() .deadLetters == 0)
        #expect(try await store.queueStats().pending == 3, "purging dead letters keeps pending events")
        #expect(try await run(["purge", "--pending", "--yes"], scratch).output.contains("Deleted 3 pending events"))
        #expect(try await store.queueStats().pending == 0)
    }

    @Test func aMissingDatabaseIsNamed() async throws {
        let exit = try await DaemonProcess.runToExit(["queue", "status", "--database", "/nonexistent/publisher.sqlite"])
        #expect(exit.status != 0)
        #expect(exit.errorOutput.contains("No database at /nonexistent/publisher.sqlite"))
    }
}
