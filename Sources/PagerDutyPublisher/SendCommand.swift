import CurlHTTP
import AlertmanagerModels
import ArgumentParser
import Foundation
import PagerDutyEvents
import PublisherConfiguration
import PublisherCore
import StructuredLogging

/// `pagerduty-publisher send trigger|acknowledge|resolve|change`: one event from the command line.
///
/// Sent straight to PagerDuty (retrying 429, 5xx and network errors a few times), or with `--via` through a
/// running daemon's webhook, which queues it durably. `--dry-run` prints the event instead.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send one event: trigger, acknowledge, resolve or change.",
        discussion: """
            Examples:
              pagerduty-publisher send trigger --summary "Disk full on db-1" --severity critical --source db-1 \\
                  --dedup-key disk-db-1 --detail mount=/var --link "https://runbooks.example/disk|Runbook"
              pagerduty-publisher send resolve --dedup-key disk-db-1
              pagerduty-publisher send change --summary "Deployed api v1.4.2" --source ci
            The routing key comes from --routing-key, --routing-key-file or PAGERDUTY_ROUTING_KEY(_FILE).
            """,
        subcommands: [Trigger.self, Acknowledge.self, Resolve.self, Change.self]
    )

    struct Trigger: AlertActionCommand {
        static let configuration = CommandConfiguration(abstract: "Open (or update) the alert named by --dedup-key.")
        static let action = EventAction.trigger
        @OptionGroup var event: EventOptions
        @OptionGroup var delivery: DeliveryOptions
    }

    struct Acknowledge: AlertActionCommand {
        static let configuration = CommandConfiguration(abstract: "Acknowledge the alert named by --dedup-key.")
        static let action = EventAction.acknowledge
        @OptionGroup var event: EventOptions
        @OptionGroup var delivery: DeliveryOptions
    }

    struct Resolve: AlertActionCommand {
        static let configuration = CommandConfiguration(abstract: "Resolve the alert named by --dedup-key.")
        static let action = EventAction.resolve
        @OptionGroup var event: EventOptions
        @OptionGroup var delivery: DeliveryOptions
    }

    struct Change: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a change (a deploy, a configuration change).")
        @OptionGroup var event: EventOptions
        @OptionGroup var delivery: DeliveryOptions

        func run() async throws {
            try await delivery.deliver(try event.changeEvent())
        }
    }
}

/// `send trigger`, `send acknowledge` and `send resolve`: the same options, a different action.
protocol AlertActionCommand: AsyncParsableCommand {
    static var action: EventAction { get }
    var event: EventOptions { get }
    var delivery: DeliveryOptions { get }
}

extension AlertActionCommand {
    func run() async throws {
        try await delivery.deliver(try event.alertEvent(action: Self.action, requireDedupKey: Self.action != .trigger))
    }
}

/// What the event says.
struct EventOptions: ParsableArguments {
    @Option(help: "The summary (at most 1,024 characters are sent).")
    var summary: String?

    @Option(help: "critical, error, warning or info.")
    var severity = "error"

    @Option(help: "The affected system, e.g. a host name. (default: this host's name)")
    var source: String?

    @Option(name: .customLong("dedup-key"), help: "The alert's key; required for acknowledge and resolve.")
    var dedupKey: String?

    @Option(help: "Component of the source.")
    var component: String?

    @Option(help: "Logical group of components.")
    var group: String?

    @Option(name: .customLong("class"), help: "Class or type of the event.")
    var eventClass: String?

    @Option(name: .customLong("detail"), help: "A custom detail as key=value; repeatable.")
    var details: [String] = []

    @Option(name: .customLong("link"), help: "A link as URL or URL|text; repeatable.")
    var links: [String] = []

