import Testing

@Test func publisherSQLiteBuilds() {
    #expect(Bool(true))
}
