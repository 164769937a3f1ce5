import Testing

@Test func alertmanagerModelsBuilds() {
    #expect(Bool(true))
}
