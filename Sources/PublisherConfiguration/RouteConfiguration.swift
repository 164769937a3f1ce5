import Foundation
import PagerDutyEvents
import PublisherCore
import Yams

/// Everything wrong with a configuration, each problem a sentence naming where it is. Keys never appear.
public struct ConfigurationProblems: Error, CustomStringConvertible {
    /// Each problem, a sentence naming where it is.
    public var problems: [String]

    /// Collects `problems`.
    public init(problems: [String]) {
        self.problems = problems
    }

    /// The problems, one a line.
    public var description: String { problems.joined(separator: "\n") }
}

/// What a route gets for the settings it does not give itself (from the `serve` flags).
public struct RouteDefaults: Sendable {
    /// The severity of an alert whose severity label is missing or unknown.
    public var severity: Severity
    /// What a silenced or inhibited alert's incident gets.
    public var mutePolicy: MutePolicy
    /// One incident per alert, or per Alertmanager group.
    public var incidentPer: IncidentGrouping
    /// What responders' acknowledges and resolves in PagerDuty lead to.
    public var feedbackPolicy: FeedbackPolicy

    /// The defaults `serve` uses when no flag changes them.
    public init(
        severity: Severity = .error, mutePolicy: MutePolicy = MutePolicy(), incidentPer: IncidentGrouping = .alert,
        feedbackPolicy: FeedbackPolicy = FeedbackPolicy()
    ) {
        self.severity = severity
        self.mutePolicy = mutePolicy
        self.incidentPer = incidentPer
        self.feedbackPolicy = feedbackPolicy
    }
}

/// The routes a configuration file defines, plus the default route from the flags or environment.
///
/// File format (YAML):
/// ```yaml
/// routes:
///   - name: database                      # letters, digits, '-' and '_'; used in URLs and metrics
///     routing_key_file: /etc/keys/db      # or routing_key: <32 characters>
///     match: ['team = dba', 'env != staging', 'severity =~ "critical|page"']
///     severity_map: { p0: critical }      # extra aliases for this route
///     default_severity: warning           # for missing or unknown severity labels
///     summary_template: "{{ labels.alertname }} on {{ labels.instance }}"
///     fields: { source: [host, instance], component: [service] }
///     details: { include: [...], exclude: [secret_label] }
///     links: [runbook_url, logs_url]      # annotations whose URLs become links
///     silenced: acknowledge               # acknowledge | resolve | nothing (needs --alertmanager-url)
///     inhibited: nothing                  # acknowledge | resolve | nothing
///     incident_per: alert                 # alert | group (one incident per Alertmanager group)
///     acknowledged: silence               # silence | nothing (needs PagerDuty's webhooks and --alertmanager-url)
///     manual_resolve: retrigger-after:10m # retrigger-after:DURATION | silence:DURATION | nothing
///     reopen: resolve-then-trigger        # resolve-then-trigger | nothing
/// ```
/// A route called `default` in the file is replaced by the one from `--routing-key` when both exist.
public struct RouteConfiguration: Sendable {
    /// The routes, the default one (if any) last.
    public var routes: [Route]
    /// Files whose change triggers a reload: the configuration file and every key file.
    public var watchedFiles: [String]

    static let topLevelKeys: Set<String> = ["routes"]
    static let routeKeys: Set<String> = [
        "name", "routing_key", "routing_key_file", "match", "severity_map", "default_severity", "summary_template",
        "fields", "details", "links", "silenced", "inhibited", "incident_per", "acknowledged", "manual_resolve", "reopen",
    ]
    static let fieldKeys: Set<String> = ["source", "component", "group", "class"]
    static let detailsKeys: Set<String> = ["include", "exclude"]

    /// Loads `path` (if any) and adds `defaultRoute`; lists every problem at once when there are some.
    public static func load(path: String?, defaultRoute: Route?, defaults: RouteDefaults) throws(ConfigurationProblems) -> RouteConfiguration {
        var problems: [String] = []
        var routes: [Route] = []
        var watched: [String] = []
        if let path {
            watched.append(path)
            routes = parseFile(path, defaults: defaults, problems: &problems, keyFiles: &watched)
        }
        if let defaultRoute {
            routes.removeAll { $0.name == defaultRoute.name }
            routes.append(defaultRoute)
        }
        if problems.isEmpty && routes.isEmpty {
            problems.append("No route is configured: set --routing-key (or PAGERDUTY_ROUTING_KEY) or define routes in the configuration file.")
        }
        guard problems.isEmpty else { throw ConfigurationProblems(problems: problems) }
        return RouteConfiguration(routes: routes, watchedFiles: watched)
    }

