import ArgumentParser
import Foundation
import PagerDutyEvents
import PublisherConfiguration
import PublisherCore

/// `pagerduty-publisher check-config`: validates a configuration file and the key files it names.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and its key files; list every problem and exit non-zero if any."
    )

    @Option(help: "The YAML configuration file. [env: PAGERDUTY_PUBLISHER_CONFIG]")
    var config: String?

    /// The names of routes that use the same key, in configuration order, for each key used by more than one.
    static func routesSharingAKey(_ routes: [Route]) -> [[String]] {
        var namesByKey: [String: [String]] = [:]
        var keys: [String] = []
        for route in routes {
            if namesByKey[route.routingKey] == nil { keys.append(route.routingKey) }
            namesByKey[route.routingKey, default: []].append(route.name)
        }
        return keys.compactMap { namesByKey[$0]!.count > 1 ? namesByKey[$0] : nil }
    }

    func run() throws {
        guard let path = config ?? ProcessInfo.processInfo.environment["PAGERDUTY_PUBLISHER_CONFIG"] else {
            throw ValidationError("Name the file to check with --config or PAGERDUTY_PUBLISHER_CONFIG.")
        }
        do {
            let configuration = try RouteConfiguration.load(path: path, defaultRoute: nil, defaults: RouteDefaults())
            print("\(path): OK, \(configuration.routes.count) route\(configuration.routes.count == 1 ? "" : "s"):")
            for route in configuration.routes {
                let matchers = route.matchers.isEmpty ? "only through /v1/alertmanager/\(route.name)" : route.matchers.map(\.description).joined(separator: ", ")
                let lifecycle = "silenced: \(route.mutePolicy.silenced.rawValue), inhibited: \(route.mutePolicy.inhibited.rawValue), incident per \(route.incidentPer.rawValue)"
                print("  \(route.name): \(matchers) (\(lifecycle))")
            }
            for names in Self.routesSharingAKey(configuration.routes) {
                print("  \(names.joined(separator: ", ")) share one routing key: one rate budget and one 429 pause.")
            }
        } catch {
            FileHandle.standardError.write(Data("\(error.problems.count) problem\(error.problems.count == 1 ? "" : "s"):\n".utf8))
            for problem in error.problems {
                FileHandle.standardError.write(Data("  - \(problem)\n".utf8))
            }
            throw ExitCode.failure
        }
    }
}
