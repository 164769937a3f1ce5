import AlertmanagerModels

extension AlertmanagerAPIClient: AlertmanagerObserving {
    /// Host and port (and path prefix) of the Alertmanager, never credentials.
    public var displayName: String { endpoint.displayName }

    /// The alerts `GET /api/v2/alerts` reports, as the sync sees them: firing alerts with what mutes them. When any
    /// alert is silenced, `GET /api/v2/silences` tells which of those silences this daemon created.
    public func currentAlerts() async throws -> [ObservedAlert] {
        let alerts = try await alerts()
        guard alerts.contains(where: { $0.status.isSilenced }) else { return alerts.map { ObservedAlert(apiAlert: $0) } }
        let own = Set(try await silences().lazy.filter { $0.createdBy == SilenceRules.createdBy }.map(\.id))
        return alerts.map { ObservedAlert(apiAlert: $0, ownSilences: own) }
    }
}

/// Creates, extends and expires the daemon's own silences for the sync's ``SilenceKeeper`` (the client's
/// `postSilence(_:)` and `expireSilence(id:)`, whose typed errors say what failed).
extension AlertmanagerAPIClient: AlertmanagerSilencing {}

extension ObservedAlert {
    /// The sync's view of an alert from Alertmanager's API; `ownSilences` are the ids of the silences this daemon
    /// created.
    public init(apiAlert: APIAlert, ownSilences: Set<String> = []) {
        self.init(
            alert: Alert(
                status: .firing,
                labels: apiAlert.labels,
                annotations: apiAlert.annotations,
                startsAt: apiAlert.startsAt,
                endsAt: apiAlert.endsAt,
                generatorURL: apiAlert.generatorURL,
                fingerprint: apiAlert.fingerprint
            ),
            silencedBy: apiAlert.status.silencedBy,
            inhibitedBy: apiAlert.status.inhibitedBy,
            ownSilences: apiAlert.status.silencedBy.filter(ownSilences.contains)
        )
    }
}
