/// Stops the process when a property of the code under test does not hold, so libFuzzer records the input as a
/// crash (`crash-<sha1>` artifact) just as it does for a trap inside the code itself.
enum PropertyCheck {
    /// Traps with `message` when `condition` is false.
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition {
            fatalError("fuzz property violated: \(message())")
        }
    }
}
