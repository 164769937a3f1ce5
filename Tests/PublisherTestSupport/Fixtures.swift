import Foundation

/// Webhook bodies recorded from a real Alertmanager (0.25) and variants of them, for tests.
public enum Fixtures {
    /// The bytes of `Resources/fixtures/<name>`.
    public static func data(_ name: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Resources/fixtures") else {
            throw FixtureError(name: name)
        }
        return try Data(contentsOf: url)
    }

    /// A fixture that is not in the bundle.
    public struct FixtureError: Error, CustomStringConvertible {
        public var name: String
        public var description: String { "no fixture named \(name)" }
    }
}
