import Foundation
import Hummingbird
import Logging
import Mustache
import PublisherCore

/// `GET /`: a read-only HTML page with the daemon's state, server-rendered from a Mustache template (every value
/// escaped, no script, no external asset). Open like `/metrics`, and like it needs a credential when the web
/// configuration names users (see ``ReceiverAuthorization``).
struct StatusPage: Sendable {
    let report: @Sendable () async throws -> StatusReport
    let logger: Logger
    private let template: MustacheTemplate

    init(report: @escaping @Sendable () async throws -> StatusReport, logger: Logger) {
        self.report = report
        self.logger = logger
        // The template is a constant of this file: parsing it cannot fail at run time unless the file is broken,
        // which every test of the page would show.
        self.template = try! MustacheTemplate(string: StatusPageTemplate.text)
    }

    func respond(context: some RequestContext) async -> Response {
        let current: StatusReport
        do {
            current = try await report()
        } catch {
            logger.forRequest(context).error("The status page could not read the store", metadata: ["error": "\(error)"])
            return ReceiverRejection(status: .serviceUnavailable, reason: "the store cannot be read: \(error)").response
        }
        let html = template.render(StatusPageView(current))
        return Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }
}

/// The report as the template shows it: every figure already written out.
struct StatusPageView {
    struct RouteLine {
        var name: String
        var pending: Int
        var oldestAge: String
        var deadLetters: Int
        var budget: String
        var pause: String
        var isPaused: Bool
    }

    struct AlertmanagerLine {
        var name: String
        var state: String
        var lastAnswered: String
    }

    struct DeadLetterLine {
        var id: Int64
        var route: String
        var kind: String
        var dedupKey: String
        var failedAt: String
        var reason: String
    }

    struct IncidentLine {
        var route: String
        var dedupKey: String
        var state: String
        var since: String
        var by: String
        var incidentID: String
        /// The incident's page: only an http or https URL (``ReportedIncident/incidentLink``); empty without one.
        var link: String
        var hasLink: Bool
        var silence: String
    }

    var version: String
    var generatedAt: String
    var routes: [RouteLine]
    var hasAlertmanagers: Bool
    var alertmanagers: [AlertmanagerLine]
    var hasDeadLetters: Bool
    var deadLetters: [DeadLetterLine]
    var hasIncidents: Bool
    var triggered: Int
    var acknowledged: Int
    var resolved: Int
    var incidents: [IncidentLine]
    /// More entries than the table lists: it says how many it shows of how many.
    var hasMoreIncidents: Bool
    var incidentsShown: Int
    var incidentsTotal: Int

    init(_ report: StatusReport) {
        let now = report.generatedAt
        version = report.version
        generatedAt = Self.time(now)
        routes = report.routes.map { route in
            RouteLine(
                name: route.name, pending: route.pending, oldestAge: route.oldestPendingAge.map(Self.age) ?? "—",
                deadLetters: route.deadLetters, budget: "\(route.requestsInWindow) / \(route.limit)",
                pause: route.pausedUntil.map { "429: paused \(Self.age($0.timeIntervalSince(now))) more" } ?? "—",
                isPaused: route.pausedUntil != nil)
        }
        hasAlertmanagers = !report.alertmanagers.isEmpty
        alertmanagers = report.alertmanagers.map { alertmanager in
            AlertmanagerLine(
                name: alertmanager.name,
                state: alertmanager.isUp.map { $0 ? "up" : "unreachable" } ?? "not polled yet",
                lastAnswered: alertmanager.lastAnsweredAt.map { "\(Self.age(now.timeIntervalSince($0))) ago" } ?? "never")
        }
        hasDeadLetters = !report.deadLetters.isEmpty
        deadLetters = report.deadLetters.map { letter in
            DeadLetterLine(
                id: letter.id, route: letter.message.route, kind: letter.message.kind.rawValue,
                dedupKey: letter.message.dedupKey ?? "—", failedAt: Self.time(letter.failedAt), reason: letter.reason)
        }
        triggered = report.incidentCounts[.triggered] ?? 0
        acknowledged = report.incidentCounts[.acknowledged] ?? 0
        resolved = report.incidentCounts[.resolved] ?? 0
        incidents = report.incidents.map { reported in
            let incident = reported.incident
            let link = reported.incidentLink
            return IncidentLine(
                route: reported.route, dedupKey: reported.dedupKey, state: incident.status.rawValue,
                since: Self.time(incident.changedAt), by: Self.agent(incident.changedBy), incidentID: incident.incidentID,
                link: link ?? "", hasLink: link != nil, silence: Self.silence(reported.ownSilence))
        }
        incidentsShown = incidents.count
        incidentsTotal = triggered + acknowledged + resolved
        hasMoreIncidents = incidentsTotal > incidentsShown
        hasIncidents = incidentsTotal > 0 || !incidents.isEmpty
    }

    /// Who changed an incident: PagerDuty's display name, "—" without one. A name with `@` (an e-mail address,
    /// which the webhook endpoint already drops) is never shown.
    static func agent(_ name: String?) -> String {
        guard let name, !name.allSatisfy(\.isWhitespace), !name.contains("@") else { return "—" }
        return name
    }

