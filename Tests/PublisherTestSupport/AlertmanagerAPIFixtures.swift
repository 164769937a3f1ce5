import Foundation

extension Fixtures {
    /// The bytes of `Resources/alertmanager-api/<name>`: answers of a real Alertmanager's API v2.
    ///
    /// `alerts-0.25.json` is `GET /api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true` from
    /// Alertmanager 0.25.0 holding four alerts: `HighLatency` (active, no annotations, a `+01:00` start time),
    /// `DiskFull` (active, two receivers), `DiskFilling` (inhibited by `DiskFull`, same `instance`) and
    /// `NoisyCronJob` (silenced).
    public static func alertmanagerAPI(_ name: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Resources/alertmanager-api")
        else {
            throw FixtureError(name: name)
        }
        return try Data(contentsOf: url)
    }
}
