import ArgumentParser
import Foundation
import PagerDutyEvents
import PublisherConfiguration
import PublisherCore
import PublisherPostgres
import PublisherWebConfig

/// `pagerduty-publisher check-config`: validates a configuration file and the key files it names, and the database
/// settings, without connecting to anything.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and its key files, the database settings and a web configuration file; list every problem and exit non-zero if any.",
        discussion: "Nothing is connected to: a PostgreSQL URL is checked for its form, sslmode, password file and CA file."
    )

    @Option(help: "The YAML configuration file. [env: PAGERDUTY_PUBLISHER_CONFIG]")
    var config: String?

    @OptionGroup var database: DatabaseOptions

    @Option(name: .customLong("web-config"), help: "A web configuration file (serve's --web.config.file): its form, and the certificate, key and CA files it names. [env: PAGERDUTY_PUBLISHER_WEB_CONFIG_FILE]")
    var webConfig: String?

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
        let environment = ProcessInfo.processInfo.environment
        let path = config ?? environment["PAGERDUTY_PUBLISHER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let checksDatabase = database.isGiven(environment: environment)
        let webConfigPath = webConfig ?? environment["PAGERDUTY_PUBLISHER_WEB_CONFIG_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        guard path != nil || checksDatabase || webConfigPath != nil else {
            throw ValidationError(
                "Name what to check: the configuration file with --config or PAGERDUTY_PUBLISHER_CONFIG, the database with --database or PAGERDUTY_PUBLISHER_DATABASE, the web configuration with --web-config or PAGERDUTY_PUBLISHER_WEB_CONFIG_FILE, or several.")
        }
        var problems: [String] = []
        if let path { problems += Self.checkRoutes(path: path) }
        if let webConfigPath { problems += Self.checkWebConfig(path: webConfigPath) }
        if checksDatabase { problems += Self.checkDatabase(database, environment: environment) }
        guard problems.isEmpty else {
            FileHandle.standardError.write(Data("\(problems.count) problem\(problems.count == 1 ? "" : "s"):\n".utf8))
            for problem in problems {
                FileHandle.standardError.write(Data("  - \(problem)\n".utf8))
            }
            throw ExitCode.failure
        }
    }

    /// Prints the routes of the file at `path`; returns its problems.
    private static func checkRoutes(path: String) -> [String] {
        do {
            let configuration = try RouteConfiguration.load(path: path, defaultRoute: nil, defaults: RouteDefaults())
            print("\(path): OK, \(configuration.routes.count) route\(configuration.routes.count == 1 ? "" : "s"):")
            for route in configuration.routes {
                let matchers = route.matchers.isEmpty ? "only through /v1/alertmanager/\(route.name)" : route.matchers.map(\.description).joined(separator: ", ")
                let lifecycle = "silenced: \(route.mutePolicy.silenced.rawValue), inhibited: \(route.mutePolicy.inhibited.rawValue), incident per \(route.incidentPer.rawValue), acknowledged: \(route.feedbackPolicy.acknowledged.rawValue), manual_resolve: \(route.feedbackPolicy.manualResolve.text), reopen: \(route.feedbackPolicy.reopen.rawValue)"
                print("  \(route.name): \(matchers) (\(lifecycle))")
            }
            for names in routesSharingAKey(configuration.routes) {
                print("  \(names.joined(separator: ", ")) share one routing key: one rate budget and one 429 pause.")
            }
            return []
        } catch {
            return error.problems
        }
    }

    /// Prints what the web configuration file sets; returns its problems (never a hash or key material).
    static func checkWebConfig(path: String) -> [String] {
        do {
            let loaded = try WebConfigLoader.load(path: path)
            var parts: [String] = []
            if let tls = loaded.config.tls {
                var detail = "TLS with \(tls.certFile), client auth \(tls.clientAuth.rawValue)"
                if let ca = tls.clientCAFile { detail += " against \(ca)" }
                parts.append(detail)
            } else {
                parts.append("plain HTTP")
            }
            let users = loaded.config.users.keys.sorted()
            parts.append(users.isEmpty ? "no basic_auth_users" : "basic_auth_users \(users.joined(separator: ", "))")
            if !loaded.headers.isEmpty { parts.append("headers \(loaded.headers.map(\.name).joined(separator: ", "))") }
            print("\(path): OK, \(parts.joined(separator: "; "))")
            return []
        } catch {
            return error.problems
        }
    }

    /// Prints what the database settings name; returns their problems (never with the password).
    private static func checkDatabase(_ options: DatabaseOptions, environment: [String: String]) -> [String] {
        let location: DatabaseLocation
        do {
            location = try options.location(environment: environment)
        } catch {
            return ["database: \(error.description)"]
        }
        switch location {
        case .sqlite(let path):
            if let problem = SQLiteFileCheck.problem(path: path) { return ["database: \(problem)"] }
            print("database \(path): OK, SQLite (one replica)")
        case .postgres(let url, let passwordFile, let caFile):
            do {
                let settings = try PostgresSettings(url: url, passwordFile: passwordFile, caFile: caFile)
                var details = ["sslmode=\(settings.sslMode.rawValue)"]
                if let passwordFile { details.append("password from \(passwordFile)") }
                if let caFile { details.append("CAs from \(caFile)") }
                print("database \(settings.redacted): OK, PostgreSQL (\(details.joined(separator: ", "))); not connected")
            } catch {
                return ["database \(location): \(error.reason)"]
            }
        }
        return []
    }
}

/// Whether an SQLite file can be used where it is: an existing file must be readable and writable, and a new one
/// needs a directory it can be created in (or that can be created).
enum SQLiteFileCheck {
    static func problem(path: String) -> String? {
        let files = FileManager.default
        if files.fileExists(atPath: path) {
            guard files.isReadableFile(atPath: path), files.isWritableFile(atPath: path) else {
                return "The SQLite file \(path) exists but cannot be read and written by this user."
            }
            return nil
        }
        // The nearest existing ancestor must let serve create the file (and the directories missing below it).
        var directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        while !files.fileExists(atPath: directory.path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        var isDirectory: ObjCBool = false
        guard files.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return "The SQLite file \(path) cannot be created: \(directory.path) is not a directory."
        }
        guard files.isWritableFile(atPath: directory.path) else {
            return "The SQLite file \(path) cannot be created: \(directory.path) is not writable by this user."
        }
        return nil
    }
}
