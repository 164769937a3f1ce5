import Testing

@Test func pagerDutyEventsBuilds() {
    #expect(Bool(true))
}