    private static func parseFile(_ path: String, defaults: RouteDefaults, problems: inout [String], keyFiles: inout [String]) -> [Route] {
        guard let data = FileManager.default.contents(atPath: path) else {
            problems.append("\(path): cannot be read.")
            return []
        }
        let document: Any?
        do {
            document = try Yams.load(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            problems.append("\(path): not valid YAML: \(Self.syntaxProblem(error)).")
            return []
        }
        guard let top = document as? [String: Any] else {
            problems.append("\(path): the file must be a mapping with a 'routes' list.")
            return []
        }
        for key in top.keys.sorted() where !topLevelKeys.contains(key) {
            problems.append("\(path): unknown setting '\(key)' (known: \(topLevelKeys.sorted().joined(separator: ", "))).")
        }
        guard let entries = top["routes"] as? [Any] else {
            if top["routes"] != nil { problems.append("\(path): 'routes' must be a list.") }
            return []
        }
        var routes: [Route] = []
        var names: Set<String> = []
        for (index, entry) in entries.enumerated() {
            let place = "\(path): routes[\(index)]"
            guard let fields = entry as? [String: Any] else {
                problems.append("\(place): must be a mapping.")
                continue
            }
            if let route = parseRoute(fields, place: place, defaults: defaults, problems: &problems, keyFiles: &keyFiles) {
                if names.insert(route.name).inserted {
                    routes.append(route)
                } else {
                    problems.append("\(place): the name '\(route.name)' is used twice.")
                }
            }
        }
        return routes
    }

    private static func parseRoute(
        _ fields: [String: Any],
        place: String,
        defaults: RouteDefaults,
        problems: inout [String],
        keyFiles: inout [String]
    ) -> Route? {
        let before = problems.count
        for key in fields.keys.sorted() where !routeKeys.contains(key) {
            problems.append("\(place): unknown setting '\(key)' (known: \(routeKeys.sorted().joined(separator: ", "))).")
        }
        let name = fields["name"] as? String ?? ""
        if name.isEmpty || !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            problems.append("\(place): 'name' must be letters, digits, '-' or '_'.")
        }
        let where_ = name.isEmpty ? place : "\(place) (\(name))"
        var key: String?
        switch (fields["routing_key"], fields["routing_key_file"]) {
        case (let direct as String, nil):
            key = direct.trimmingCharacters(in: .whitespacesAndNewlines)
        case (nil, let file as String):
            keyFiles.append(file)
            if let data = FileManager.default.contents(atPath: file) {
                key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                problems.append("\(where_): the routing key file \(file) cannot be read.")
            }
        case (nil, nil):
            problems.append("\(where_): needs 'routing_key' or 'routing_key_file'.")
        default:
            problems.append("\(where_): give either 'routing_key' or 'routing_key_file' (a string), not both.")
        }
        if let candidate = key, !EventLimits.isWellFormedRoutingKey(candidate) {
            problems.append("\(where_): the routing key must be \(EventLimits.routingKeyLength) letters or digits; the one given has \(candidate.count) characters.")
        }
        var matchers: [LabelMatcher] = []
        switch fields["match"] {
        case nil:
            break
        case let list as [Any]:
            for (index, item) in list.enumerated() {
                guard let text = item as? String else {
                    problems.append("\(where_): match[\(index)] must be a string like 'team = dba'.")
                    continue
                }
                do {
                    matchers.append(try LabelMatcher(parsing: text))
                } catch {
                    problems.append("\(where_): match[\(index)]: \(error.description).")
                }
            }
        default:
            problems.append("\(where_): 'match' must be a list of matchers like 'team = dba'.")
        }
        let routeDefault = choice(fields, "default_severity", default: defaults.severity, at: where_, problems: &problems)
        var aliases: [String: Severity] = [:]
        if let map = fields["severity_map"] {
            if let pairs = map as? [String: Any] {
                for (alias, target) in pairs.sorted(by: { $0.key < $1.key }) {
                    if let value = target as? String, let severity = Severity(rawValue: value.lowercased()) {
                        aliases[alias] = severity
                    } else {
                        problems.append("\(where_): severity_map.\(alias) must be critical, error, warning or info.")
                    }
                }
            } else {
                problems.append("\(where_): severity_map must map label values to critical, error, warning or info.")
            }
        }
        var mapper = EventMapper(severityMapping: SeverityMapping(defaultSeverity: routeDefault, extraAliases: aliases))
        if let text = fields["summary_template"] {
            if let text = text as? String {
                do {
                    mapper.summaryTemplate = try SummaryTemplate(text)
                } catch {
                    problems.append("\(where_): summary_template: \(error.description).")
                }
            } else {
                problems.append("\(where_): summary_template must be a string.")
            }
        }
        if let value = fields["fields"] {
            if let map = value as? [String: Any] {
                for (field, labels) in map.sorted(by: { $0.key < $1.key }) {
                    guard fieldKeys.contains(field) else {
                        problems.append("\(where_): fields.\(field) is unknown (known: \(fieldKeys.sorted().joined(separator: ", "))).")
                        continue
                    }
                    guard let names = stringList(labels) else {
                        problems.append("\(where_): fields.\(field) must be a list of label names.")
                        continue
                    }
                    switch field {
                    case "source": mapper.fieldLabels.source = names
                    case "component": mapper.fieldLabels.component = names
                    case "group": mapper.fieldLabels.group = names
                    default: mapper.fieldLabels.class = names
                    }
                }
            } else {
                problems.append("\(where_): fields must map source, component, group or class to label names.")
            }
        }
        if let value = fields["details"] {
            if let map = value as? [String: Any], Set(map.keys).isSubset(of: detailsKeys) {
                let include = map["include"].map(stringList)
                let exclude = map["exclude"].map(stringList)
                if include == .some(nil) || exclude == .some(nil) {
                    problems.append("\(where_): details.include and details.exclude must be lists of label or annotation names.")
                } else {
                    mapper.detailsFilter = EventMapper.DetailsFilter(
                        include: include.flatMap { $0 }.map(Set.init), exclude: Set(exclude.flatMap { $0 } ?? []))
                }
            } else {
                problems.append("\(where_): details must have only 'include' and 'exclude' lists.")
            }
        }
        if let value = fields["links"] {
            if let names = stringList(value) {
                mapper.linkAnnotations = names.map { EventMapper.LinkAnnotation(annotation: $0, text: $0) }
            } else {
                problems.append("\(where_): links must be a list of annotation names whose URLs become links.")
            }
        }
        let mutePolicy = MutePolicy(
            silenced: choice(fields, "silenced", default: defaults.mutePolicy.silenced, at: where_, problems: &problems),
            inhibited: choice(fields, "inhibited", default: defaults.mutePolicy.inhibited, at: where_, problems: &problems)
        )
        let incidentPer = choice(fields, "incident_per", default: defaults.incidentPer, at: where_, problems: &problems)
        var manualResolve = defaults.feedbackPolicy.manualResolve
        if let value = fields["manual_resolve"] {
            if let text = value as? String, let parsed = ManualResolveAction(text: text.lowercased(), parseDuration: { DurationText.parse(String($0)) }) {
                manualResolve = parsed
            } else {
                problems.append("\(where_): manual_resolve must be \(ManualResolveAction.forms), with a positive duration such as 10m.")
            }
        }
        let feedbackPolicy = FeedbackPolicy(
            acknowledged: choice(fields, "acknowledged", default: defaults.feedbackPolicy.acknowledged, at: where_, problems: &problems),
            manualResolve: manualResolve,
            reopen: choice(fields, "reopen", default: defaults.feedbackPolicy.reopen, at: where_, problems: &problems)
        )
        guard problems.count == before, let key else { return nil }
        return Route(
            name: name, routingKey: key, matchers: matchers, mapper: mapper, mutePolicy: mutePolicy,
            incidentPer: incidentPer, feedbackPolicy: feedbackPolicy)
    }

