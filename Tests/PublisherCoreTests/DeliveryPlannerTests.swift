import PagerDutyEvents
import PublisherCore
import Testing

/// A pending alert event of `kind` for `key`.
private func alert(_ id: Int64, _ key: String, _ severity: Severity?, _ kind: OutboxKind = .trigger) -> PendingMessageSummary {
    PendingMessageSummary(id: id, kind: kind, dedupKey: key, severity: severity)
}

/// A pending change event.
private func change(_ id: Int64) -> PendingMessageSummary {
    PendingMessageSummary(id: id, kind: .change, dedupKey: nil, severity: nil)
}

private func plannedIDs(_ pending: [PendingMessageSummary]) -> [Int64] {
    DeliveryPlanner.order(pending).map(\.id)
}

@Suite("Delivery planner", .timeLimit(.minutes(2)))
struct DeliveryPlannerTests {
    @Test func moreSevereGoesFirst() {
        let pending = [
            alert(1, "a", .info), alert(2, "b", .warning), alert(3, "c", .error), alert(4, "d", .critical),
            alert(5, "e", nil),
        ]
        #expect(plannedIDs(pending) == [4, 3, 2, 1, 5])
    }

    @Test func urgencyFollowsSeverityAndChangeEventsAreUnrated() {
        #expect(DeliveryUrgency(.critical) < DeliveryUrgency(.error))
        #expect(DeliveryUrgency(.error) < DeliveryUrgency(.warning))
        #expect(DeliveryUrgency(.warning) < DeliveryUrgency(.info))
        #expect(DeliveryUrgency(.info) < DeliveryUrgency(nil))
        let oddChange = PendingMessageSummary(id: 1, kind: .change, dedupKey: nil, severity: .critical)
        #expect(DeliveryUrgency(of: oddChange) == .unrated)
    }

    @Test func theOldestGoesFirstWithinASeverity() {
        let pending = [
            alert(10, "a", .warning), alert(11, "b", .critical), alert(12, "c", .warning), alert(13, "d", .critical),
            alert(14, "e", .warning),
        ]
        #expect(plannedIDs(pending) == [11, 13, 10, 12, 14])
    }

    @Test func theInputOrderDoesNotMatterOnlyTheIDs() {
        let pending = [alert(14, "e", .warning), alert(11, "b", .critical), alert(10, "a", .warning), alert(13, "d", .critical)]
        #expect(plannedIDs(pending) == [11, 13, 10, 14])
    }

    @Test func aKeysMessagesKeepTheirOrderWhenALaterOneIsMoreSevere() {
        // "x": an info trigger, then a critical re-trigger, then a resolve without severity.
        let pending = [
            alert(1, "w1", .warning), alert(2, "x", .info), alert(3, "w2", .warning),
            alert(4, "x", .critical), alert(5, "x", nil, .resolve), alert(6, "w3", .warning),
        ]
        let planned = plannedIDs(pending)
        // The critical re-trigger pulls the earlier info trigger ahead with it; the resolve keeps its own rank.
        #expect(planned == [2, 4, 1, 3, 6, 5])
    }

    @Test func inheritedUrgencyStillLetsOlderMessagesOfThatUrgencyGoFirst() {
        let pending = [
            alert(1, "old-critical", .critical), alert(2, "x", .warning), alert(3, "new-critical", .critical),
            alert(4, "x", .critical),
        ]
        #expect(plannedIDs(pending) == [1, 2, 3, 4])
    }

    @Test func aResolveNeverOvertakesItsTrigger() {
        let pending = [alert(1, "k", .info, .trigger), alert(2, "k", .critical, .acknowledge), alert(3, "k", .critical, .resolve)]
        #expect(plannedIDs(pending) == [1, 2, 3])
    }

    @Test func changeEventsGoLastInTheirOwnOrderAndHoldNothingBack() {
        let pending = [change(1), alert(2, "a", .info), change(3), alert(4, "b", nil, .resolve), alert(5, "c", .critical)]
        #expect(plannedIDs(pending) == [5, 2, 1, 3, 4])
    }

    @Test func equalUrgencyKeepsTheOutboxOrder() {
        let pending = (1...50).map { alert(Int64($0), "k\($0 % 7)", .warning) }
        #expect(plannedIDs(pending) == Array(1...50))
    }

    @Test func nothingIsLostOrDuplicated() {
        var pending: [PendingMessageSummary] = []
        let severities: [Severity] = [.critical, .error, .warning, .info]
        for id in 1...300 {
            let severity = severities[(id * 7) % severities.count]
            pending.append(id % 11 == 0 ? change(Int64(id)) : alert(Int64(id), "k\(id % 13)", severity))
        }
        let planned = DeliveryPlanner.order(pending)
        #expect(planned.map(\.id).sorted() == pending.map(\.id))
        // Per dedup_key the plan keeps the id order.
        var lastIDPerKey: [String: Int64] = [:]
        var keysOutOfOrder: [String] = []
        for message in planned {
            guard let key = message.dedupKey else { continue }
            if let last = lastIDPerKey[key], last > message.id { keysOutOfOrder.append(key) }
            lastIDPerKey[key] = message.id
        }
        #expect(keysOutOfOrder.isEmpty)
        // Every alert here has a severity, so the change events are the plan's tail, in id order.
        let changeIDs = pending.filter { $0.kind == .change }.map(\.id)
        #expect(Array(planned.map(\.id).suffix(changeIDs.count)) == changeIDs)
    }

    @Test func anEmptyOutboxPlansNothing() {
        #expect(DeliveryPlanner.order([]).isEmpty)
    }
}