    func alertEvent(action: EventAction, requireDedupKey: Bool) throws -> AlertEvent {
        if requireDedupKey && (dedupKey ?? "").isEmpty {
            throw ValidationError("--dedup-key is required to \(action.rawValue) an alert.")
        }
        guard action != .trigger || !(summary ?? "").isEmpty else {
            throw ValidationError("--summary is required for a trigger.")
        }
        guard let severity = Severity(rawValue: severity.lowercased()) else {
            throw ValidationError("--severity must be critical, error, warning or info.")
        }
        let payload = AlertPayload(
            summary: summary ?? "\(action.rawValue) \(dedupKey ?? "")",
            source: source ?? ProcessInfo.processInfo.hostName,
            severity: severity,
            timestamp: RFC3339.format(Date()),
            component: component,
            group: group,
            class: eventClass,
            customDetails: try customDetails()
        )
        return AlertEvent(
            routingKey: "", eventAction: action, dedupKey: dedupKey, payload: payload,
            client: action == .trigger ? "pagerduty-publisher" : nil, links: try parsedLinks()
        ).fittedToLimits()
    }

    func changeEvent() throws -> ChangeEvent {
        guard let summary, !summary.isEmpty else { throw ValidationError("--summary is required for a change event.") }
        return ChangeEvent(
            routingKey: "",
            payload: ChangeEventPayload(
                summary: summary, source: source, timestamp: RFC3339.format(Date()), customDetails: try customDetails()),
            links: try parsedLinks()
        ).fittedToLimits()
    }

    private func customDetails() throws -> JSONValue? {
        guard !details.isEmpty else { return nil }
        var object: [String: JSONValue] = [:]
        for detail in details {
            guard let equals = detail.firstIndex(of: "="), equals != detail.startIndex else {
                throw ValidationError("--detail \"\(detail)\" is not key=value.")
            }
            object[String(detail[..<equals])] = .string(String(detail[detail.index(after: equals)...]))
        }
        return .object(object)
    }

    private func parsedLinks() throws -> [Link]? {
        guard !links.isEmpty else { return nil }
        return try links.map { text in
            let parts = text.split(separator: "|", maxSplits: 1).map(String.init)
            guard let href = parts.first, let components = URLComponents(string: href),
                ["http", "https"].contains(components.scheme?.lowercased() ?? ""), components.host != nil
            else { throw ValidationError("--link \"\(text)\" is not an http(s) URL, optionally followed by |text.") }
            return Link(href: href, text: parts.count > 1 ? parts[1] : nil)
        }
    }
}

/// Where the event goes and with which key.
struct DeliveryOptions: ParsableArguments {
    @Option(name: .customLong("routing-key"), help: "The integration key. [env: PAGERDUTY_ROUTING_KEY]")
    var routingKey: String?

    @Option(name: .customLong("routing-key-file"), help: "File holding the integration key. [env: PAGERDUTY_ROUTING_KEY_FILE]")
    var routingKeyFile: String?

    @Option(name: .customLong("events-url"), help: "Events API base URL. [env: PAGERDUTY_EVENTS_URL] (default: https://events.pagerduty.com)")
    var eventsURL: String?

    @Option(help: "Send through a running daemon at this URL (e.g. http://127.0.0.1:9095) instead of to PagerDuty.")
    var via: String?

    @Option(help: "The route: with --via, the daemon's route; otherwise the route of --config whose key is used.")
    var route: String?

    @Option(help: "With --route (and no --via): the configuration file naming the route. [env: PAGERDUTY_PUBLISHER_CONFIG]")
    var config: String?

    @Option(name: .customLong("auth-token"), help: "With --via: the daemon's bearer token. [env: PAGERDUTY_PUBLISHER_AUTH_TOKEN]")
    var authToken: String?

    @Option(help: "Attempts on 429, 5xx and network errors before giving up.")
    var attempts = 5

    @Flag(name: .customLong("dry-run"), help: "Print the event's JSON (routing key redacted) instead of sending it.")
    var dryRun = false

    func deliver(_ event: AlertEvent) async throws {
        if dryRun { return try printDryRun(event) }
        if let via { return try await SendViaDaemon(baseURL: via, route: route, token: token).send(event) }
        var keyed = event
        keyed.routingKey = try key()
        let client = try makeClient()
        try await retrying { await client.send(keyed) }
    }

