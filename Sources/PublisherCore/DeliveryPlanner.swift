import PagerDutyEvents

/// How urgently a pending message should go out; a smaller value goes first.
public enum DeliveryUrgency: Int, Sendable, Hashable, Comparable, CaseIterable {
    case critical
    case error
    case warning
    case info
    /// Change events, and alert events that carry no severity.
    case unrated

    /// The urgency of an event with `severity` (`nil`: ``unrated``).
    public init(_ severity: Severity?) {
        switch severity {
        case .critical: self = .critical
        case .error: self = .error
        case .warning: self = .warning
        case .info: self = .info
        case nil: self = .unrated
        }
    }

    /// The urgency of the message `summary` stands for: change events are always ``unrated``.
    public init(of summary: PendingMessageSummary) {
        self = summary.kind == .change ? .unrated : DeliveryUrgency(summary.severity)
    }

    public static func < (lhs: DeliveryUrgency, rhs: DeliveryUrgency) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// Decides in which order a lane delivers its pending messages when it has more than one waiting: most urgent
/// first, the oldest first among equally urgent ones, and never out of order per dedup_key.
///
/// Per dedup_key a message goes only after every earlier message (lower id) of the same key. So that this
/// never holds an urgent message back, an earlier message inherits the urgency of the most urgent later message
/// of its key: a critical trigger pulls the still-pending events of its alert ahead with it, in id order.
/// Change events have no dedup_key and are independent of each other and of alerts.
///
/// Pure and O(n log n) for n messages.
public enum DeliveryPlanner {
    /// `pending` (any order) in delivery order.
    public static func order(_ pending: [PendingMessageSummary]) -> [PendingMessageSummary] {
        let byAge = pending.enumerated()
            .sorted { ($0.element.id, $0.offset) < ($1.element.id, $1.offset) }
            .map(\.element)
        let urgencies = inheritedUrgencies(byAge)
        return byAge.indices
            .sorted { (urgencies[$0], $0) < (urgencies[$1], $1) }
            .map { byAge[$0] }
    }

    /// The urgency each message of `byAge` (in id order) gets: its own, raised to the most urgent of the later
    /// messages with its dedup_key.
    private static func inheritedUrgencies(_ byAge: [PendingMessageSummary]) -> [DeliveryUrgency] {
        var urgencies = byAge.map(DeliveryUrgency.init(of:))
        var mostUrgentLater: [String: DeliveryUrgency] = [:]
        for index in byAge.indices.reversed() {
            guard let dedupKey = byAge[index].dedupKey else { continue }
            if let later = mostUrgentLater[dedupKey] {
                urgencies[index] = min(urgencies[index], later)
            }
            mostUrgentLater[dedupKey] = urgencies[index]
        }
        return urgencies
    }
}