    /// A silence of ours: "until" its end while in force, "not yet in Alertmanager" while no Alertmanager took it.
    static func silence(_ silence: ReportedIncident.OwnSilenceState?) -> String {
        switch silence {
        case .inForce(let endsAt): "until \(time(endsAt))"
        case .notYetInAlertmanager: "not yet in Alertmanager"
        case nil: "—"
        }
    }

    /// `2026-11-28 10:15:02 UTC`.
    static func time(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        return "\(parts.year ?? 0)-\(two(parts.month))-\(two(parts.day)) \(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) UTC"
    }

    /// `42 s`, `3 min 5 s`, `2 h 10 min`.
    static func age(_ seconds: TimeInterval) -> String {
        let total = max(0, Int(seconds.rounded()))
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min \(total % 60) s" }
        return "\(total / 3600) h \(total % 3600 / 60) min"
    }
}

/// The page's Mustache template. `{{…}}` escapes HTML; nothing is rendered unescaped.
enum StatusPageTemplate {
    static let text = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>pagerduty-publisher</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
        h1 { font-size: 1.4rem; margin-bottom: 0.2rem; }
        h2 { font-size: 1.1rem; margin-top: 2rem; }
        table { border-collapse: collapse; }
        th, td { text-align: left; padding: 0.3rem 0.8rem; border-bottom: 1px solid #ddd; }
        td.number { text-align: right; font-variant-numeric: tabular-nums; }
        .paused, .unreachable, .triggered { color: #b00020; font-weight: 600; }
        .meta { color: #555; }
        </style>
        </head>
        <body>
        <h1>pagerduty-publisher</h1>
        <p class="meta">version <span id="version">{{version}}</span> · as of {{generatedAt}} ·
        <a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></p>

        <h2>Routes</h2>
        <table id="routes">
        <thead><tr><th>route</th><th>pending</th><th>oldest pending</th><th>dead letters</th><th>requests in the last 60 s / budget</th><th>429 pause</th></tr></thead>
        <tbody>
        {{#routes}}
        <tr data-route="{{name}}"><td>{{name}}</td><td class="number pending">{{pending}}</td><td class="number">{{oldestAge}}</td><td class="number dead">{{deadLetters}}</td><td class="number budget">{{budget}}</td><td class="{{#isPaused}}paused{{/isPaused}}">{{pause}}</td></tr>
        {{/routes}}
        </tbody>
        </table>

        <h2>Alertmanager sync</h2>
        {{#hasAlertmanagers}}
        <table id="alertmanagers">
        <thead><tr><th>Alertmanager</th><th>state</th><th>last answer</th></tr></thead>
        <tbody>
        {{#alertmanagers}}
        <tr><td>{{name}}</td><td class="{{state}}">{{state}}</td><td>{{lastAnswered}}</td></tr>
        {{/alertmanagers}}
        </tbody>
        </table>
        {{/hasAlertmanagers}}
        {{^hasAlertmanagers}}<p>Off (no <code>--alertmanager-url</code>).</p>{{/hasAlertmanagers}}

        <h2>Last dead letters</h2>
        {{#hasDeadLetters}}
        <table id="dead-letters">
        <thead><tr><th>id</th><th>route</th><th>event</th><th>dedup_key</th><th>failed at</th><th>PagerDuty's reason</th></tr></thead>
        <tbody>
        {{#deadLetters}}
        <tr><td class="number">{{id}}</td><td>{{route}}</td><td>{{kind}}</td><td><code>{{dedupKey}}</code></td><td>{{failedAt}}</td><td class="reason">{{reason}}</td></tr>
        {{/deadLetters}}
        </tbody>
        </table>
        {{/hasDeadLetters}}
        {{^hasDeadLetters}}<p>None.</p>{{/hasDeadLetters}}

        <h2>Incidents as PagerDuty reports them</h2>
        {{#hasIncidents}}
        <p id="incident-counts">triggered <strong class="count">{{triggered}}</strong> · acknowledged <strong class="count">{{acknowledged}}</strong> · resolved <strong class="count">{{resolved}}</strong></p>
        <table id="incidents">
        <thead><tr><th>route</th><th>dedup_key</th><th>PagerDuty state</th><th>since</th><th>by</th><th>incident</th><th>our silence</th></tr></thead>
        <tbody>
        {{#incidents}}
        <tr><td>{{route}}</td><td><code>{{dedupKey}}</code></td><td class="{{state}}">{{state}}</td><td>{{since}}</td><td class="by">{{by}}</td><td>{{#hasLink}}<a href="{{link}}" rel="noreferrer">{{incidentID}}</a>{{/hasLink}}{{^hasLink}}{{incidentID}}{{/hasLink}}</td><td>{{silence}}</td></tr>
        {{/incidents}}
        </tbody>
        </table>
        {{#hasMoreIncidents}}<p class="meta">The latest {{incidentsShown}} of {{incidentsTotal}}; <code>queue incidents</code> lists more.</p>{{/hasMoreIncidents}}
        {{/hasIncidents}}
        {{^hasIncidents}}<p>None reported: PagerDuty's webhooks are off (no <code>--pagerduty-webhook-secret-file</code>) or have named no alert of ours yet.</p>{{/hasIncidents}}
        </body>
        </html>

        """
}
