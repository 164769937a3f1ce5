import AlertmanagerModels
import ArgumentParser
import Foundation
import PublisherCore
import Logging
import PostgresNIO
import PublisherPostgres
import PublisherSQLite

/// `pagerduty-publisher queue ...`: look at and repair the outbox without opening the database by hand.
/// Safe while the daemon runs (short transactions), on SQLite and on PostgreSQL.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Inspect and repair the outbox: status, list, retry dead letters, purge; and PagerDuty's incident states.",
        subcommands: [Status.self, List.self, Incidents.self, Retry.self, Purge.self]
    )

    /// A store opened for one queue command, and how to let it go.
    struct OpenedQueueStore {
        var store: any PublisherStore & QueueAdministration
        var close: @Sendable () -> Void
    }

    /// Opens the database the options name: an SQLite file that must exist already, or the PostgreSQL
    /// database several replicas share (its schema must exist: a replica has started on it).
    static func openStore(_ options: DatabaseOptions) async throws -> OpenedQueueStore {
        let location: DatabaseLocation
        do throws(SettingsError) {
            location = try options.location(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError(error.description)
        }
        switch location {
        case .sqlite(let path):
            guard FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("No database at \(path); pass --database (or --data-dir) as given to 'serve'.")
            }
            do {
                let store = try SQLiteStore(path: path)
                return OpenedQueueStore(store: store, close: { try? store.close() })
            } catch {
                throw ValidationError("Cannot open \(path): \(error.reason)")
            }
        case .postgres(let url, let passwordFile, let caFile):
            let settings: PostgresSettings
            do throws(PostgresSettingsError) {
                settings = try PostgresSettings(url: url, passwordFile: passwordFile, caFile: caFile)
            } catch {
                throw ValidationError(error.reason)
            }
            let client = PostgresClient(configuration: settings.clientConfiguration)
            let running = Task { await client.run() }
            let store = PostgresStore(client: client, logger: Logger(label: "pagerduty-publisher.queue"))
            do {
                guard try await !store.appliedMigrations().isEmpty else {
                    running.cancel()
                    throw ValidationError("No pagerduty-publisher tables in \(settings.redacted); start a replica on it first.")
                }
            } catch let error as StoreError {
                running.cancel()
                throw ValidationError("Cannot read \(settings.redacted): \(error.reason) (a replica creates the tables when it first starts)")
            }
            return OpenedQueueStore(store: store, close: { running.cancel() })
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pending and dead-letter counts per route, the age of the oldest pending event, and the incidents by the state PagerDuty last reported."
        )

        @OptionGroup var databaseOptions: DatabaseOptions

        func run() async throws {
            let opened = try await QueueCommand.openStore(databaseOptions)
            defer { opened.close() }
            let store = opened.store
            let figures = try await store.routeQueueFigures()
            print(QueueText.status(figures, now: Date()))
            print(QueueText.incidents(try await store.queueStats().incidents))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List pending events (or dead letters with --dead), without their bodies."
        )

        @OptionGroup var databaseOptions: DatabaseOptions

        @Flag(help: "List dead letters instead of pending events.")
        var dead = false

        @Option(help: "At most this many rows.")
        var limit = 100

        func run() async throws {
            let opened = try await QueueCommand.openStore(databaseOptions)
            defer { opened.close() }
            let store = opened.store
            if dead {
                print(QueueText.deadLetters(try await store.deadLetters(limit: limit)))
            } else {
                print(QueueText.pending(try await store.pendingMessages(limit: limit)))
            }
        }
    }

    struct Incidents: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the alerts by the state PagerDuty last reported for their incident, with when and by whom, newest change first."
        )

        @OptionGroup var databaseOptions: DatabaseOptions

        @Option(help: "Only incidents PagerDuty last reported in this state: triggered, acknowledged or resolved.")
        var state: String?

        @Option(help: "At most this many rows.")
        var limit = 100

        /// ``state`` as a status; `nil` for all.
        var status: IncidentState.Status? {
            get throws {
                guard let state else { return nil }
                guard let status = IncidentState.Status(rawValue: state.lowercased()) else {
                    let allowed = IncidentState.Status.allCases.map(\.rawValue)
                    throw ValidationError(
                        "--state must be \(allowed.dropLast().joined(separator: ", ")) or \(allowed.last ?? ""), not \"\(state)\".")
                }
                return status
            }
        }

        func validate() throws {
            _ = try status
            if limit < 1 { throw ValidationError("--limit must be at least 1.") }
        }

        func run() async throws {
            let status = try self.status
            let opened = try await QueueCommand.openStore(databaseOptions)
            defer { opened.close() }
            let entries = try await opened.store.incidentEntries(status: status, limit: limit)
            print(QueueText.incidentEntries(entries, now: Date()))
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move dead letters back to the outbox (all with --all, or by id); the daemon sends them again."
        )

        @OptionGroup var databaseOptions: DatabaseOptions

        @Flag(help: "Retry every dead letter.")
        var all = false

        @Argument(help: "Ids of dead letters to retry (see 'queue list --dead').")
        var ids: [Int64] = []

        func validate() throws {
            if all == !ids.isEmpty {
                throw ValidationError("Name the dead letters to retry by id, or pass --all.")
            }
        }

        func run() async throws {
            let opened = try await QueueCommand.openStore(databaseOptions)
            defer { opened.close() }
            let store = opened.store
            let moved = try await store.requeueDeadLetters(ids: all ? nil : ids)
            print("Moved \(moved) dead letter\(moved == 1 ? "" : "s") back to the outbox.")
            if !all && moved < ids.count {
                print("\(ids.count - moved) of the ids given are not dead letters.")
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete dead letters (default), pending events (--pending) or both (--all). Needs --yes."
        )

        @OptionGroup var databaseOptions: DatabaseOptions

        @Flag(help: "Delete pending events instead of dead letters: they will never reach PagerDuty.")
        var pending = false

        @Flag(help: "Delete pending events and dead letters.")
        var all = false

        @Flag(help: "Confirm the deletion.")
        var yes = false

        func run() async throws {
            let scope: QueuePurgeScope = all ? .all : (pending ? .pending : .dead)
            let opened = try await QueueCommand.openStore(databaseOptions)
            defer { opened.close() }
            let store = opened.store
            guard yes else {
                let figures = try await store.routeQueueFigures()
                let count = figures.reduce(0) { total, route in
                    total + (scope == .dead ? 0 : route.pending) + (scope == .pending ? 0 : route.deadLetters)
                }
                FileHandle.standardError.write(Data(
                    "pagerduty-publisher: this would delete \(count) \(QueueText.describe(scope)); run again with --yes to do it.\n".utf8))
                throw ExitCode.failure
            }
            let deleted = try await store.purge(scope)
            print("Deleted \(deleted) \(QueueText.describe(scope)).")
        }
    }
}

