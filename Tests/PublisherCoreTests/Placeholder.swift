import Testing

@Test func publisherCoreBuilds() {
    #expect(Bool(true))
}
