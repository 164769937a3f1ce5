import Foundation

/// One silence as `GET /api/v2/silences` reports it (Alertmanager's `GettableSilence`), reduced to what tells
/// who made it: its id, creator and state. Matchers, times and the comment are not decoded.
public struct APISilence: Sendable, Hashable, Decodable {
    /// Alertmanager's state of a silence.
    public enum State: String, Sendable, Hashable {
        /// In force now.
        case active
        /// Starts later.
        case pending
        /// Ended (expired or past its end); kept until its retention ends.
        case expired
        /// A state this client does not know.
        case unknown
    }

    /// Alertmanager's id of the silence (a UUID).
    public var id: String
    /// Who created it, as given when it was created (`createdBy`).
    public var createdBy: String
    public var state: State

    /// Creates a silence, for tests and fakes.
    public init(id: String, createdBy: String, state: State) {
        self.id = id
        self.createdBy = createdBy
        self.state = state
    }

    enum CodingKeys: String, CodingKey {
        case id, createdBy, status
    }

    enum StatusKeys: String, CodingKey {
        case state
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        createdBy = try container.decode(String.self, forKey: .createdBy)
        let status = try container.nestedContainer(keyedBy: StatusKeys.self, forKey: .status)
        state = State(rawValue: try status.decode(String.self, forKey: .state)) ?? .unknown
    }
}