    func deliver(_ event: ChangeEvent) async throws {
        if dryRun { return try printDryRun(event) }
        if let via { return try await SendViaDaemon(baseURL: via, route: route, token: token).send(event) }
        var keyed = event
        keyed.routingKey = try key()
        let client = try makeClient()
        try await retrying { await client.send(keyed) }
    }

    private var environment: [String: String] { ProcessInfo.processInfo.environment }

    private var token: String? {
        authToken ?? environment["PAGERDUTY_PUBLISHER_AUTH_TOKEN"]
    }

    private func printDryRun(_ event: some Encodable) throws {
        var json = String(decoding: try EventEncoding.encode(event), as: UTF8.self)
        json = json.replacingOccurrences(of: #""routing_key":"""#, with: #""routing_key":"[REDACTED]""#)
        print(json)
    }

    private func key() throws -> String {
        if let route {
            guard let path = config ?? environment["PAGERDUTY_PUBLISHER_CONFIG"] else {
                throw ValidationError("--route needs the configuration file that defines it: pass --config (or use --via).")
            }
            do {
                let configuration = try RouteConfiguration.load(path: path, defaultRoute: nil, defaults: RouteDefaults())
                guard let found = configuration.routes.first(where: { $0.name == route }) else {
                    throw ValidationError("\(path) defines no route \"\(route)\".")
                }
                return found.routingKey
            } catch let problems as ConfigurationProblems {
                throw ValidationError("\(path) has problems:\n\(problems)")
            }
        }
        let file = routingKeyFile ?? environment["PAGERDUTY_ROUTING_KEY_FILE"]
        let direct = routingKey ?? environment["PAGERDUTY_ROUTING_KEY"]
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("The routing key file \(file) cannot be read.")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let direct, !direct.isEmpty else {
            throw ValidationError("No routing key: pass --routing-key or --routing-key-file, or set PAGERDUTY_ROUTING_KEY (or use --via or --dry-run).")
        }
        return direct
    }

    private func makeClient() throws -> EventsAPIClient {
        let transport = CurlHTTPTransport(
            configuration: CurlTransportConfiguration(userAgent: "pagerduty-publisher/\(PublisherVersion.current)", maxConcurrentRequests: 1)
        )
        do {
            return try EventsAPIClient(
                baseURL: eventsURL ?? environment["PAGERDUTY_EVENTS_URL"] ?? ServeSettings.defaultEventsURL,
                transport: transport
            )
        } catch {
            throw ValidationError(error.reason)
        }
    }

    /// Sends until accepted, refused, or out of attempts; retries wait 1, 2, 4 ... s (or Retry-After).
    private func retrying(_ send: () async -> DeliveryReport) async throws {
        let policy = RetryPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(30))
        var random = SystemRandomNumberGenerator()
        for attempt in 1...max(1, attempts) {
            let report = await send()
            switch report.outcome {
            case .accepted(let dedupKey):
                print("Accepted by PagerDuty" + (dedupKey.map { " (dedup_key \($0))" } ?? "") + ".")
                return
            case .rejected(let reason):
                FileHandle.standardError.write(Data("pagerduty-publisher: PagerDuty refused the event: \(reason)\n".utf8))
                throw ExitCode.failure
            case .rateLimited(let retryAfter) where attempt < attempts:
                try await Task.sleep(for: retryAfter ?? policy.delay(forAttempt: attempt, using: &random))
            case .serverError, .unexpectedStatus, .timeout, .network, .rateLimited:
                guard attempt < attempts else {
                    FileHandle.standardError.write(Data("pagerduty-publisher: not delivered after \(attempts) attempts: \(report.statusLabel)\n".utf8))
                    throw ExitCode.failure
                }
                try await Task.sleep(for: policy.delay(forAttempt: attempt, using: &random))
            }
        }
    }
}
