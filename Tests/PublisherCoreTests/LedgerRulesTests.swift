import AlertmanagerModels
import Foundation
import PagerDutyEvents
import PublisherCore
import Testing

@Suite("Ledger transitions", .timeLimit(.minutes(2)))
struct LedgerRulesTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let started = Date(timeIntervalSince1970: 1_799_990_000)
    let policy = LedgerPolicy(entryTTL: .seconds(86_400), retriggerInterval: .seconds(4 * 3600))

    func decide(_ existing: LedgerEntry?, _ status: AlertStatus, startsAt: Date? = nil, at time: Date? = nil) -> LedgerDecision {
        LedgerRules.decide(
            existing: existing, route: "default", dedupKey: "abc", status: status,
            startsAt: startsAt ?? started, now: time ?? now, policy: policy
        )
    }

    func entry(_ action: EventAction, at: Date? = nil, startsAt: Date? = nil) -> LedgerEntry {
        LedgerEntry(route: "default", dedupKey: "abc", lastAction: action, lastActionAt: at ?? now, startsAt: startsAt ?? started, lastSeen: at ?? now)
    }

    @Test func firingNeverSeenTriggers() {
        let decision = decide(nil, .firing)
        #expect(decision.action == .trigger)
        #expect(decision.entry.lastAction == .trigger)
        #expect(decision.entry.startsAt == started)
        #expect(decision.entry.lastSeen == now)
    }

    @Test func firingAlreadyTriggeredCostsNoCall() {
        let decision = decide(entry(.trigger, at: now.addingTimeInterval(-60)), .firing)
        #expect(decision.action == nil)
        #expect(decision.entry.lastSeen == now, "a sighting refreshes last seen")
        #expect(decision.entry.lastActionAt == now.addingTimeInterval(-60), "no call keeps the last action time")
    }

    @Test func aStartTimeReadBackToTheMicrosecondIsTheSameOccurrence() {
        // Alertmanager wrote nanoseconds; PostgreSQL kept the nearest microsecond.
        let sighted = Date(timeIntervalSince1970: 1_799_990_000.123_456_789)
        let stored = Date(timeIntervalSince1970: 1_799_990_000.123_457)
        let triggered = entry(.trigger, at: now.addingTimeInterval(-60), startsAt: stored)
        #expect(decide(triggered, .firing, startsAt: sighted).action == nil, "a repeated notification costs no call")
        let resolvedByWebhook = LedgerEntry(
            route: "default", dedupKey: "abc", lastAction: .resolve, lastActionAt: now.addingTimeInterval(-30),
            startsAt: stored, lastSeen: now.addingTimeInterval(-30))
        #expect(decide(resolvedByWebhook, .firing, startsAt: sighted).action == nil, "a late duplicate of the resolved occurrence")
        #expect(decide(triggered, .firing, startsAt: sighted.addingTimeInterval(30)).action == .trigger, "a new occurrence")
        #expect(decide(triggered, .resolved, startsAt: sighted).action == .resolve, "nor is its resolve older")
        // Rounded down instead.
        let roundedDown = entry(.trigger, at: now.addingTimeInterval(-60), startsAt: Date(timeIntervalSince1970: 1_799_990_000.123_456))
        #expect(decide(roundedDown, .firing, startsAt: Date(timeIntervalSince1970: 1_799_990_000.123_456_4)).action == nil)
    }

    @Test func firingTriggersAgainAfterTheRetriggerInterval() {
        let justBefore = decide(entry(.trigger, at: now.addingTimeInterval(-4 * 3600 + 1)), .firing)
        #expect(justBefore.action == nil)
        let after = decide(entry(.trigger, at: now.addingTimeInterval(-4 * 3600)), .firing)
        #expect(after.action == .trigger)
        #expect(after.entry.lastActionAt == now)
    }

    @Test func retriggerCanBeDisabled() {
        let decision = LedgerRules.decide(
            existing: entry(.trigger, at: now.addingTimeInterval(-100 * 3600)), route: "default", dedupKey: "abc",
            status: .firing, startsAt: started, now: now, policy: LedgerPolicy(retriggerInterval: nil)
        )
        #expect(decision.action == nil)
    }

    @Test func resolvedAfterTriggerResolvesOnce() {
        let first = decide(entry(.trigger, at: now.addingTimeInterval(-60)), .resolved)
        #expect(first.action == .resolve)
        let second = decide(first.entry, .resolved, at: now.addingTimeInterval(30))
        #expect(second.action == nil)
    }

    @Test func resolvedNeverSeenStillResolves() {
        let decision = decide(nil, .resolved)
        #expect(decision.action == .resolve)
        #expect(decision.entry.lastAction == .resolve)
    }

    @Test func lateFiringDuplicateOfAResolvedOccurrenceIsIgnored() {
        let resolved = entry(.resolve, at: now.addingTimeInterval(-5), startsAt: started)
        #expect(decide(resolved, .firing, startsAt: started).action == nil)
    }

    @Test func newOccurrenceAfterResolveTriggers() {
        let resolved = entry(.resolve, at: now.addingTimeInterval(-5), startsAt: started)
        let decision = decide(resolved, .firing, startsAt: started.addingTimeInterval(600))
        #expect(decision.action == .trigger)
        #expect(decision.entry.startsAt == started.addingTimeInterval(600))
    }

    @Test func staleResolveOfAnOlderOccurrenceIsIgnored() {
        let triggered = entry(.trigger, at: now.addingTimeInterval(-5), startsAt: started.addingTimeInterval(600))
        #expect(decide(triggered, .resolved, startsAt: started).action == nil)
    }

    @Test func newerOccurrenceWhileTriggeredTriggersAgain() {
        let triggered = entry(.trigger, at: now.addingTimeInterval(-5), startsAt: started)
        #expect(decide(triggered, .firing, startsAt: started.addingTimeInterval(60)).action == .trigger)
    }

    @Test func cacheExpiresBySighting() {
        let cache = LedgerCache()
        cache.apply([
            LedgerEntry(route: "r", dedupKey: "old", lastAction: .trigger, lastActionAt: now, startsAt: nil, lastSeen: now.addingTimeInterval(-100)),
            LedgerEntry(route: "r", dedupKey: "new", lastAction: .trigger, lastActionAt: now, startsAt: nil, lastSeen: now),
        ])
        #expect(cache.expire(seenBefore: now.addingTimeInterval(-50)) == 1)
        #expect(cache.entry(for: LedgerKey(route: "r", dedupKey: "old")) == nil)
        #expect(cache.entry(for: LedgerKey(route: "r", dedupKey: "new")) != nil)
        #expect(cache.count == 1)
    }
}

