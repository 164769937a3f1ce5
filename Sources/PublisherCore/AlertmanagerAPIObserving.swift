import AlertmanagerModels

extension AlertmanagerAPIClient: AlertmanagerObserving {
    /// Host and port (and path prefix) of the Alertmanager, never credentials.
    public var displayName: String { endpoint.displayName }

    /// The alerts `GET /api/v2/alerts` reports, as the sync sees them: firing alerts with what mutes them.
    public func currentAlerts() async throws -> [ObservedAlert] {
        try await alerts().map(ObservedAlert.init(apiAlert:))
    }
}

/// Creates, extends and expires the daemon's own silences for the sync's ``SilenceKeeper`` (the client's
/// `postSilence(_:)` and `expireSilence(id:)`, whose typed errors say what failed).
extension AlertmanagerAPIClient: AlertmanagerSilencing {}

extension ObservedAlert {
    /// The sync's view of an alert from Alertmanager's API.
    public init(apiAlert: APIAlert) {
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
            inhibitedBy: apiAlert.status.inhibitedBy
        )
    }
}
