import Testing

@Test func publisherReceiverBuilds() {
    #expect(Bool(true))
}
