/// Asks every configured Alertmanager at once and puts each answer at its source's position.
///
/// A child task hands its answer back as an ``IndexedAnswer`` (a struct), never as an `(Int, Result)` tuple built
/// around a `try await`: Swift 6.3.1's optimizer miscompiles that tuple in release builds, and the answer comes
/// back with another source's index (an out-of-range index traps; a repeated one leaves a source unanswered).
/// `Tests/ReleaseCanary` keeps both the reproduction and a check of this function in the release configuration.
public enum AlertmanagerReads {
    /// One source's answer and the position of that source.
    struct IndexedAnswer: Sendable {
        let index: Int
        let answer: Result<[ObservedAlert], any Error>
    }

    /// The answer of each source, in the order of `sources`: its alerts, or the error it failed with.
    public static func readEach(_ sources: [any AlertmanagerObserving]) async -> [Result<[ObservedAlert], any Error>] {
        await withTaskGroup(of: IndexedAnswer.self) { group in
            for (index, source) in sources.enumerated() {
                group.addTask {
                    let answer: Result<[ObservedAlert], any Error>
                    do {
                        let alerts = try await source.currentAlerts()
                        answer = .success(alerts)
                    } catch {
                        answer = .failure(error)
                    }
                    return IndexedAnswer(index: index, answer: answer)
                }
            }
            var answers = [Result<[ObservedAlert], any Error>?](repeating: nil, count: sources.count)
            for await reply in group { answers[reply.index] = reply.answer }
            return answers.map { $0 ?? .failure(CancellationError()) }
        }
    }
}