@Suite("Severity mapping", .timeLimit(.minutes(2)))
struct SeverityMappingTests {
    @Test(arguments: [
        ("critical", Severity.critical), ("CRIT", .critical), ("page", .critical), (" P1 ", .critical),
        ("error", .error), ("high", .error), ("major", .error),
        ("warning", .warning), ("warn", .warning), ("medium", .warning),
        ("info", .info), ("noise", .info), ("low", .info), ("none", .info),
    ])
    func aliasesMap(value: String, expected: Severity) {
        #expect(SeverityMapping().severity(for: ["severity": value]) == expected)
    }

    @Test func unknownAndMissingValuesGetTheDefault() {
        let mapping = SeverityMapping(defaultSeverity: .warning)
        #expect(mapping.severity(for: ["severity": "catastrophic-ish"]) == .warning)
        #expect(mapping.severity(for: [:]) == .warning)
        #expect(SeverityMapping().severity(for: [:]) == .error)
    }

    @Test func extraAliasesWinOverBuiltInOnes() {
        let mapping = SeverityMapping(extraAliases: ["page": .warning, "Sev0": .critical])
        #expect(mapping.severity(for: ["severity": "page"]) == .warning)
        #expect(mapping.severity(for: ["severity": "sev0"]) == .critical)
    }

    @Test func everyOutcomeIsAValidPagerDutySeverity() {
        let mapping = SeverityMapping()
        for value in ["", "x", "CRITICAL", "💥", "info ", "sev-2"] {
            #expect(Severity.allCases.contains(mapping.severity(forValue: value)))
        }
    }
}