/// The text `queue` prints: aligned columns, never an event body.
enum QueueText {
    static func describe(_ scope: QueuePurgeScope) -> String {
        switch scope {
        case .pending: "pending events"
        case .dead: "dead letters"
        case .all: "pending events and dead letters"
        }
    }

    static func status(_ figures: [RouteQueueFigures], now: Date) -> String {
        var rows = [["ROUTE", "PENDING", "DEAD LETTERS", "OLDEST PENDING"]]
        for route in figures {
            rows.append([
                route.route, "\(route.pending)", "\(route.deadLetters)",
                route.oldestPendingCreatedAt.map { age(now.timeIntervalSince($0)) } ?? "-",
            ])
        }
        let oldest = figures.compactMap(\.oldestPendingCreatedAt).min()
        rows.append([
            "total", "\(figures.reduce(0) { $0 + $1.pending })", "\(figures.reduce(0) { $0 + $1.deadLetters })",
            oldest.map { age(now.timeIntervalSince($0)) } ?? "-",
        ])
        return table(rows)
    }

    /// The ledger entries by the state PagerDuty's webhooks last reported for their incident.
    static func incidents(_ counts: [IncidentState.Status: Int]) -> String {
        let figures = IncidentState.Status.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }
        return "Incidents as PagerDuty last reported them (POST /v1/pagerduty): " + figures.joined(separator: ", ")
    }

    /// One row per ledger entry PagerDuty reported on: its route and dedup_key (the ledger keeps no labels), the
    /// incident's state with when and by whom, the incident's id, and the silence of ours in force at `now`.
    static func incidentEntries(_ entries: [LedgerEntry], now: Date) -> String {
        var rows = [["ROUTE", "DEDUP KEY", "PAGERDUTY STATE", "SINCE", "BY", "INCIDENT", "OUR SILENCE"]]
        for entry in entries {
            guard let incident = entry.incident else { continue }
            rows.append([
                entry.route, entry.dedupKey, incident.status.rawValue, RFC3339.format(incident.changedAt),
                incident.changedBy ?? "-", incident.incidentID, silence(entry.ownSilence, now: now),
            ])
        }
        return rows.count == 1 ? "No incidents reported by PagerDuty." : table(rows)
    }

    /// A silence of ours: "until" its end while it is in force, "not yet in Alertmanager" while no Alertmanager
    /// took it yet (the sync retries), "-" without one or once it ended.
    static func silence(_ silence: OwnSilence?, now: Date) -> String {
        guard let silence, silence.endsAt > now else { return "-" }
        return silence.ids.isEmpty ? "not yet in Alertmanager" : "until \(RFC3339.format(silence.endsAt))"
    }

    static func pending(_ records: [OutboxRecord]) -> String {
        var rows = [["ID", "ROUTE", "KIND", "DEDUP KEY", "ATTEMPTS", "ACCEPTED", "LAST ERROR"]]
        for record in records {
            rows.append([
                "\(record.id)", record.message.route, record.message.kind.rawValue, record.message.dedupKey ?? "-",
                "\(record.attempts)", RFC3339.format(record.message.createdAt), record.lastError ?? "-",
            ])
        }
        return records.isEmpty ? "No pending events." : table(rows)
    }

    static func deadLetters(_ letters: [DeadLetter]) -> String {
        var rows = [["ID", "ROUTE", "KIND", "DEDUP KEY", "ATTEMPTS", "FAILED", "REASON"]]
        for letter in letters {
            rows.append([
                "\(letter.id)", letter.message.route, letter.message.kind.rawValue, letter.message.dedupKey ?? "-",
                "\(letter.attempts)", RFC3339.format(letter.failedAt), letter.reason,
            ])
        }
        return letters.isEmpty ? "No dead letters." : table(rows)
    }

    static func age(_ seconds: TimeInterval) -> String {
        let total = max(0, Int(seconds))
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(total % 60)s" }
        return "\(total / 3600)h\(total % 3600 / 60)m"
    }

    private static func table(_ rows: [[String]]) -> String {
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