    /// The value of `setting` as one of `Choice`'s cases (any letter case), else `fallback`. Any other value is a
    /// problem naming the values allowed.
    private static func choice<Choice: RawRepresentable<String> & CaseIterable>(
        _ fields: [String: Any],
        _ setting: String,
        default fallback: Choice,
        at place: String,
        problems: inout [String]
    ) -> Choice {
        guard let value = fields[setting] else { return fallback }
        if let text = value as? String, let parsed = Choice(rawValue: text.lowercased()) { return parsed }
        let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        problems.append("\(place): \(setting) must be one of \(allowed).")
        return fallback
    }

    /// Where and why the YAML parser stopped, without the source text: Yams' own descriptions quote the offending
    /// line, which may hold an inline `routing_key`, and these sentences reach stderr and the log.
    static func syntaxProblem(_ error: any Error) -> String {
        guard let error = error as? YamlError else { return "the file cannot be parsed" }
        func at(_ mark: Mark, _ context: YamlError.Context?, _ problem: String) -> String {
            "line \(mark.line), column \(mark.column): " + [context?.text, problem].compactMap { $0 }.joined(separator: ", ")
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
            let .composer(context, problem, mark, _):
            return at(mark, context, problem)
        case let .reader(problem, offset, _, _):
            return "\(problem)" + (offset.map { " at byte \($0)" } ?? "")
        case let .duplicatedKeysInMapping(duplicates, context):
            return "line \(context.mark.line), column \(context.mark.column): \(duplicates.count) key(s) repeated in one mapping"
        case .dataCouldNotBeDecoded:
            return "the file is not UTF-8 text"
        default:
            return "the file cannot be parsed"
        }
    }

    /// `value` as a list of strings, or `nil` when it is something else.
    private static func stringList(_ value: Any) -> [String]? {
        guard let list = value as? [Any] else { return nil }
        let strings = list.compactMap { $0 as? String }
        return strings.count == list.count ? strings : nil
    }
}
